//! Rule 3 for `spec.components.<name>.autoscaling`: what a HorizontalPodAutoscaler
//! cannot do, refused at apply time rather than left to fail in the autoscaler.
//!
//! - `minReplicas` at least 1 (autoscaling/v2 refuses 0 unless the cluster enables the
//!   alpha `HPAScaleToZero` gate), `maxReplicas` at least `minReplicas` and within the
//!   policy's `maxReplicas`, like `replicas`;
//! - at least one target, each between 1 and 100 percent of the pods' requests;
//! - not beside `replicas` (the defaulting webhook removes `replicas` when `autoscaling`
//!   is set, so this is met only where the mutating webhook did not run);
//! - not on Storage where it must stay single (see `workloads::single_storage`).
//!
//! Warning: Studio with more than one pod keeps saved SQL snippets in each pod's own
//! emptyDir (`reconciler/src/workloads/studio.rs`), so a snippet saved through one pod
//! is missing from the others. It works otherwise, and stored projects may already run
//! Studio with `replicas` above 1, so this is no refusal. postgres-meta holds nothing of
//! its own (its crypto key comes from a Secret all pods share) and Realtime's pods form
//! one Erlang cluster (`realtime.rs`): both may scale.

use crds::scaling::AutoscalingSpec;
use crds::{CATALOG, Component};

use super::Input;
use super::field::{Cause, Rule};
use super::workloads::single_storage;

pub(super) fn check(input: &Input<'_>, causes: &mut Vec<Cause>, warnings: &mut Vec<String>) {
    let Some(components) = &input.spec.components else { return };
    for entry in &CATALOG {
        let Some(w) = components.workload(entry.component) else { continue };
        let base = format!("spec.components.{}", entry.name);
        if let Some(a) = &w.autoscaling {
            if w.replicas.is_some() {
                causes.push(Cause::forbidden(
                    Rule::Workloads,
                    format!("{base}.replicas"),
                    "may not be set together with autoscaling: the autoscaler sets the number of pods",
                ));
            }
            bounds(a, &base, input.policy.max_replicas, causes);
            if entry.component == Component::Storage
                && let Some(why) = single_storage(input.spec)
            {
                causes.push(Cause::forbidden(
                    Rule::Workloads,
                    format!("{base}.autoscaling"),
                    format!("Storage must run a single pod {why}"),
                ));
            }
        }
        let several = w.autoscaling.as_ref().map_or(w.replicas.unwrap_or(1) > 1, |a| a.max_replicas > 1);
        if entry.component == Component::Studio && input.spec.enabled(Component::Studio) && several {
            warnings.push(format!(
                "{base}: more than one Studio pod: each keeps saved SQL snippets in its own emptyDir, so a snippet \
                 saved through one pod is missing from the others"
            ));
        }
    }
}

