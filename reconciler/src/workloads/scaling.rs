//! A component's PodDisruptionBudget and HorizontalPodAutoscaler.
//!
//! Upstream's self-hosted Supabase is one docker-compose host and has neither; the
//! community Helm chart renders an autoscaler per component and no disruption budget
//! (supabase-community/supabase-kubernetes `charts/supabase/templates/kong/autoscaling.yaml`
//! @b085cbe1a04b3f7dad09c173ef44b4a27744781d: `scaleTargetRef` the component's Deployment,
//! `minReplicas`, `maxReplicas`, `Resource` metrics). The budget follows Strimzi, which gives
//! every Deployment it runs one with `maxUnavailable: 1` by default (Strimzi API reference,
//! `PodDisruptionBudgetTemplate`): a drain evicts one pod at a time. `maxUnavailable`
//! rather than `minAvailable` because it stays right whatever number of pods the
//! autoscaler or the user picks (a `minAvailable` would have to follow every scale), and a
//! budget exists only from two pods on: with one, `maxUnavailable: 1` would allow the
//! only pod's eviction anyway, and anything stricter would block node drains forever.

use crds::Component;
use k8s_openapi::api::autoscaling::v2::{
    CrossVersionObjectReference, HorizontalPodAutoscalerSpec, MetricSpec, MetricTarget, ResourceMetricSource,
};
use k8s_openapi::api::policy::v1::PodDisruptionBudgetSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::Ctx;
use crate::scaling_api::{Hpa, Pdb};

/// The component's disruption budget: from two pods on (fixed, or the autoscaler's minimum).
pub(super) fn disruption_budget(ctx: &Ctx<'_>, component: Component) -> Option<Pdb> {
    let workload = ctx.spec.workload(component);
    if workload.replicas < 2 {
        return None;
    }
    let name = component.entry().name;
    Some(Pdb {
        metadata: ctx.meta(ctx.object_name(component), name),
        spec: Some(PodDisruptionBudgetSpec {
            max_unavailable: Some(IntOrString::Int(1)),
            selector: Some(LabelSelector {
                match_labels: Some(crds::names::selector(&ctx.name, name)),
                match_expressions: None,
            }),
            ..Default::default()
        }),
    })
}

/// The component's autoscaler, when the spec has one.
pub(super) fn autoscaler(ctx: &Ctx<'_>, component: Component) -> Option<Hpa> {
    let a = ctx.spec.workload(component).autoscaling?;
    let resource = |name: &str, percent: Option<i32>| {
        percent.map(|p| MetricSpec {
            type_: "Resource".into(),
            resource: Some(ResourceMetricSource {
                name: name.into(),
                target: MetricTarget {
                    type_: "Utilization".into(),
                    average_utilization: Some(p),
                    ..Default::default()
                },
            }),
            ..Default::default()
        })
    };
    let metrics: Vec<MetricSpec> = [
        resource("cpu", a.target_cpu_utilization_percentage),
        resource("memory", a.target_memory_utilization_percentage),
    ]
    .into_iter()
    .flatten()
    .collect();
    let object = ctx.object_name(component);
    Some(Hpa {
        metadata: ctx.meta(object.clone(), component.entry().name),
        spec: Some(HorizontalPodAutoscalerSpec {
            scale_target_ref: CrossVersionObjectReference {
                api_version: Some("apps/v1".into()),
                kind: "Deployment".into(),
                name: object,
            },
            min_replicas: Some(a.min_replicas),
            max_replicas: a.max_replicas,
            metrics: Some(metrics),
            behavior: None,
        }),
    })
}
