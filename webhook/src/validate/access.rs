//! Rule 11: the requester may `get` every Secret the project references, so nobody can
//! have the operator mount a Secret they could not read themselves.

use std::collections::BTreeSet;

use crds::refs::KeyRef;
use crds::rules::name_field;

use super::field::{Cause, Rule};
use super::{Access, Input};

pub(super) fn check(input: &Input<'_>, refs: &[KeyRef], causes: &mut Vec<Cause>) {
    let mut reported = BTreeSet::new();
    for r in refs {
        let Some(access) = input.access.get(&r.secret) else { continue };
        if !reported.insert(r.secret.as_str()) {
            continue;
        }
        // Only a problem needs the field's name.
        let field = || name_field(r.path);
        match access {
            Access::Allowed => {}
            Access::Denied(reason) => {
                let why = if reason.is_empty() { String::new() } else { format!(" ({reason})") };
                causes.push(Cause::forbidden(
                    Rule::Access,
                    field(),
                    format!(
                        "user {:?} cannot get Secret {:?} in namespace {:?}{why}; a project may only reference Secrets \
                         its author can read",
                        input.user, r.secret, input.namespace
                    ),
                ));
            }
            Access::Unknown(reason) => causes.push(Cause::unavailable(
                Rule::Access,
                field(),
                format!(
                    "could not check whether user {:?} may get Secret {:?} ({reason}); the check was not done and is \
                     worth retrying",
                    input.user, r.secret
                ),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::Access;
    use super::super::fixtures::Case;

    #[test]
    fn allowed_secrets_pass_and_each_denied_one_is_named_once() {
        let mut case = Case::valid();
        for s in case.secrets.keys().cloned().collect::<Vec<_>>() {
            case.access.insert(s, Access::Allowed);
        }
        assert!(case.fields().is_empty());
        case.access.insert("jwt".into(), Access::Denied(String::new()));
        assert_eq!(case.fields(), ["spec.jwt.secretRef.name"]);
        assert!(case.messages().contains(r#"user "alice" cannot get Secret "jwt""#), "{}", case.messages());
        case.access.insert("db".into(), Access::Unknown("timeout".into()));
        assert_eq!(case.fields(), ["spec.database.secretRef.name", "spec.jwt.secretRef.name"]);
        assert!(case.run().unavailable());
    }
}
