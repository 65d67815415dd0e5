//! There is no kubelet or deployment controller in the test cluster: tests play
//! their part by writing Deployment status, as envtest users do.

use k8s_openapi::api::apps::v1::Deployment;
use kube::api::{Api, Patch, PatchParams};
use serde_json::{Value, json};

use crate::Error;

/// Whether the status says "fully rolled out at the current generation".
pub fn rolled_out(d: &Deployment) -> bool {
    let want = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
    d.status.as_ref().is_some_and(|s| {
        s.observed_generation == d.metadata.generation
            && s.ready_replicas.unwrap_or(0) == want
            && s.updated_replicas.unwrap_or(0) == want
            && s.available_replicas.unwrap_or(0) == want
    })
}

/// The status of `d` fully rolled out and available at its current generation with
/// every desired replica ready.
pub fn ready_status(d: &Deployment) -> Value {
    let replicas = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
    json!({
        "status": {
            "observedGeneration": d.metadata.generation,
            "replicas": replicas,
            "updatedReplicas": replicas,
            "readyReplicas": replicas,
            "availableReplicas": replicas,
            "conditions": [{
                "type": "Available",
                "status": "True",
                "reason": "MinimumReplicasAvailable",
                "message": "marked ready by the test harness",
            }],
        }
    })
}

/// Writes a Deployment's status as [`ready_status`].
pub async fn mark_ready(api: &Api<Deployment>, name: &str) -> Result<Deployment, Error> {
    let d = api.get(name).await?;
    Ok(api.patch_status(name, &PatchParams::default(), &Patch::Merge(&ready_status(&d))).await?)
}
