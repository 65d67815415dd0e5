//! Stands in for every kubelet and the deployment and job controllers at once:
//! watches the Deployments of a namespace and marks each ready as soon as it appears
//! or changes, marks each Job complete, and answers the database preflight (see
//! `preflight_standin`).

use std::fmt::Debug;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use futures::StreamExt;
use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::batch::v1::Job;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Client, Resource};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

/// The status that makes a Deployment fully rolled out, or `None` when it already is.
fn deployment_status(d: &Deployment) -> Option<Value> {
    (!crate::deployments::rolled_out(d)).then(|| crate::deployments::ready_status(d))
}

/// The status of a Job that succeeded, or `None` when it already has. The database
/// preflight's Jobs are left to the preflight stand-in, which reports their answer.
fn job_status(j: &Job) -> Option<Value> {
    let labels = j.metadata.labels.as_ref();
    if labels.and_then(|l| l.get("app.kubernetes.io/component")).is_some_and(|c| c == "db-preflight") {
        return None;
    }
    let done = j.status.as_ref().and_then(|s| s.succeeded).unwrap_or(0) > 0;
    (!done).then(|| json!({"status": {"succeeded": 1, "conditions": [{"type": "Complete", "status": "True"}]}}))
}

/// Status writes in flight at once. Real kubelets and controllers work in parallel;
/// one write at a time would make this stand-in the bottleneck of any benchmark.
const PARALLEL: usize = 32;

/// Writes `status(object)` to every object of `api` that needs it, until `stop`.
async fn play<K>(api: Api<K>, status: fn(&K) -> Option<Value>, stop: CancellationToken, writes: Arc<AtomicU64>)
where
    K: Resource<Scope = NamespaceResourceScope> + Clone + Debug + DeserializeOwned + Send + Sync + 'static,
    K::DynamicType: Default,
{
    let stream = watcher(api.clone(), watcher::Config::default()).applied_objects().take_until(stop.cancelled_owned());
    stream
        .for_each_concurrent(PARALLEL, |next| {
            let (api, writes) = (api.clone(), writes.clone());
            async move {
                // Two writes of the same object may race; both write the same ready status.
                if let Ok(object) = next
                    && let (Some(patch), Some(name)) = (status(&object), object.meta().name.as_deref())
                    && api.patch_status(name, &PatchParams::default(), &Patch::Merge(&patch)).await.is_ok()
                {
                    writes.fetch_add(1, Ordering::Relaxed);
                }
            }
        })
        .await;
}

/// Marks Deployments in `namespace` ready and Jobs complete until `stop`; returns
/// how many status writes it made (so a benchmark can tell them from the operator's).
pub async fn simulate(client: Client, namespace: String, stop: CancellationToken) -> u64 {
    let writes = Arc::new(AtomicU64::new(0));
    tokio::join!(
        play(
            Api::<Deployment>::namespaced(client.clone(), &namespace),
            deployment_status,
            stop.clone(),
            writes.clone()
        ),
        play(Api::<Job>::namespaced(client.clone(), &namespace), job_status, stop.clone(), writes.clone()),
        crate::preflight_standin::answer(client, namespace.clone(), crate::preflight_standin::Database::Complete, stop),
    );
    writes.load(Ordering::Relaxed)
}
