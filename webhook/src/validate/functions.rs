//! Edge Functions' settings (`crds::functions_rules`, which the reconciler checks again):
//! while enabled, the code is named exactly once, by valid names, and the project's name
//! leaves room for `<name>-functions`. Whether the named ConfigMap exists is not checked
//! here (the webhook reads no ConfigMaps): the runtime's pods wait for it, and its creation
//! rolls them.

use super::Input;
use super::field::{Cause, Rule, quoted};

pub(super) fn check(input: &Input<'_>, causes: &mut Vec<Cause>) {
    for f in crds::functions_rules::check(input.name, input.spec) {
        let rule = if f.field == "metadata.name" { Rule::Names } else { Rule::Workloads };
        causes.push(match f.value {
            Some(v) => Cause::invalid(rule, f.field, quoted(&v), f.detail),
            None => Cause::required(rule, f.field, f.detail),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::Case;

    #[test]
    fn enabled_functions_without_code_are_refused_by_field() {
        let mut case = Case::valid();
        case.spec.components.get_or_insert_with(Default::default).functions =
            Some(serde_json::from_value(serde_json::json!({"enabled": true})).unwrap());
        assert_eq!(case.fields(), ["spec.components.functions.code"]);
        case.spec.components.as_mut().unwrap().functions =
            Some(serde_json::from_value(serde_json::json!({"enabled": true, "code": {"claimName": "fns"}})).unwrap());
        assert_eq!(case.fields(), Vec::<String>::new());
    }
}
