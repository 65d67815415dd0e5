//! The `kube::runtime::Controller` on SupabaseProject and the reconcile function:
//! secrets, database init, ordered rollout, status.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crds::{MANAGER, Phase, SupabaseProject, SupabaseProjectStatus};
use futures::StreamExt;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{ConfigMap, ObjectReference, Secret, Service};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::runtime::events::EventType;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::{Controller, watcher};
use kube::{Client, Resource, ResourceExt};
use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::Error;
use crate::context::Context;
use crate::dbinit::{self, DbInit};
use crate::metrics::Outcome;
use crate::status::{self, Observation};
use crate::{inputs, rollout, secrets};

/// How often a settled project is looked at again even without a watch event.
const RESYNC: Duration = Duration::from_secs(600);

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
fn referencing(store: &Store<SupabaseProject>, secret: &Secret) -> Vec<ObjectRef<SupabaseProject>> {
    let (name, namespace) = (secret.name_any(), secret.namespace());
    store
        .state()
        .iter()
        .filter(|p| p.namespace() == namespace && crds::refs::referenced_secrets(&p.spec).contains(&name))
        .map(|p| ObjectRef::from_obj(p.as_ref()))
        .collect()
}

/// Runs the controller until `stop` is cancelled (in-flight reconciles finish first).
pub async fn run(ctx: Arc<Context>, namespace: Option<String>, stop: CancellationToken) {
    let client = ctx.client.clone();
    let ns = namespace.as_deref();
    // Owned objects carry our labels; watching only those keeps the caches small.
    let owned = watcher::Config::default().labels(&format!("app.kubernetes.io/managed-by={MANAGER}"));
    let controller = Controller::new(api::<SupabaseProject>(&client, ns), watcher::Config::default());
    let store = controller.store();
    ctx.metrics.watch_projects(store.clone());
    controller
        .owns(api::<Secret>(&client, ns), owned.clone())
        .owns(api::<ConfigMap>(&client, ns), owned.clone())
        .owns(api::<Service>(&client, ns), owned.clone())
        .owns(api::<Deployment>(&client, ns), owned.clone())
        .owns(api::<Job>(&client, ns), owned)
        .watches(api::<Secret>(&client, ns), watcher::Config::default(), move |s| referencing(&store, &s))
        .graceful_shutdown_on(stop.cancelled_owned())
        .run(reconcile, error_policy, ctx)
        .for_each(|r| {
            match r {
                Ok((o, _)) => tracing::debug!(project = %o.name, namespace = ?o.namespace, "reconciled"),
                Err(kube::runtime::controller::Error::ObjectNotFound(o)) => {
                    tracing::debug!(object = %o, "gone before its reconcile")
                }
                Err(e) => tracing::warn!(error = %e, "reconcile failed"),
            }
            std::future::ready(())
        })
        .await;
}

fn key(p: &SupabaseProject) -> String {
    format!("{}/{}", p.namespace().unwrap_or_default(), p.name_any())
}

