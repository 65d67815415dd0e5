//! Stands in for every kubelet and the deployment and job controllers at once:
//! watches the Deployments of a namespace and marks each ready as soon as it appears
//! or changes, and marks each Job complete.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use futures::StreamExt;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::batch::v1::Job;
use kube::Client;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::{WatchStreamExt, watcher};
use tokio_util::sync::CancellationToken;

/// Whether a Deployment's status already says "fully rolled out at this generation".
fn ready(d: &Deployment) -> bool {
    let want = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
    let Some(s) = d.status.as_ref() else { return false };
    s.observed_generation == d.metadata.generation
        && s.ready_replicas.unwrap_or(0) == want
        && s.updated_replicas.unwrap_or(0) == want
        && s.available_replicas.unwrap_or(0) == want
}

/// Marks Deployments in `namespace` ready and Jobs complete until `stop`; returns
/// how many status writes it made (so a benchmark can tell them from the operator's).
pub async fn simulate(client: Client, namespace: String, stop: CancellationToken) -> u64 {
    let writes = Arc::new(AtomicU64::new(0));
    tokio::join!(
        deployments(Api::namespaced(client.clone(), &namespace), stop.clone(), writes.clone()),
        jobs(Api::namespaced(client, &namespace), stop, writes.clone()),
    );
    writes.load(Ordering::Relaxed)
}

async fn jobs(api: Api<Job>, stop: CancellationToken, writes: Arc<AtomicU64>) {
    let done = serde_json::json!({"status": {"succeeded": 1, "conditions": [{"type": "Complete", "status": "True"}]}});
    let stream = watcher(api.clone(), watcher::Config::default()).applied_objects();
    tokio::pin!(stream);
    loop {
        tokio::select! {
            _ = stop.cancelled() => break,
            next = stream.next() => match next {
                Some(Ok(job)) if job.status.as_ref().and_then(|s| s.succeeded).unwrap_or(0) == 0 => {
                    if let Some(name) = job.metadata.name.as_deref()
                        && api.patch_status(name, &PatchParams::default(), &Patch::Merge(&done)).await.is_ok()
                    {
                        writes.fetch_add(1, Ordering::Relaxed);
                    }
                }
                Some(_) => {}
                None => break,
            }
        }
    }
}

async fn deployments(api: Api<Deployment>, stop: CancellationToken, writes: Arc<AtomicU64>) {
    let stream = watcher(api.clone(), watcher::Config::default()).applied_objects();
    tokio::pin!(stream);
    loop {
        tokio::select! {
            _ = stop.cancelled() => break,
            next = stream.next() => match next {
                Some(Ok(d)) if !ready(&d) => {
                    if let Some(name) = d.metadata.name.as_deref()
                        && crate::deployments::mark_ready(&api, name).await.is_ok()
                    {
                        writes.fetch_add(1, Ordering::Relaxed);
                    }
                }
                Some(_) => {}
                None => break,
            }
        }
    }
}
