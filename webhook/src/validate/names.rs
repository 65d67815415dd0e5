//! Rule 1: the project name and every name derived from it fit Kubernetes' limits.
//! Derived names become Service names, so the project name must be a DNS-1035 label.
//! The length rule is `crds::rules::name_length`, which the reconciler checks again.

use crds::{names, rules};

use super::Input;
use super::field::{Cause, Rule, quoted};

/// Kubernetes' DNS-1035 label check.
pub fn is_dns1035_label(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b[0].is_ascii_lowercase()
        && b.iter().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && b[b.len() - 1] != b'-'
}

pub(super) fn check(input: &Input<'_>, causes: &mut Vec<Cause>) {
    let (field, name) =
        if input.generated_name { ("metadata.generateName", input.name) } else { ("metadata.name", input.name) };
    if input.generated_name {
        // The apiserver appends five characters.
        let prefix_ok = name.is_empty() || is_dns1035_label(&format!("{name}a"));
        if !prefix_ok {
            causes.push(Cause::invalid(Rule::Names, field, quoted(name), dns1035_message()));
        }
        let max = names::max_project_name_len().saturating_sub(5);
        if name.len() > max {
            causes.push(Cause::invalid(
                Rule::Names,
                field,
                quoted(name),
                format!("must be no more than {max} characters, so that generated names and the names derived from them fit in {} characters", names::MAX_LABEL),
            ));
        }
        return;
    }
    if !is_dns1035_label(name) {
        causes.push(Cause::invalid(Rule::Names, field, quoted(name), dns1035_message()));
    }
    if let Err(too_long) = rules::name_length(name) {
        causes.push(Cause::invalid(
            Rule::Names,
            field,
            quoted(name),
            format!(
                "must be no more than {} characters, so that every derived name fits in {} (e.g. {} has {})",
                too_long.max,
                names::MAX_LABEL,
                quoted(&too_long.longest),
                too_long.longest.len()
            ),
        ));
    }
}

fn dns1035_message() -> &'static str {
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic \
     character, and end with an alphanumeric character (e.g. 'my-name', or 'abc-123', regex used for validation \
     is '[a-z]([-a-z0-9]*[a-z0-9])?')"
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::Case;

    #[test]
    fn a_short_label_is_fine() {
        assert_eq!(Case::valid().fields(), Vec::<String>::new());
    }

    #[test]
    fn names_that_break_services_or_derived_limits_are_refused() {
        for bad in ["1abc", "a.b", "Abc", "abc-", &"a".repeat(60)] {
            let mut case = Case::valid();
            case.name = bad.to_string();
            assert_eq!(case.fields(), ["metadata.name"], "{bad}");
        }
        let mut case = Case::valid();
        case.name = "a".repeat(crds::names::max_project_name_len());
        assert!(case.fields().is_empty());
    }

    #[test]
    fn generate_name_prefixes_leave_room_for_the_suffix() {
        let mut case = Case::valid();
        case.generated_name = true;
        case.name = "demo-".into();
        assert!(case.fields().is_empty());
        case.name = "a".repeat(crds::names::max_project_name_len() - 2);
        assert_eq!(case.fields(), ["metadata.generateName"]);
    }
}
