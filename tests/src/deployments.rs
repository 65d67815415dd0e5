//! There is no kubelet or deployment controller in the test cluster: tests play
//! their part by writing Deployment status, as envtest users do.

use k8s_openapi::api::apps::v1::Deployment;
use kube::api::{Api, Patch, PatchParams};
use serde_json::json;

use crate::Error;

/// Writes a Deployment's status as a fully rolled-out, available Deployment at its
/// current generation with every desired replica ready.
pub async fn mark_ready(api: &Api<Deployment>, name: &str) -> Result<Deployment, Error> {
    let d = api.get(name).await?;
    let replicas = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
    let status = json!({
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
    });
    Ok(api.patch_status(name, &PatchParams::default(), &Patch::Merge(&status)).await?)
}
