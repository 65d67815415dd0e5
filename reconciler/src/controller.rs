//! The `kube::runtime::Controller` on SupabaseProject: what it watches, and the
//! wrapper around each reconcile (a tracing span, metrics, failure events, backoff).
//!
//! Each owned kind has one label-selected watch that fills its cache (see `cache`)
//! and triggers the owner's reconcile. Every Secret is watched by metadata only, to
//! reconcile the projects that reference it: the data of Secrets we do not own is
//! never held, and read (GET) only when a project references it.

use std::sync::Arc;
use std::time::Instant;

use crds::{MANAGER, SupabaseProject};
use futures::StreamExt;
use k8s_openapi::api::core::v1::{ConfigMap, PersistentVolumeClaim, Secret};
use kube::api::Api;
use kube::core::PartialObjectMeta;
use kube::runtime::controller::Action;
use kube::runtime::events::EventType;
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::{Controller, WatchStreamExt, watcher};
use kube::{Client, Resource, ResourceExt};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::Error;
use crate::backoff::WatchBackoff;
use crate::cache::{self, Writers};
use crate::context::Context;
use crate::key;
use crate::metrics::Outcome;
use crate::reconcile;

/// Longest wait before retrying the watches after an error.
pub(crate) const WATCH_BACKOFF_MAX: std::time::Duration = std::time::Duration::from_secs(5);

fn api<K>(client: &Client, namespace: Option<&str>) -> Api<K>
where
    K: Resource<DynamicType = ()>,
    K: Resource<Scope = k8s_openapi::NamespaceResourceScope>,
{
    match namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    }
}

/// The projects in the same namespace that reference `secret` by name.
fn referencing(store: &Store<SupabaseProject>, secret: &PartialObjectMeta<Secret>) -> Vec<ObjectRef<SupabaseProject>> {
    let (name, namespace) = (secret.name_any(), secret.namespace());
    store
        .state()
        .iter()
        .filter(|p| p.namespace() == namespace && crds::refs::referenced_secrets(&p.spec).contains(&name))
        .map(|p| ObjectRef::from_obj(p.as_ref()))
        .collect()
}

/// The projects in the same namespace whose Edge Functions run the code of `map`.
fn running_code(store: &Store<SupabaseProject>, map: &PartialObjectMeta<ConfigMap>) -> Vec<ObjectRef<SupabaseProject>> {
    let (name, namespace) = (map.name_any(), map.namespace());
    store
        .state()
        .iter()
        .filter(|p| {
            p.namespace() == namespace && crds::functions_rules::code_config_map(&p.spec) == Some(name.as_str())
        })
        .map(|p| ObjectRef::from_obj(p.as_ref()))
        .collect()
}

/// The project a volume claim belongs to, by its labels: a retained claim has no owner
/// reference to follow (and may outlive its project; then nothing is reconciled).
fn claim_owner(claim: PartialObjectMeta<PersistentVolumeClaim>) -> Option<ObjectRef<SupabaseProject>> {
    let name = claim.labels().get("app.kubernetes.io/instance")?;
    Some(ObjectRef::new(name).within(&claim.namespace()?))
}

/// Runs the controller until `stop` is cancelled (in-flight reconciles finish first).
pub async fn run(
    ctx: Arc<Context>,
    writers: Writers,
    namespace: Option<String>,
    concurrency: u16,
    stop: CancellationToken,
) {
    let client = ctx.client.clone();
    let ns = namespace.as_deref();
    // Before any watch: the scaling kinds' watches use the versions the cluster serves.
    crate::scaling_api::detect(&client).await;
    // Owned objects carry our labels; watching only those keeps the caches small.
    let owned = watcher::Config::default().labels(&format!("app.kubernetes.io/managed-by={MANAGER}"));
    // The projects' cache is ours too, to drop managed fields (a status written by
    // server-side apply lists every status field there) and kubectl's last-applied copy.
    let (store, writer) = reflector::store();
    let projects =
        watcher(api::<SupabaseProject>(&client, ns), watcher::Config::default()).modify(cache::strip).reflect(writer);
    let controller = Controller::for_stream(projects.applied_objects(), store.clone());
    let forget = ctx.clone();
    ctx.metrics.watch_projects(store.clone());
    let streams = writers.streams(&client, ns, &owned);
    let code_store = store.clone();
    controller
        .owns_stream(streams.secrets)
        .owns_stream(streams.config_maps)
        .owns_stream(streams.services)
        .owns_stream(streams.deployments)
        .owns_stream(streams.jobs)
        .owns_stream(streams.disruption_budgets)
        .owns_stream(streams.autoscalers)
        .owns_stream(streams.ingresses)
        .owns_stream(streams.http_routes)
        .watches_stream(streams.claims, claim_owner)
        .watches_stream(streams.all_secrets, move |s| referencing(&store, &s))
        .watches_stream(streams.all_config_maps, move |m| running_code(&code_store, &m))
        .trigger_backoff(WatchBackoff::new(WATCH_BACKOFF_MAX))
        .with_config(kube::runtime::controller::Config::default().concurrency(concurrency))
        .graceful_shutdown_on(stop.cancelled_owned())
        .run(reconcile, error_policy, ctx)
        .for_each(|r| {
            match r {
                Ok((o, _)) => tracing::debug!(project = %o.name, namespace = ?o.namespace, "reconciled"),
                Err(kube::runtime::controller::Error::ObjectNotFound(o)) => {
                    // A deleted project: forget its backoff state.
                    let key = key::of_ref(&o);
                    forget.succeeded(&key);
                    forget.memo.forget(&key);
                    tracing::debug!(object = %o, "gone before its reconcile")
                }
                Err(e) => tracing::warn!(error = %e, "reconcile failed"),
            }
            std::future::ready(())
        })
        .await;
}

/// One reconcile, inside a span naming the project and generation, so every log line
/// of it (the API client's included) says which project it is about.
async fn reconcile(project: Arc<SupabaseProject>, ctx: Arc<Context>) -> Result<Action, Error> {
    let span = tracing::info_span!("reconcile", project = %key::of(&project), generation = project.metadata.generation);
    measured(project, ctx).instrument(span).await
}

async fn measured(project: Arc<SupabaseProject>, ctx: Arc<Context>) -> Result<Action, Error> {
    let started = Instant::now();
    let result = reconcile::reconcile_project(&project, &ctx).await;
    let outcome = match &result {
        Ok((_, true)) => Outcome::Failed,
        Ok((_, false)) => Outcome::Success,
        Err(_) => Outcome::Error,
    };
    ctx.metrics.reconciled(outcome, started.elapsed());
    match result {
        Ok((action, _)) => Ok(action),
        Err(e) => {
            ctx.metrics.reconcile_failed(e.metric_label());
            if !matches!(e, Error::NotLeader) {
                let note = e.to_string();
                ctx.events
                    .publish(&project.object_ref(&()), EventType::Warning, "ReconcileError", "Reconcile", &note)
                    .await;
            }
            Err(e)
        }
    }
}

fn error_policy(project: Arc<SupabaseProject>, error: &Error, ctx: Arc<Context>) -> Action {
    if matches!(error, Error::NotLeader | Error::LostLeadership(_)) {
        return Action::await_change();
    }
    let wait = ctx.failed(&key::of(&project));
    tracing::warn!(
        project = %key::of(&project),
        generation = project.metadata.generation,
        error = %error,
        kind = error.metric_label(),
        retry_in = ?wait,
        "reconcile error"
    );
    Action::requeue(wait)
}
