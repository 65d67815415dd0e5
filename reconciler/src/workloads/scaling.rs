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

#[cfg(test)]
mod tests {
    use crds::Component;
    use serde_json::json;

    use super::super::fixtures;

    fn project(kong: serde_json::Value) -> crds::SupabaseProject {
        let spec = json!({"apiExternalUrl": "https://api.demo.example.com",
                          "database": {"secretRef": {"name": "demo-db"}}, "components": {"kong": kong}});
        fixtures::project(&serde_json::to_string(&spec).unwrap())
    }

    fn rendered(kong: serde_json::Value) -> (serde_json::Value, serde_json::Value, serde_json::Value) {
        let p = project(kong);
        let s = super::super::scaling(&p, Component::Kong).unwrap();
        let d = super::super::component(&p, Component::Kong, "h").unwrap().deployment;
        (
            serde_json::to_value(&s.disruption_budget).unwrap(),
            serde_json::to_value(&s.autoscaler).unwrap(),
            serde_json::to_value(&d).unwrap(),
        )
    }

    #[test]
    fn a_budget_from_two_pods_on() {
        let (pdb, hpa, d) = rendered(json!({"replicas": 1}));
        assert_eq!((pdb, hpa, d["spec"]["replicas"].clone()), (json!(null), json!(null), json!(1)));
        let (pdb, _, d) = rendered(json!({"replicas": 2}));
        assert_eq!(pdb["apiVersion"], "policy/v1");
        assert_eq!(pdb["kind"], "PodDisruptionBudget");
        assert_eq!(pdb["spec"]["maxUnavailable"], 1);
        assert_eq!(pdb["spec"]["selector"]["matchLabels"], d["spec"]["selector"]["matchLabels"]);
        assert_eq!(pdb["metadata"]["ownerReferences"], d["metadata"]["ownerReferences"]);
        assert_eq!(pdb["metadata"]["labels"], d["metadata"]["labels"]);
    }

    #[test]
    fn an_autoscaler_replaces_replicas_in_the_deployment() {
        let scaler = json!({"minReplicas": 2, "maxReplicas": 5, "targetCPUUtilizationPercentage": 60,
                            "targetMemoryUtilizationPercentage": 80});
        let (pdb, hpa, d) = rendered(json!({"replicas": 3, "autoscaling": scaler}));
        assert_eq!(d["spec"].get("replicas"), None, "left to the autoscaler");
        assert_eq!(d["metadata"]["annotations"]["supabase-operator.io/replicas"], "autoscaler");
        assert_eq!(pdb["spec"]["maxUnavailable"], 1, "minReplicas 2");
        assert_eq!(hpa["apiVersion"], "autoscaling/v2");
        assert_eq!(
            hpa["spec"],
            json!({
                "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": d["metadata"]["name"]},
                "minReplicas": 2,
                "maxReplicas": 5,
                "metrics": [
                    {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 60}}},
                    {"type": "Resource", "resource": {"name": "memory", "target": {"type": "Utilization", "averageUtilization": 80}}},
                ],
            })
        );
        let (pdb, _, _) = rendered(
            json!({"autoscaling": {"minReplicas": 1, "maxReplicas": 3, "targetCPUUtilizationPercentage": 60}}),
        );
        assert_eq!(pdb, json!(null), "minReplicas 1: no budget");
    }
}
