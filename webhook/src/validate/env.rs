//! Rule 5: extra `env` entries have valid names, are not repeated, and do not override
//! a variable the operator sets (that would silently disconnect a component from its
//! database or keys). Which variables those are is the component's description in
//! `crds::catalog`, the same list the reconciler renders from.

use std::collections::BTreeSet;

use crds::{CATALOG, SupabaseProjectSpec};

use super::field::{Cause, Rule, quoted};

/// Kubernetes' environment variable name rule (`[-._a-zA-Z][-._a-zA-Z0-9]*`).
fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || "-._".contains(c))
        && chars.all(|c| c.is_ascii_alphanumeric() || "-._".contains(c))
}

pub(super) fn check(spec: &SupabaseProjectSpec, causes: &mut Vec<Cause>) {
    let Some(components) = &spec.components else { return };
    for entry in &CATALOG {
        let Some(env) = components.workload(entry.component).and_then(|w| w.env.as_ref()) else { continue };
        let mut seen = BTreeSet::new();
        for (i, var) in env.iter().enumerate() {
            let field = format!("spec.components.{}.env[{i}].name", entry.name);
            if !valid_name(&var.name) {
                causes.push(Cause::invalid(
                    Rule::Env,
                    &field,
                    quoted(&var.name),
                    "a valid environment variable name must consist of alphabetic characters, digits, '_', '-', or \
                     '.', and must not start with a digit",
                ));
            } else if entry.owns_env(&var.name) {
                causes.push(Cause::forbidden(
                    Rule::Env,
                    &field,
                    format!(
                        "{} is set by the operator for {}; configure it through the spec instead",
                        var.name, entry.name
                    ),
                ));
            } else if !seen.insert(var.name.as_str()) {
                causes.push(Cause::duplicate(Rule::Env, &field, quoted(&var.name)));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::Case;
    use k8s_openapi::api::core::v1::EnvVar;

    fn auth_env(names: &[&str]) -> Case {
        Case::valid().with(|s| {
            s.components.as_mut().unwrap().auth.as_mut().unwrap().workload.env =
                Some(names.iter().map(|n| EnvVar { name: n.to_string(), ..Default::default() }).collect());
        })
    }

    #[test]
    fn extra_variables_pass() {
        assert!(auth_env(&["GOTRUE_EXTERNAL_GITHUB_ENABLED", "my.var", "_X"]).fields().is_empty());
    }

    #[test]
    fn bad_repeated_and_managed_names_are_refused() {
        let case = auth_env(&["OK", "1BAD", "GOTRUE_JWT_SECRET", "OK", "has space"]);
        assert_eq!(
            case.fields(),
            [
                "spec.components.auth.env[1].name",
                "spec.components.auth.env[2].name",
                "spec.components.auth.env[3].name",
                "spec.components.auth.env[4].name"
            ]
        );
        assert!(case.messages().contains("GOTRUE_JWT_SECRET is set by the operator"), "{}", case.messages());
    }
}