async fn reconcile(project: Arc<SupabaseProject>, ctx: Arc<Context>) -> Result<Action, Error> {
    let started = Instant::now();
    let result = reconcile_project(&project, &ctx).await;
    let outcome = match &result {
        Ok((_, true)) => Outcome::Failed,
        Ok((_, false)) => Outcome::Success,
        Err(_) => Outcome::Error,
    };
    ctx.metrics.reconciled(outcome, started.elapsed());
    match result {
        Ok((action, _)) => Ok(action),
        Err(e) => {
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
    let wait = ctx.failed(&key(&project));
    tracing::warn!(project = %key(&project), error = %error, retry_in = ?wait, "reconcile error");
    Action::requeue(wait)
}

fn now() -> Time {
    Time(Timestamp::now())
}

/// One reconcile. Returns the next action and whether the project is Failed.
async fn reconcile_project(project: &SupabaseProject, ctx: &Context) -> Result<(Action, bool), Error> {
    if project.meta().deletion_timestamp.is_some() {
        // Owner references and the garbage collector remove everything; nothing to do.
        return Ok((Action::await_change(), false));
    }
    // The stored spec is the admitted, defaulted one; defaulting again is a no-op then,
    // and makes the reconciler behave the same where the mutating webhook is not installed.
    let mut project = project.clone();
    project.spec = crds::defaults(project.spec);
    let project = &project;
    let namespace = project.namespace().ok_or_else(|| Error::Render("a project without a namespace".into()))?;
    let secrets_api: Api<Secret> = Api::namespaced(ctx.client.clone(), &namespace);
    let reference = project.object_ref(&());

    let mut user = inputs::user_secrets(&secrets_api, project).await?;
    let mut obs = Observation {
        name: project.name_any(),
        namespace: namespace.clone(),
        generation: project.metadata.generation,
        api_url: project.spec.api_external_url.clone(),
        problems: inputs::problems(project, &user),
        secrets_ready: false,
        db: None,
        components: Vec::new(),
    };
    let mut rolled = false;
    if obs.problems.is_empty() {
        let ensured = secrets::ensure(ctx, &secrets_api, project).await?;
        for change in &ensured.changes {
            ctx.events.publish(&reference, EventType::Normal, "SecretGenerated", "GenerateSecrets", change).await;
        }
        obs.secrets_ready = true;
        user.extend(ensured.data);
        let (db, created) = dbinit::step(ctx, project).await.or_else(render_problem(&mut obs.problems))?;
        if created {
            let note = format!("created database initialization Job {}", crds::names::db_init_job(&obs.name));
            ctx.events.publish(&reference, EventType::Normal, "DatabaseInitStarted", "InitializeDatabase", &note).await;
        }
        if db.allows_rollout() && obs.problems.is_empty() {
            match rollout::roll(ctx, project, &user).await {
                Ok(c) => {
                    obs.components = c;
                    rolled = true;
                }
                Err(Error::Render(m)) => obs.problems.push(format!("cannot render the workloads: {m}")),
                Err(e) => return Err(e),
            }
        }
        obs.db = Some(db);
    }
    if !rolled {
        obs.components = rollout::observe(ctx, project).await?;
    }

    let prev = project.status.clone().unwrap_or_default();
    let next = status::compute(&prev, &obs, &now());
    if next != prev {
        write_status(ctx, project, &next).await?;
        for t in status::transitions(&prev, &next) {
            let related = t.component.map(|c| ObjectReference {
                api_version: Some("apps/v1".into()),
                kind: Some("Deployment".into()),
                name: Some(crds::names::component(&obs.name, c)),
                namespace: Some(namespace.clone()),
                ..Default::default()
            });
            ctx.events.publish_related(&reference, related, t.type_, &t.reason, "Reconcile", &t.note).await;
        }
    }
    let failed = next.phase == Some(Phase::Failed);
    if failed {
        // The spec could not have passed admission, or init failed: back off; a fix to
        // the project or a referenced Secret triggers a reconcile at once anyway.
        return Ok((Action::requeue(ctx.failed(&key(project))), true));
    }
    ctx.succeeded(&key(project));
    Ok((Action::requeue(RESYNC), false))
}

/// Turns a render error of the db-init Job into a problem (phase Failed) and keeps going.
fn render_problem(problems: &mut Vec<String>) -> impl FnOnce(Error) -> Result<(DbInit, bool), Error> + '_ {
    move |e| match e {
        Error::Render(m) => {
            let why = format!("cannot render the database initialization Job: {m}");
            problems.push(why.clone());
            Ok((DbInit::Failed(why), false))
        }
        other => Err(other),
    }
}

async fn write_status(ctx: &Context, project: &SupabaseProject, next: &SupabaseProjectStatus) -> Result<(), Error> {
    ctx.may_write()?;
    let api: Api<SupabaseProject> = Api::namespaced(ctx.client.clone(), &project.namespace().unwrap_or_default());
    let patch = json!({
        "apiVersion": SupabaseProject::api_version(&()),
        "kind": SupabaseProject::kind(&()),
        "status": next,
    });
    api.patch_status(&project.name_any(), &PatchParams::apply(MANAGER).force(), &Patch::Apply(&patch)).await?;
    Ok(())
}
