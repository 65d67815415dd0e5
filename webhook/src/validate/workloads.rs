//! Rule 3: replicas within the policy's bound, resource quantities that parse, and
//! requests no larger than limits; with the policy's `requireResourceLimits`, limits set.

use crds::project::StorageBackend;
use crds::{CATALOG, Component, SupabaseProjectSpec};

use super::field::{Cause, Rule, quoted};
use crate::policy::Policy;

pub(super) fn check(spec: &SupabaseProjectSpec, policy: &Policy, causes: &mut Vec<Cause>) {
    let Some(components) = &spec.components else { return };
    let single_storage = single_storage(spec);
    for entry in &CATALOG {
        let Some(w) = components.workload(entry.component) else { continue };
        // Field paths are built only for a problem: most reviews have none.
        let base = entry.name;
        if let Some(replicas) = w.replicas {
            let field = || format!("spec.components.{base}.replicas");
            if replicas < 0 {
                causes.push(Cause::invalid(
                    Rule::Workloads,
                    field(),
                    replicas.to_string(),
                    "must be greater than or equal to 0",
                ));
            } else if replicas > policy.max_replicas {
                causes.push(Cause::invalid(
                    Rule::Workloads,
                    field(),
                    replicas.to_string(),
                    format!("must be at most {}", policy.max_replicas),
                ));
            } else if entry.component == Component::Storage
                && replicas > 1
                && let Some(why) = single_storage
            {
                causes.push(Cause::invalid(
                    Rule::Workloads,
                    field(),
                    replicas.to_string(),
                    format!("must be at most 1 {why}"),
                ));
            }
        }
        let resources = w.resources.as_ref();
        let limits = resources.and_then(|r| r.limits.as_ref());
        let requests = resources.and_then(|r| r.requests.as_ref());
        let parse = |kind: &str, name: &str, q: &str, causes: &mut Vec<Cause>| match crds::quantity::parse(q) {
            Ok(v) => Some(v),
            Err(_) => {
                causes.push(Cause::invalid(
                    Rule::Workloads,
                    format!("spec.components.{base}.resources.{kind}.{name}"),
                    quoted(q),
                    "must be a Kubernetes quantity such as 500m, 2 or 128Mi",
                ));
                None
            }
        };
        let mut parsed_limits = std::collections::BTreeMap::new();
        for (name, q) in limits.into_iter().flatten() {
            if let Some(v) = parse("limits", name, &q.0, causes) {
                parsed_limits.insert(name.as_str(), (v, q.0.as_str()));
            }
        }
        for (name, q) in requests.into_iter().flatten() {
            let Some(v) = parse("requests", name, &q.0, causes) else { continue };
            if let Some((limit, shown)) = parsed_limits.get(name.as_str())
                && v > *limit
            {
                causes.push(Cause::invalid(
                    Rule::Workloads,
                    format!("spec.components.{base}.resources.requests.{name}"),
                    quoted(&q.0),
                    format!("must be less than or equal to {name} limit of {shown}"),
                ));
            }
        }
        if policy.require_resource_limits && spec.enabled(entry.component) {
            for name in ["cpu", "memory"] {
                if !limits.is_some_and(|l| l.contains_key(name)) {
                    causes.push(Cause::required(
                        Rule::Policy,
                        format!("spec.components.{base}.resources.limits.{name}"),
                        format!("the platform policy requires a {name} limit on every component"),
                    ));
                }
            }
        }
    }
}

