//! One reconcile, in order: read the project and its Secrets, refuse a spec admission
//! would have rejected, generate Secrets, initialize the database, roll the components
//! out, and write the status if it changed.

use std::time::Duration;

use crds::{MANAGER, Phase, SupabaseProject, SupabaseProjectStatus};
use k8s_openapi::api::core::v1::{ObjectReference, Secret};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::runtime::events::EventType;
use kube::{Resource, ResourceExt};
use serde_json::json;

use crate::Error;
use crate::context::Context;
use crate::dbinit;
use crate::key;
use crate::observation::{DbInit, Observation};
use crate::status;
use crate::{findings, inputs, preflight, rollout, secrets};

/// How often a settled project is looked at again even without a watch event.
const RESYNC: Duration = Duration::from_secs(600);

fn now() -> Time {
    Time(Timestamp::now())
}

/// One reconcile. Returns the next action and whether the project is Failed.
pub(crate) async fn reconcile_project(project: &SupabaseProject, ctx: &Context) -> Result<(Action, bool), Error> {
    if project.meta().deletion_timestamp.is_some() {
        // Owner references and the garbage collector remove everything; nothing to do.
        ctx.memo.forget(&key::of(project));
        return Ok((Action::await_change(), false));
    }
    // A cache miss means something only once the caches hold their initial lists.
    ctx.caches.ready().await;
    let mut project = project.clone();
    // The store may lag behind our own last status write; computing from a stale status
    // would rewrite it and repeat its events. We are the only writer of status, so the
    // status we last wrote is the current one.
    let uid = project.uid().unwrap_or_default();
    if let Some(s) = ctx.memo.status(&key::of(&project), &uid) {
        project.status = Some(s);
    }
    // The stored spec is the admitted, defaulted one; defaulting again is a no-op then,
    // and makes the reconciler behave the same where the mutating webhook is not installed.
    project.spec = crds::defaults(project.spec);
    let project = &project;
    let namespace = project.namespace().ok_or_else(|| Error::Render("a project without a namespace".into()))?;
    let secrets_api: Api<Secret> = Api::namespaced(ctx.client.clone(), &namespace);
    let reference = project.object_ref(&());

    let mut user = inputs::user_secrets(ctx, &secrets_api, project).await?;
    let mut obs = Observation {
        name: project.name_any(),
        namespace: namespace.clone(),
        generation: project.metadata.generation,
        api_url: project.spec.api_external_url.clone(),
        problems: inputs::problems(project, &user),
        secrets_ready: false,
        db: None,
        components: Vec::new(),
        keys: None,
        database: None,
        held: Default::default(),
        release: project.spec.release.clone(),
        gateway: None,
    };
    let mut rolled = false;
    if obs.problems.is_empty() {
        let ensured = secrets::ensure(ctx, &secrets_api, project, &user).await?;
        // One event for all of a reconcile's generated Secrets: events are writes, and
        // a first reconcile generates several.
        if !ensured.changes.is_empty() {
            let note = ensured.changes.join("; ");
            ctx.events.publish(&reference, EventType::Normal, "SecretGenerated", "GenerateSecrets", &note).await;
        }
        obs.secrets_ready = true;
        user.extend(ensured.data);
        obs.keys = Some(crate::new_keys::status(&project.spec, &obs.name, &user));
        // The preflight answers first: db-init and the rollout wait for it, and what it
        // finds missing holds back the components that need it.
        // No event when a check starts: the status shows it (`DATABASE` Checking), and the
        // verdict gets one when it is not Ready (status::transitions).
        let database = match preflight::step(ctx, project).await {
            Ok(r) => r,
            Err(Error::Render(m)) => {
                obs.problems.push(format!("cannot render the database preflight Job: {m}"));
                Default::default()
            }
            Err(e) => return Err(e),
        };
        let enabled: Vec<crds::Component> =
            crds::CATALOG.iter().map(|e| e.component).filter(|c| project.spec.enabled(*c)).collect();
        obs.held = findings::held(&database.findings, &enabled);
        let answered = database.reachable.is_some();
        let reachable = database.reachable == Some(true);
        let unreachable = database.findings.iter().find(|f| f.check == "reachable").map(|f| f.message.clone());
        obs.database = Some(database);
        let (db, created) = if reachable {
            dbinit::step(ctx, project).await.or_else(render_problem(&mut obs.problems))?
        } else if project.status.as_ref().and_then(|s| s.database_initialized_generation).is_some() {
            // Initialized before: the record stands whatever the database says now.
            dbinit::step(ctx, project).await.or_else(render_problem(&mut obs.problems))?
        } else if !crds::Defaulted::of(&project.spec).is_ok_and(|s| s.database.initialize) {
            (DbInit::NotRequested, false)
        } else if answered {
            (DbInit::Waiting(unreachable.unwrap_or_else(|| "the database is not reachable".into())), false)
        } else {
            (DbInit::Waiting("waiting for the database preflight".into()), false)
        };
        if let DbInit::Done(g) = db
            && project.status.as_ref().and_then(|s| s.database_initialized_generation).is_none()
        {
            // Recorded before anything else happens: should this reconcile fail later
            // and the Job be gone by the next, the record alone keeps it from re-running.
            record_db_init(ctx, project, g).await?;
            let mut recorded = project.status.clone().unwrap_or_default();
            recorded.database_initialized_generation = Some(g);
            ctx.memo.set_status(&key::of(project), &uid, Some(recorded));
            ctx.events
                .publish(
                    &reference,
                    EventType::Normal,
                    "DatabaseInitialized",
                    "InitializeDatabase",
                    "database initialized",
                )
                .await;
        }
        if created {
            let note = format!("created database initialization Job {}", crds::names::db_init_job(&obs.name));
            ctx.events.publish(&reference, EventType::Normal, "DatabaseInitStarted", "InitializeDatabase", &note).await;
        }
        if db.allows_rollout() && answered && obs.problems.is_empty() {
            match rollout::roll(ctx, project, &user, &obs.held).await {
                Ok(c) => {
                    obs.components = c;
                    rolled = true;
                }
                Err(Error::Render(m)) => obs.problems.push(format!("cannot render the workloads: {m}")),
                Err(e) => return Err(e),
            }
        }
        obs.db = Some(db);
        if obs.problems.is_empty() {
            match crate::gateway::step(ctx, project).await {
                Ok(g) => obs.gateway = Some(g),
                Err(Error::Render(m)) => obs.problems.push(format!("cannot render the gateway: {m}")),
                Err(e) => return Err(e),
            }
        }
    }
    if !rolled {
        obs.components = rollout::observe(ctx, project).await?;
    }

    let prev = project.status.clone().unwrap_or_default();
    let next = status::compute(&prev, &obs, &now());
    if next != prev {
        // Until the write is known to have landed, the memo must not vouch for any status.
        ctx.memo.set_status(&key::of(project), &uid, None);
        write_status(ctx, project, &next).await?;
        ctx.memo.set_status(&key::of(project), &uid, Some(next.clone()));
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
        if let Some((type_, reason, note)) = crate::gateway::warning(&prev, &next) {
            ctx.events.publish(&reference, type_, &reason, "Expose", &note).await;
        }
    }
    let failed = next.phase == Some(Phase::Failed);
    if failed {
        // The spec could not have passed admission, or init failed: back off; a fix to
        // the project or a referenced Secret triggers a reconcile at once anyway.
        return Ok((Action::requeue(ctx.failed(&key::of(project))), true));
    }
    ctx.succeeded(&key::of(project));
    // A project waiting for the Gateway API CRDs is looked at as often as the HTTPRoute
    // watch polls for them: installing a CRD wakes no project.
    let waiting = obs.gateway.as_ref().is_some_and(crate::gateway::Exposure::waiting);
    Ok((Action::requeue(if waiting { crate::route_watch::POLL } else { RESYNC }), false))
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

async fn record_db_init(ctx: &Context, project: &SupabaseProject, generation: i64) -> Result<(), Error> {
    ctx.may_write()?;
    let api: Api<SupabaseProject> = Api::namespaced(ctx.client.clone(), &project.namespace().unwrap_or_default());
    let patch = json!({ "status": { "databaseInitializedGeneration": generation } });
    let pp = PatchParams { field_manager: Some(MANAGER.into()), ..Default::default() };
    api.patch_status(&project.name_any(), &pp, &Patch::Merge(&patch)).await?;
    Ok(())
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
