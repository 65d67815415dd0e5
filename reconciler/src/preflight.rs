//! The database preflight: before db-init and the rollout, and again when the database
//! settings, their Secret, the initialization state or the recheck annotation change, a
//! read-only Job reports what the database has (workloads/preflight.rs); its findings go
//! to `status.database`, and a missing hard prerequisite holds back the components that
//! need it. The Job's name carries a hash of those inputs, so a change is a new Job,
//! and the Jobs it supersedes are deleted.

use crds::refs::{self, Source, Value};
use crds::status::DatabaseStatus;
use crds::{SupabaseProject, names};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use kube::ResourceExt;
use kube::api::{Api, DeleteParams, ListParams};
use sha2::{Digest, Sha256};

use crate::Error;
use crate::apply::{apply, read};
use crate::cache;
use crate::context::Context;
use crate::findings::{self, Init};
use crate::workloads;

/// Annotation on the project: any new value runs the preflight again (e.g. after fixing
/// the database: `kubectl annotate supabaseproject demo supabase-operator.io/recheck-database=$(date +%s) --overwrite`).
pub const RECHECK_ANNOTATION: &str = "supabase-operator.io/recheck-database";

/// Where database initialization stands, for the findings and the hash.
pub fn init_state(project: &SupabaseProject) -> Init {
    let initialize = crds::Defaulted::of(&project.spec).map(|s| s.database.initialize).unwrap_or(false);
    let done = project.status.as_ref().and_then(|s| s.database_initialized_generation).is_some();
    match (initialize, done) {
        (false, _) => Init::Off,
        (true, false) => Init::Pending,
        (true, true) => Init::Done,
    }
}

/// `<project>-db-preflight-<hash>`, within a DNS label: a long project name is cut (the
/// hash includes the project's uid, so two projects never share a Job).
pub fn job_name(ctx: &Context, project: &SupabaseProject) -> String {
    let namespace = project.namespace().unwrap_or_default();
    let mut h = Sha256::new();
    let mut field = |b: &[u8]| {
        h.update((b.len() as u64).to_be_bytes());
        h.update(b);
    };
    field(project.uid().unwrap_or_default().as_bytes());
    field(serde_json::to_string(&project.spec.database).unwrap_or_default().as_bytes());
    // The Secrets' resourceVersions, never their data: a password is not to be guessed
    // from a name.
    for v in [Value::DbHost, Value::DbPort, Value::DbName, Value::DbPassword] {
        if let Some(Source::Secret { name, .. }) = refs::source(&project.name_any(), &project.spec, v) {
            let version = cache::get(&ctx.caches.all_secrets, &namespace, &name).and_then(|m| m.resource_version());
            field(format!("{name}@{}", version.unwrap_or_default()).as_bytes());
        }
    }
    field(format!("{:?}", init_state(project)).as_bytes());
    field(project.annotations().get(RECHECK_ANNOTATION).map(String::as_bytes).unwrap_or_default());
    let hex: String = h.finalize().iter().take(5).map(|b| format!("{b:02x}")).collect();
    let suffix = format!("-{}-{hex}", workloads::PREFLIGHT_COMPONENT);
    let name = project.name_any();
    let keep = names::MAX_LABEL.saturating_sub(suffix.len()).min(name.len());
    let prefix = name.get(..keep).unwrap_or(&name).trim_end_matches('-');
    format!("{prefix}{suffix}")
}

/// What the preflight knows now: its result for the current inputs, or that it runs
/// (`reachable` unknown), creating its Job when there is none.
pub async fn step(ctx: &Context, project: &SupabaseProject) -> Result<DatabaseStatus, Error> {
    let job = job_name(ctx, project);
    let prev = project.status.as_ref().and_then(|s| s.database.clone());
    // A result for these inputs that reached the database is final: no reads at all.
    if let Some(p) = &prev
        && p.checked_by.as_deref() == Some(job.as_str())
        && p.reachable == Some(true)
    {
        return Ok(p.clone());
    }
    // While a new check runs, the last one's findings stay (marked unknown): they still
    // say what was missing, and a fix is confirmed only by the new answer.
    let checking = DatabaseStatus {
        checked_by: Some(job.clone()),
        reachable: None,
        server_version: prev.as_ref().and_then(|p| p.server_version.clone()),
        findings: prev.map(|p| p.findings).unwrap_or_default(),
    };
    if read::<Job>(ctx, project, &job).await?.is_none() {
        let (script, j) = workloads::preflight(project, &job)?;
        apply(ctx, project, workloads::PREFLIGHT_COMPONENT, script).await?;
        apply(ctx, project, workloads::PREFLIGHT_COMPONENT, j).await?;
        delete_superseded(ctx, project, &job).await?;
        return Ok(checking);
    }
    let Some(message) = termination_message(ctx, project, &job).await? else {
        return Ok(checking);
    };
    let mut status = findings::evaluate(&message, init_state(project));
    status.checked_by = Some(job);
    Ok(status)
}

/// Deletes the project's earlier preflight Jobs (and, through garbage collection, their
/// pods): a new Job means the inputs changed, the earlier answers are already in the
/// status, and without this every settings change or recheck would leave a Job behind
/// for the project's lifetime. Found in the cache, so a new check costs no list; only
/// Jobs this project controls are touched.
async fn delete_superseded(ctx: &Context, project: &SupabaseProject, current: &str) -> Result<(), Error> {
    let namespace = project.namespace().unwrap_or_default();
    let uid = project.uid().unwrap_or_default();
    let name = project.name_any();
    let superseded: Vec<String> = ctx
        .caches
        .jobs
        .state()
        .iter()
        .filter(|j| j.namespace().as_deref() == Some(namespace.as_str()) && j.name_any() != current)
        .filter(|j| {
            let labels = j.labels();
            labels.get("app.kubernetes.io/instance") == Some(&name)
                && labels.get("app.kubernetes.io/component").map(String::as_str) == Some(workloads::PREFLIGHT_COMPONENT)
        })
        .filter(|j| j.owner_references().iter().any(|r| r.uid == uid && r.controller == Some(true)))
        .map(|j| j.name_any())
        .collect();
    let jobs: Api<Job> = Api::namespaced(ctx.client.clone(), &namespace);
    for job in superseded {
        ctx.may_write()?;
        match jobs.delete(&job, &DeleteParams::background()).await {
            // Gone already (the user, or a deletion the cache has not seen yet) is done.
            Ok(_) => {}
            Err(kube::Error::Api(e)) if e.code == 404 => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// The newest termination message of the Job's pods, if one has ended.
async fn termination_message(ctx: &Context, project: &SupabaseProject, job: &str) -> Result<Option<String>, Error> {
    let pods: Api<Pod> = Api::namespaced(ctx.client.clone(), &project.namespace().unwrap_or_default());
    let selector = format!("{}={job}", workloads::PREFLIGHT_JOB_LABEL);
    let mut ended: Vec<(Option<String>, String)> = Vec::new();
    for pod in pods.list(&ListParams::default().labels(&selector)).await? {
        let statuses = pod.status.as_ref().and_then(|s| s.container_statuses.clone()).unwrap_or_default();
        for s in statuses {
            if let Some(t) = s.state.and_then(|st| st.terminated) {
                let when = t.finished_at.map(|f| f.0.to_string());
                ended.push((when, t.message.unwrap_or_default()));
            }
        }
    }
    ended.sort();
    Ok(ended.pop().map(|(_, m)| m))
}
