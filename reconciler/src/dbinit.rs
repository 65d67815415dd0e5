//! The optional database initialization Job: applied once, watched until it ends,
//! and recorded in `status.databaseInitializedGeneration` when it succeeds. Once
//! recorded it is never applied again, even if the Job is deleted or the operator is
//! upgraded: re-running init SQL on a live database is what clobbered data in the
//! community chart.

use crds::SupabaseProject;
use k8s_openapi::api::batch::v1::Job;
use kube::ResourceExt;

use crate::Error;
use crate::apply::{apply, read};
use crate::context::Context;
use crate::observation::DbInit;
use crate::workloads;

fn condition(job: &Job, type_: &str) -> Option<String> {
    let conditions = job.status.as_ref().and_then(|s| s.conditions.as_ref())?;
    conditions.iter().find(|c| c.type_ == type_ && c.status == "True").map(|c| c.message.clone().unwrap_or_default())
}

/// Advances database initialization by one step. Returns the state and whether the
/// Job was created now (for an event).
pub async fn step(ctx: &Context, project: &SupabaseProject) -> Result<(DbInit, bool), Error> {
    let recorded = project.status.as_ref().and_then(|s| s.database_initialized_generation);
    if let Some(g) = recorded {
        return Ok((DbInit::Done(g), false));
    }
    let spec = crds::Defaulted::of(&project.spec).map_err(|e| Error::Render(e.to_string()))?;
    if !spec.database.initialize {
        return Ok((DbInit::NotRequested, false));
    }
    let name = crds::names::db_init_job(&project.name_any());
    let Some(job) = read::<Job>(ctx, project, &name).await? else {
        let (script, job) = workloads::db_init(project)?;
        apply(ctx, project, "db-init", script).await?;
        apply(ctx, project, "db-init", job).await?;
        return Ok((DbInit::Running(name), true));
    };
    let succeeded = job.status.as_ref().and_then(|s| s.succeeded).unwrap_or(0) > 0;
    if succeeded || condition(&job, "Complete").is_some() {
        return Ok((DbInit::Done(project.metadata.generation.unwrap_or(0)), false));
    }
    if let Some(why) = condition(&job, "Failed") {
        let why = if why.is_empty() { String::new() } else { format!(" ({why})") };
        return Ok((
            DbInit::Failed(format!(
                "database initialization Job {name} failed{why}; see its logs, fix the database, then delete the \
                 Job to retry"
            )),
            false,
        ));
    }
    Ok((DbInit::Running(name), false))
}
