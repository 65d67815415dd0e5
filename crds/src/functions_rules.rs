//! What admission requires of `spec.components.functions` while it is enabled, as pure
//! findings that the webhook words as denials and the reconciler as its refusal: the code
//! is named exactly once, by valid names, and the object names fit (`<project>-functions`
//! is the longest derived name, so it is checked only for projects that enable it: a
//! stored project with a name at the old limit stays valid).

use crate::catalog::Component;
use crate::names;
use crate::project::SupabaseProjectSpec;

const FIELD: &str = "spec.components.functions";

/// One thing wrong, by field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    /// The field, as Kubernetes names it.
    pub field: String,
    /// The value refused; `None` for a missing value.
    pub value: Option<String>,
    /// Why.
    pub detail: String,
}

fn invalid(field: String, value: &str, detail: &str) -> Finding {
    Finding { field, value: Some(value.to_string()), detail: detail.to_string() }
}

/// Kubernetes' DNS-1123 subdomain (the names of ConfigMaps and claims).
pub fn is_dns1123_subdomain(s: &str) -> bool {
    let label = |l: &str| {
        let b = l.as_bytes();
        !b.is_empty()
            && b[0].is_ascii_alphanumeric()
            && b[b.len() - 1].is_ascii_alphanumeric()
            && b.iter().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
    };
    !s.is_empty() && s.len() <= 253 && s.split('.').all(label)
}

/// A ConfigMap key: `[-._a-zA-Z0-9]+`, at most 253 characters (k8s.io/apimachinery
/// validation.IsConfigMapKey).
fn is_config_map_key(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.bytes().all(|c| c.is_ascii_alphanumeric() || b"-._".contains(&c))
        && s != "."
        && s != ".."
}

/// A path inside the mount: relative, no `..` element (what the apiserver requires of a
/// `KeyToPath`'s path), no empty element.
fn is_relative_path(s: &str) -> bool {
    !s.is_empty() && !s.starts_with('/') && s.split('/').all(|e| !e.is_empty() && e != "..")
}

const SUBDOMAIN: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or \
                         '.', and must start and end with an alphanumeric character";

/// The findings for a project named `project` with `spec`; empty while Functions is disabled.
pub fn check(project: &str, spec: &SupabaseProjectSpec) -> Vec<Finding> {
    let mut out = Vec::new();
    if !spec.enabled(Component::Functions) {
        return out;
    }
    let object = names::component(project, Component::Functions);
    if object.len() > names::MAX_LABEL {
        out.push(invalid(
            "metadata.name".into(),
            project,
            &format!(
                "must be no more than {} characters with Edge Functions enabled, so that {object:?} fits in {}",
                names::MAX_LABEL - (object.len() - project.len()),
                names::MAX_LABEL
            ),
        ));
    }
    let code = spec.components.as_ref().and_then(|c| c.functions.as_ref()).and_then(|f| f.code.as_ref());
    let Some(code) = code else {
        out.push(Finding {
            field: format!("{FIELD}.code"),
            value: None,
            detail: "Edge Functions need their code: set configMap or claimName".into(),
        });
        return out;
    };
    match (&code.config_map, &code.claim_name) {
        (None, None) => out.push(Finding {
            field: format!("{FIELD}.code"),
            value: None,
            detail: "set one of configMap or claimName".into(),
        }),
        (Some(_), Some(_)) => out.push(Finding {
            field: format!("{FIELD}.code"),
            value: Some("configMap and claimName".into()),
            detail: "set only one of configMap or claimName".into(),
        }),
        _ => {}
    }
    if let Some(cm) = &code.config_map {
        if !is_dns1123_subdomain(&cm.name) {
            out.push(invalid(format!("{FIELD}.code.configMap.name"), &cm.name, SUBDOMAIN));
        }
        if cm.items.is_empty() {
            out.push(Finding {
                field: format!("{FIELD}.code.configMap.items"),
                value: None,
                detail: "list each key and its path, e.g. {key: hello.ts, path: hello/index.ts}".into(),
            });
        }
        for (i, item) in cm.items.iter().enumerate() {
            if !is_config_map_key(&item.key) {
                out.push(invalid(
                    format!("{FIELD}.code.configMap.items[{i}].key"),
                    &item.key,
                    "a valid config key must consist of alphanumeric characters, '-', '_' or '.'",
                ));
            }
            if !is_relative_path(&item.path) {
                out.push(invalid(
                    format!("{FIELD}.code.configMap.items[{i}].path"),
                    &item.path,
                    "must be a relative path without '..' or empty elements",
                ));
            }
        }
    }
    if let Some(claim) = &code.claim_name
        && !is_dns1123_subdomain(claim)
    {
        out.push(invalid(format!("{FIELD}.code.claimName"), claim, SUBDOMAIN));
    }
    out
}

