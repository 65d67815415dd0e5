//! How this process names a project in its per-project books (the memo of its own
//! writes, the failure counts behind the backoff): `namespace/name`. A module of its
//! own because the controller, the reconcile and the writers all key by it, and none
//! of them should reach into another for it.

use crds::SupabaseProject;
use kube::ResourceExt;
use kube::runtime::reflector::{Lookup, ObjectRef};

/// The key of a project.
pub fn of(project: &SupabaseProject) -> String {
    join(ResourceExt::namespace(project).as_deref(), &project.name_any())
}

/// The key of a project known only by reference (one deleted before its reconcile).
pub fn of_ref<K: Lookup + ?Sized>(reference: &ObjectRef<K>) -> String {
    join(reference.namespace.as_deref(), &reference.name)
}

fn join(namespace: Option<&str>, name: &str) -> String {
    format!("{}/{name}", namespace.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_project_and_its_reference_have_the_same_key() {
        let mut p = SupabaseProject::new("demo", Default::default());
        p.metadata.namespace = Some("team-a".into());
        assert_eq!(of(&p), "team-a/demo");
        assert_eq!(of_ref(&ObjectRef::from_obj(&p)), of(&p));
    }
}