/// Why Storage must run a single pod, if it must: the `file` backend on a claim only
/// one node mounts, or on a per-pod emptyDir (a project stored before claims existed).
/// The replicas rule here and the autoscaling rule (`autoscaling`) both read it.
pub(super) fn single_storage(spec: &SupabaseProjectSpec) -> Option<&'static str> {
    let storage = spec.storage.as_ref();
    let file_backend = storage.and_then(|s| s.backend).unwrap_or(StorageBackend::File) == StorageBackend::File;
    let volume = storage.and_then(|s| s.volume.as_ref());
    // Pods on several nodes can share only a ReadWriteMany claim.
    let shared = volume
        .and_then(|v| v.access_modes.as_ref())
        .is_some_and(|m| m.contains(&crds::project::VolumeAccessMode::ReadWriteMany));
    match volume {
        _ if !file_backend || shared => None,
        Some(_) => Some(
            "with a ReadWriteOnce volume (spec.storage.volume.accessModes): one node mounts it; use ReadWriteMany \
             or the s3 backend to scale",
        ),
        None => Some(
            "with the file storage backend without spec.storage.volume (each pod would have an emptyDir of its \
             own); use a ReadWriteMany volume or s3 to scale",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::Case;
    use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

    fn kong(case: Case, f: impl FnOnce(&mut crds::project::WorkloadSpec)) -> Case {
        case.with(|s| f(&mut s.components.as_mut().unwrap().kong.as_mut().unwrap().workload))
    }

    #[test]
    fn replicas_are_bounded_by_the_policy() {
        let case = kong(Case::valid(), |w| w.replicas = Some(50));
        assert_eq!(case.messages(), "spec.components.kong.replicas: Invalid value: 50: must be at most 10");
        let mut case = kong(Case::valid(), |w| w.replicas = Some(4));
        assert!(case.fields().is_empty());
        case.policy.max_replicas = 3;
        assert_eq!(case.fields(), ["spec.components.kong.replicas"]);
        let case = kong(Case::valid(), |w| w.replicas = Some(-1));
        assert_eq!(case.fields(), ["spec.components.kong.replicas"]);
        let case = kong(Case::valid(), |w| w.replicas = Some(0));
        assert!(case.fields().is_empty(), "zero replicas is honoured");
    }

    #[test]
    fn file_storage_cannot_scale() {
        let case = Case::valid().with(|s| {
            s.storage.as_mut().unwrap().backend = Some(crds::project::StorageBackend::File);
            s.components.as_mut().unwrap().storage.as_mut().unwrap().workload.replicas = Some(2);
        });
        assert_eq!(case.fields(), ["spec.components.storage.replicas"]);
    }

    #[test]
    fn file_storage_scales_only_on_a_read_write_many_claim() {
        use crds::project::{StorageVolumeSpec, VolumeAccessMode};
        let with = |modes: Vec<VolumeAccessMode>| {
            Case::valid().with(|s| {
                let storage = s.storage.as_mut().unwrap();
                storage.backend = Some(crds::project::StorageBackend::File);
                storage.volume = Some(StorageVolumeSpec {
                    size: Some(Quantity("1Gi".into())),
                    access_modes: Some(modes),
                    ..Default::default()
                });
                s.components.as_mut().unwrap().storage.as_mut().unwrap().workload.replicas = Some(3);
            })
        };
        let rwo = with(vec![VolumeAccessMode::ReadWriteOnce]).messages();
        assert!(
            rwo.starts_with(
                "spec.components.storage.replicas: Invalid value: 3: must be at most 1 with a ReadWriteOnce"
            ),
            "{rwo}"
        );
        assert!(rwo.contains("spec.storage.volume.accessModes"), "{rwo}");
        assert!(with(vec![VolumeAccessMode::ReadWriteMany]).fields().is_empty());
        let mut one = with(vec![VolumeAccessMode::ReadWriteOnce]);
        one.spec.components.as_mut().unwrap().storage.as_mut().unwrap().workload.replicas = Some(1);
        assert!(one.fields().is_empty());
    }

    #[test]
    fn quantities_parse_and_requests_fit_limits() {
        let case = kong(Case::valid(), |w| {
            let r = w.resources.as_mut().unwrap();
            r.limits.as_mut().unwrap().insert("cpu".into(), Quantity("lots".into()));
            r.requests.as_mut().unwrap().insert("memory".into(), Quantity("3Gi".into()));
        });
        assert_eq!(
            case.messages(),
            "spec.components.kong.resources.limits.cpu: Invalid value: \"lots\": must be a Kubernetes quantity such as \
             500m, 2 or 128Mi; spec.components.kong.resources.requests.memory: Invalid value: \"3Gi\": must be less \
             than or equal to memory limit of 2.5Gi"
        );
    }

    #[test]
    fn policy_can_require_limits() {
        let mut case = kong(Case::valid(), |w| w.resources.as_mut().unwrap().limits = None);
        assert!(case.fields().is_empty());
        case.policy.require_resource_limits = true;
        assert_eq!(
            case.fields(),
            ["spec.components.kong.resources.limits.cpu", "spec.components.kong.resources.limits.memory"]
        );
    }
}