/// The ConfigMap whose data the runtime's pods follow, while Functions is enabled.
pub fn code_config_map(spec: &SupabaseProjectSpec) -> Option<&str> {
    if !spec.enabled(Component::Functions) {
        return None;
    }
    let f = spec.components.as_ref()?.functions.as_ref()?;
    f.code.as_ref()?.config_map.as_ref().map(|c| c.name.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(functions: &str) -> SupabaseProjectSpec {
        let yaml = format!(
            "apiExternalUrl: https://api.example.com\ndatabase: {{secretRef: {{name: db}}}}\n\
             components: {{functions: {functions}}}\n"
        );
        crate::defaults(serde_yaml::from_str(&yaml).expect("spec"))
    }

    fn fields(project: &str, functions: &str) -> Vec<String> {
        check(project, &spec(functions)).into_iter().map(|f| f.field).collect()
    }

    #[test]
    fn disabled_functions_need_nothing() {
        assert!(fields("demo", "{}").is_empty());
        assert!(fields(&"a".repeat(54), "{code: {claimName: 'Bad Name'}}").is_empty());
        assert_eq!(code_config_map(&spec("{code: {configMap: {name: fns, items: []}}}")), None);
    }

    #[test]
    fn enabled_functions_need_their_code_named_once_by_valid_names() {
        assert_eq!(fields("demo", "{enabled: true}"), ["spec.components.functions.code"]);
        assert_eq!(fields("demo", "{enabled: true, code: {}}"), ["spec.components.functions.code"]);
        let both =
            "{enabled: true, code: {claimName: fns, configMap: {name: fns, items: [{key: a.ts, path: a/index.ts}]}}}";
        assert_eq!(fields("demo", both), ["spec.components.functions.code"]);
        assert!(fields("demo", "{enabled: true, code: {claimName: fns}}").is_empty());
        assert_eq!(
            fields("demo", "{enabled: true, code: {claimName: Fns}}"),
            ["spec.components.functions.code.claimName"]
        );
        let good = "{enabled: true, code: {configMap: {name: fns, items: [{key: hello.ts, path: hello/index.ts}]}}}";
        assert!(fields("demo", good).is_empty());
        assert_eq!(code_config_map(&spec(good)), Some("fns"));
        assert_eq!(
            fields("demo", "{enabled: true, code: {configMap: {name: fns, items: []}}}"),
            ["spec.components.functions.code.configMap.items"]
        );
        let bad = "{enabled: true, code: {configMap: {name: 'f_s', items: [{key: 'a/b', path: '../x'}, {key: ok, path: '/abs'}]}}}";
        assert_eq!(
            fields("demo", bad),
            [
                "spec.components.functions.code.configMap.name",
                "spec.components.functions.code.configMap.items[0].key",
                "spec.components.functions.code.configMap.items[0].path",
                "spec.components.functions.code.configMap.items[1].path",
            ]
        );
    }

    #[test]
    fn the_project_name_must_leave_room_for_the_functions_objects_only_when_enabled() {
        let on = "{enabled: true, code: {claimName: fns}}";
        assert!(fields(&"a".repeat(53), on).is_empty());
        assert_eq!(fields(&"a".repeat(54), on), ["metadata.name"]);
        let f = check(&"a".repeat(54), &spec(on));
        assert!(f[0].detail.starts_with("must be no more than 53 characters"), "{}", f[0].detail);
    }
}
