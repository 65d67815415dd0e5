//! What the reconciler keeps of a Deployment: its metadata, desired replicas, the
//! first container's name and image, and its status.
//!
//! The Deployment cache holds one per component of every project. A full
//! `Deployment` is 2.4 KB inline before any heap (the pod template is inline), and
//! even a slimmed one kept a 2 KB `Container` for two strings; this view is what
//! status and readiness read and nothing more. It decodes straight from the
//! apiserver's JSON (watch events and GETs alike): serde skips the pod template
//! without building it, so it costs neither memory nor allocations.
//!
//! Verifying an object for drift reads the whole Deployment from the apiserver (see
//! `apply`), so nothing needs more of it than this.

use std::borrow::Cow;

use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::api::apps::v1::{Deployment, DeploymentStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::Resource;
use serde::Deserialize;

/// A Deployment as status and readiness read it.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(from = "Wire")]
pub struct DeploymentView {
    /// The Deployment's metadata (stripped like every cached object's, see `cache`).
    pub metadata: ObjectMeta,
    /// `spec.replicas`, unset when the spec leaves it to the apiserver's default.
    pub replicas: Option<i32>,
    /// The first container's name.
    pub container: Option<String>,
    /// The first container's image.
    pub image: Option<String>,
    /// `status`.
    pub status: Option<DeploymentStatus>,
}

impl From<&Deployment> for DeploymentView {
    fn from(d: &Deployment) -> Self {
        let spec = d.spec.as_ref();
        let first = spec.and_then(|s| s.template.spec.as_ref()).and_then(|p| p.containers.first());
        DeploymentView {
            metadata: d.metadata.clone(),
            replicas: spec.and_then(|s| s.replicas),
            container: first.map(|c| c.name.clone()),
            image: first.and_then(|c| c.image.clone()),
            status: d.status.clone(),
        }
    }
}

impl Resource for DeploymentView {
    type DynamicType = ();
    type Scope = NamespaceResourceScope;

    fn kind(_: &()) -> Cow<'_, str> {
        "Deployment".into()
    }
    fn group(_: &()) -> Cow<'_, str> {
        "apps".into()
    }
    fn version(_: &()) -> Cow<'_, str> {
        "v1".into()
    }
    fn plural(_: &()) -> Cow<'_, str> {
        "deployments".into()
    }
    fn meta(&self) -> &ObjectMeta {
        &self.metadata
    }
    fn meta_mut(&mut self) -> &mut ObjectMeta {
        &mut self.metadata
    }
}

// The wire shape, as far as the view reads it; serde ignores every other field.

#[derive(Deserialize)]
struct Wire {
    #[serde(default)]
    metadata: ObjectMeta,
    spec: Option<WireSpec>,
    status: Option<DeploymentStatus>,
}

#[derive(Deserialize)]
struct WireSpec {
    replicas: Option<i32>,
    template: Option<WireTemplate>,
}

#[derive(Deserialize)]
struct WireTemplate {
    spec: Option<WirePod>,
}

#[derive(Deserialize)]
struct WirePod {
    #[serde(default)]
    containers: Vec<WireContainer>,
}

#[derive(Deserialize)]
struct WireContainer {
    #[serde(default)]
    name: String,
    image: Option<String>,
}

impl From<Wire> for DeploymentView {
    fn from(w: Wire) -> Self {
        let (replicas, template) = w.spec.map(|s| (s.replicas, s.template)).unwrap_or_default();
        let first = template.and_then(|t| t.spec).and_then(|p| p.containers.into_iter().next());
        let (container, image) = first.map(|c| (Some(c.name), c.image)).unwrap_or_default();
        DeploymentView { metadata: w.metadata, replicas, container, image, status: w.status }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A Deployment as the apiserver sends it, with a pod template far larger than the view.
    fn full_json() -> serde_json::Value {
        let env: Vec<_> = (0..50).map(|i| json!({"name": format!("VAR_{i}"), "value": "x".repeat(100)})).collect();
        json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "demo-kong", "namespace": "ns", "generation": 3, "resourceVersion": "9",
                         "annotations": {"supabase-operator.io/applied-hash": "h"}},
            "spec": {"replicas": 2, "selector": {"matchLabels": {"a": "b"}},
                     "strategy": {"type": "RollingUpdate"},
                     "template": {"metadata": {"labels": {"a": "b"}},
                                  "spec": {"containers": [
                                      {"name": "kong", "image": "kong:3", "env": env,
                                       "ports": [{"containerPort": 8000}],
                                       "readinessProbe": {"httpGet": {"path": "/status", "port": 8100}}},
                                      {"name": "sidecar", "image": "other:1"}],
                                           "volumes": [{"name": "v", "emptyDir": {}}]}}},
            "status": {"observedGeneration": 3, "updatedReplicas": 2, "readyReplicas": 2, "availableReplicas": 2,
                       "conditions": [{"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable"}]}
        })
    }

    #[test]
    fn a_full_deployment_decodes_into_the_view_it_converts_to() {
        let mut stale = full_json();
        stale["status"]["observedGeneration"] = json!(2);
        let mut partly = full_json();
        partly["status"]["availableReplicas"] = json!(1);
        let mut rollouts = Vec::new();
        for json in [full_json(), stale, partly] {
            let full: Deployment = serde_json::from_value(json.clone()).unwrap();
            let view: DeploymentView = serde_json::from_value(json).unwrap();
            assert_eq!(view, DeploymentView::from(&full));
            assert_eq!(view.metadata, full.metadata);
            let first = &full.spec.as_ref().unwrap().template.spec.as_ref().unwrap().containers[0];
            assert_eq!((view.container.as_deref(), view.image.as_deref()), (Some("kong"), first.image.as_deref()));
            let rollout = crate::readiness::rollout(&view);
            assert_eq!(rollout, crate::readiness::rollout(&DeploymentView::from(&full)));
            rollouts.push((rollout.ready, rollout.observed, rollout.desired));
        }
        assert_eq!(rollouts, [(true, true, 2), (false, false, 2), (false, true, 2)]);
    }

    #[test]
    fn missing_parts_decode_to_nothing_rather_than_failing() {
        let view: DeploymentView = serde_json::from_value(json!({"metadata": {"name": "d"}})).unwrap();
        assert_eq!(
            view,
            DeploymentView {
                metadata: ObjectMeta { name: Some("d".into()), ..Default::default() },
                ..Default::default()
            }
        );
        let view: DeploymentView =
            serde_json::from_value(json!({"metadata": {}, "spec": {"template": {"spec": {"containers": []}}}}))
                .unwrap();
        assert_eq!((view.container, view.image, view.replicas), (None, None, None));
    }

    #[test]
    fn the_view_addresses_the_deployments_api() {
        assert_eq!(DeploymentView::url_path(&(), Some("ns")), Deployment::url_path(&(), Some("ns")));
        assert_eq!(DeploymentView::api_version(&()), Deployment::api_version(&()));
        assert_eq!(DeploymentView::kind(&()), Deployment::kind(&()));
    }
}
