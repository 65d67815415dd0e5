//! Names and labels of the objects a project owns. The webhook checks that every
//! one of them fits Kubernetes' limits; the reconciler creates them.

use std::collections::BTreeMap;

use crate::catalog::{CATALOG, Component};

/// Longest DNS-1035 label (Service names) and DNS-1123 label.
pub const MAX_LABEL: usize = 63;

/// Name of a component's Deployment, Service and ConfigMap: `<project>-<component>`.
pub fn component(project: &str, component: Component) -> String {
    format!("{project}-{}", component.name())
}

/// The generated JWT Secret: `<project>-jwt`.
pub fn jwt_secret(project: &str) -> String {
    format!("{project}-jwt")
}

/// The generated Secret of Realtime's and postgres-meta's own keys.
pub fn internal_secret(project: &str) -> String {
    format!("{project}-internal")
}

/// The database initialization Job.
pub fn db_init_job(project: &str) -> String {
    format!("{project}-db-init")
}

/// Storage's volume claim (the `file` backend): `<project>-storage`, like Storage's
/// other objects, so `kubectl get pvc` shows whose it is. It may outlive the project.
pub fn storage_claim(project: &str) -> String {
    component(project, Component::Storage)
}

/// Every name derived from a project's name, so admission can check them all.
pub fn derived(project: &str) -> Vec<String> {
    // Edge Functions' names are checked only for projects that enable it (see
    // `functions_rules`): its suffix is the longest, and a stored project named at the
    // limit before it existed must stay valid.
    let mut names: Vec<String> = CATALOG
        .iter()
        .filter(|e| e.component != Component::Functions)
        .map(|e| component(project, e.component))
        .collect();
    // The storage claim's name is Storage's component name, listed already.
    names.extend([jwt_secret(project), internal_secret(project), db_init_job(project)]);
    names
}

/// The `app.kubernetes.io/*` labels of a component's objects.
pub fn labels(project: &str, component: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("app.kubernetes.io/name".to_string(), "supabase".to_string()),
        ("app.kubernetes.io/instance".to_string(), project.to_string()),
        ("app.kubernetes.io/component".to_string(), component.to_string()),
        ("app.kubernetes.io/managed-by".to_string(), crate::MANAGER.to_string()),
    ])
}

/// The labels that select a component's pods (a stable subset of `labels`).
pub fn selector(project: &str, component: &str) -> BTreeMap<String, String> {
    let mut l = labels(project, component);
    l.remove("app.kubernetes.io/managed-by");
    l
}

/// The longest project name whose derived names all fit in a DNS label.
pub fn max_project_name_len() -> usize {
    // Every review asks; the answer depends only on the catalog.
    static LEN: std::sync::LazyLock<usize> = std::sync::LazyLock::new(|| {
        let longest_suffix = derived("").iter().map(String::len).max().unwrap_or(0);
        MAX_LABEL - longest_suffix
    });
    *LEN
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn longest_allowed_name_fits_every_derived_name() {
        let name = "a".repeat(max_project_name_len());
        assert!(derived(&name).iter().all(|n| n.len() <= MAX_LABEL));
        let too_long = "a".repeat(max_project_name_len() + 1);
        assert!(derived(&too_long).iter().any(|n| n.len() > MAX_LABEL));
    }

    #[test]
    fn selector_is_a_subset_of_labels() {
        let l = labels("p", "kong");
        assert!(selector("p", "kong").iter().all(|(k, v)| l.get(k) == Some(v)));
    }
}