fn bounds(a: &AutoscalingSpec, base: &str, policy_max: i32, causes: &mut Vec<Cause>) {
    let field = |f: &str| format!("{base}.autoscaling.{f}");
    if a.min_replicas < 1 {
        causes.push(Cause::invalid(
            Rule::Workloads,
            field("minReplicas"),
            a.min_replicas.to_string(),
            "must be greater than or equal to 1",
        ));
    }
    if a.max_replicas < a.min_replicas {
        causes.push(Cause::invalid(
            Rule::Workloads,
            field("maxReplicas"),
            a.max_replicas.to_string(),
            format!("must be greater than or equal to minReplicas ({})", a.min_replicas),
        ));
    } else if a.max_replicas > policy_max {
        causes.push(Cause::invalid(
            Rule::Workloads,
            field("maxReplicas"),
            a.max_replicas.to_string(),
            format!("must be at most {policy_max}"),
        ));
    }
    let targets = [
        ("targetCPUUtilizationPercentage", a.target_cpu_utilization_percentage),
        ("targetMemoryUtilizationPercentage", a.target_memory_utilization_percentage),
    ];
    for (name, value) in targets {
        if let Some(v) = value
            && !(1..=100).contains(&v)
        {
            causes.push(Cause::invalid(Rule::Workloads, field(name), v.to_string(), "must be between 1 and 100"));
        }
    }
    if targets.iter().all(|(_, v)| v.is_none()) {
        causes.push(Cause::required(
            Rule::Workloads,
            format!("{base}.autoscaling"),
            "targetCPUUtilizationPercentage or targetMemoryUtilizationPercentage",
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::Case;
    use crds::project::{StorageBackend, StorageVolumeSpec, VolumeAccessMode, WorkloadSpec};
    use crds::scaling::AutoscalingSpec;
    use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

    fn scaler(min: i32, max: i32, cpu: Option<i32>, memory: Option<i32>) -> AutoscalingSpec {
        AutoscalingSpec {
            min_replicas: min,
            max_replicas: max,
            target_cpu_utilization_percentage: cpu,
            target_memory_utilization_percentage: memory,
        }
    }

    fn on(case: Case, component: &str, f: impl FnOnce(&mut WorkloadSpec)) -> Case {
        let c = crds::Component::from_name(component).unwrap();
        case.with(|s| f(s.workload_mut(c).unwrap()))
    }

    fn kong(a: AutoscalingSpec) -> Case {
        on(Case::valid(), "kong", |w| {
            w.replicas = None;
            w.autoscaling = Some(a);
        })
    }

    #[test]
    fn a_sound_autoscaler_passes() {
        assert!(kong(scaler(2, 5, Some(70), None)).fields().is_empty());
        assert!(kong(scaler(1, 1, None, Some(80))).fields().is_empty());
        assert!(kong(scaler(2, 10, Some(1), Some(100))).fields().is_empty(), "bounds are inclusive");
    }

    #[test]
    fn bounds_are_refused_naming_the_field() {
        assert_eq!(
            kong(scaler(0, 3, Some(70), None)).messages(),
            "spec.components.kong.autoscaling.minReplicas: Invalid value: 0: must be greater than or equal to 1"
        );
        assert_eq!(
            kong(scaler(4, 3, Some(70), None)).messages(),
            "spec.components.kong.autoscaling.maxReplicas: Invalid value: 3: must be greater than or equal to \
             minReplicas (4)"
        );
        assert_eq!(
            kong(scaler(2, 11, Some(70), None)).messages(),
            "spec.components.kong.autoscaling.maxReplicas: Invalid value: 11: must be at most 10"
        );
        let mut case = kong(scaler(2, 5, Some(70), None));
        case.policy.max_replicas = 4;
        assert_eq!(case.fields(), ["spec.components.kong.autoscaling.maxReplicas"]);
    }

    #[test]
    fn targets_are_percentages_and_one_is_required() {
        assert_eq!(
            kong(scaler(1, 3, Some(0), Some(101))).messages(),
            "spec.components.kong.autoscaling.targetCPUUtilizationPercentage: Invalid value: 0: must be between 1 \
             and 100; spec.components.kong.autoscaling.targetMemoryUtilizationPercentage: Invalid value: 101: must \
             be between 1 and 100"
        );
        assert_eq!(
            kong(scaler(1, 3, None, None)).messages(),
            "spec.components.kong.autoscaling: Required value: targetCPUUtilizationPercentage or \
             targetMemoryUtilizationPercentage"
        );
    }

    #[test]
    fn replicas_beside_an_autoscaler_are_refused() {
        let case = on(Case::valid(), "auth", |w| {
            w.replicas = Some(3);
            w.autoscaling = Some(scaler(2, 4, Some(60), None));
        });
        assert_eq!(
            case.messages(),
            "spec.components.auth.replicas: Forbidden: may not be set together with autoscaling: the autoscaler \
             sets the number of pods"
        );
        // What the mutating webhook sends on: defaulting removed replicas.
        assert!(Case { spec: crds::defaults(case.spec.clone()), ..case }.fields().is_empty());
    }

    fn storage(modes: Option<Vec<VolumeAccessMode>>, backend: StorageBackend) -> Case {
        on(
            Case::valid().with(|s| {
                let st = s.storage.as_mut().unwrap();
                st.backend = Some(backend);
                st.volume = modes.map(|m| StorageVolumeSpec {
                    size: Some(Quantity("1Gi".into())),
                    access_modes: Some(m),
                    ..Default::default()
                });
            }),
            "storage",
            |w| {
                w.replicas = None;
                w.autoscaling = Some(scaler(1, 3, Some(70), None));
            },
        )
    }

    #[test]
    fn storage_autoscales_only_where_it_may_run_several_pods() {
        let rwo = storage(Some(vec![VolumeAccessMode::ReadWriteOnce]), StorageBackend::File).messages();
        assert!(
            rwo.starts_with(
                "spec.components.storage.autoscaling: Forbidden: Storage must run a single pod with a ReadWriteOnce"
            ),
            "{rwo}"
        );
        assert_eq!(storage(None, StorageBackend::File).fields(), ["spec.components.storage.autoscaling"]);
        assert!(storage(Some(vec![VolumeAccessMode::ReadWriteMany]), StorageBackend::File).fields().is_empty());
        assert!(storage(Some(vec![VolumeAccessMode::ReadWriteOnce]), StorageBackend::S3).fields().is_empty());
    }

    #[test]
    fn several_studio_pods_are_allowed_with_a_warning() {
        let enabled =
            |case: Case| case.with(|s| s.components.as_mut().unwrap().studio.as_mut().unwrap().enabled = Some(true));
        let warned =
            |case: &Case| case.run().warnings.iter().any(|w| w.starts_with("spec.components.studio: more than one"));
        let scaled = enabled(on(Case::valid(), "studio", |w| {
            w.replicas = None;
            w.autoscaling = Some(scaler(1, 2, Some(70), None));
        }));
        assert!(scaled.fields().is_empty());
        assert!(warned(&scaled));
        let two = enabled(on(Case::valid(), "studio", |w| w.replicas = Some(2)));
        assert!(warned(&two));
        let one = enabled(on(Case::valid(), "studio", |w| w.replicas = Some(1)));
        assert!(!warned(&one));
    }
}
