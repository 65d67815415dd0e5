//! When a component counts as ready: its Deployment's controller has seen the current
//! spec (`observedGeneration`) and updated = ready = available = desired replicas.
//! A component scaled to zero is ready: there is nothing to wait for.

use k8s_openapi::api::apps::v1::DeploymentStatus;

use crate::deployment_view::DeploymentView;

/// A Deployment's rollout as the reconciler reads it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rollout {
    /// `spec.replicas` (1 when unset, as the apiserver defaults it).
    pub desired: i32,
    /// `status.readyReplicas`.
    pub ready_replicas: i32,
    /// Whether the Deployment controller has seen the current generation.
    pub observed: bool,
    /// Whether every desired replica runs the current template.
    pub updated: bool,
    /// The readiness rule.
    pub ready: bool,
}

/// Reads a Deployment's rollout.
pub fn rollout(d: &DeploymentView) -> Rollout {
    let desired = d.replicas.unwrap_or(1);
    let status = d.status.as_ref();
    let count = |f: fn(&DeploymentStatus) -> Option<i32>| status.and_then(f).unwrap_or(0);
    let observed = match (d.metadata.generation, status.and_then(|s| s.observed_generation)) {
        (Some(g), Some(o)) => o >= g,
        (None, _) => true,
        (Some(_), None) => false,
    };
    let updated = count(|s| s.updated_replicas) == desired;
    let ready_replicas = count(|s| s.ready_replicas);
    let available = count(|s| s.available_replicas);
    // Old pods still counted (a surge rollout: the new pod exists, the old one serves)
    // mean the rollout is not done, as `kubectl rollout status` reads it ("old replicas
    // are pending termination", kubernetes/kubectl pkg/polymorphichelpers/rollout_status.go).
    let no_old = count(|s| s.replicas) <= desired;
    let ready = desired == 0 || (observed && updated && no_old && ready_replicas == desired && available == desired);
    Rollout { desired, ready_replicas, observed, updated, ready }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn deployment(v: serde_json::Value) -> DeploymentView {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn ready_only_when_the_current_generation_is_fully_available() {
        let ready = json!({"metadata": {"generation": 2}, "spec": {"replicas": 2, "selector": {}, "template": {}},
            "status": {"observedGeneration": 2, "updatedReplicas": 2, "readyReplicas": 2, "availableReplicas": 2}});
        assert!(rollout(&deployment(ready.clone())).ready);

        let mut stale = ready.clone();
        stale["status"]["observedGeneration"] = json!(1);
        assert!(!rollout(&deployment(stale)).ready);

        // Mid-rollout with a surge: the new pod is up but not ready, the old one serves.
        let mut surging = ready.clone();
        surging["status"]["replicas"] = json!(3);
        assert!(!rollout(&deployment(surging)).ready);

        let mut partly = ready.clone();
        partly["status"]["availableReplicas"] = json!(1);
        let r = rollout(&deployment(partly));
        assert!(!r.ready && r.updated && r.observed);

        let fresh = json!({"metadata": {"generation": 1}, "spec": {"selector": {}, "template": {}}});
        let r = rollout(&deployment(fresh));
        assert_eq!((r.ready, r.desired, r.ready_replicas), (false, 1, 0));
    }

    #[test]
    fn scaled_to_zero_counts_as_ready() {
        let zero = json!({"metadata": {"generation": 3}, "spec": {"replicas": 0, "selector": {}, "template": {}}});
        assert!(rollout(&deployment(zero)).ready);
    }
}
