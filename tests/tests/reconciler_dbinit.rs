//! The optional database initialization Job: components wait for it, its success is
//! recorded in status, and it never runs again.
// A panic is how a test reports failure.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::time::Duration;

use crds::{Component, Phase, conditions};
use harness::patience;
use harness::reconciler::{self as rec, MINIMAL_SPEC};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::batch::v1::Job;
use kube::api::{DeleteParams, ListParams, Patch, PatchParams};
use serde_json::json;

#[tokio::test]
async fn init_job_runs_once_before_the_components_and_never_again() {
    let spec = MINIMAL_SPEC.replace("database:\n", "database:\n  initialize: true\n");
    let env = rec::project_env("db-init", "demo", &spec).await;
    let reconciler = rec::start(&env, "only");
    let jobs = env.api::<Job>();

    let p = rec::wait_phase(&env, "demo", Phase::InitializingDatabase).await;
    assert_eq!(p.status.unwrap().message.as_deref(), Some("waiting for database initialization Job demo-db-init"));
    let job = jobs.get("demo-db-init").await.unwrap();
    assert!(job.metadata.owner_references.is_some_and(|o| o.iter().any(|o| o.controller == Some(true))));
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(env.api::<Deployment>().list(&ListParams::default()).await.unwrap().items.is_empty(), "kong went early");

    // There is no Job controller here: play its part.
    let done = json!({"status": {"succeeded": 1, "conditions": [{"type": "Complete", "status": "True"}]}});
    jobs.patch_status("demo-db-init", &PatchParams::default(), &Patch::Merge(&done)).await.unwrap();
    rec::wait_deployment(&env, "demo", Component::Kong).await;
    let p = rec::wait_phase(&env, "demo", Phase::DeployingComponents).await;
    let status = p.status.unwrap();
    assert_eq!(status.database_initialized_generation, Some(1));
    assert!(conditions::is_true(&status.conditions, conditions::DATABASE_INITIALIZED));

    // Gone Job, new generation, restarted reconciler: it is never applied again.
    jobs.delete("demo-db-init", &DeleteParams::background()).await.unwrap();
    let changed = format!("{spec}components:\n  kong:\n    replicas: 2\n");
    env.kubectl().args(["apply", "-f", "-"]).stdin(rec::admitted("demo", &changed)).ok().await;
    reconciler.stop().await;
    let again = rec::start(&env, "again");
    rec::eventually("kong scaled to 2", patience::settle(), || async {
        let d: Deployment = env.api().get("demo-kong").await.unwrap();
        let r = d.spec.and_then(|s| s.replicas);
        if r == Some(2) { Ok(()) } else { Err(format!("{r:?}")) }
    })
    .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(jobs.get_opt("demo-db-init").await.unwrap().is_none(), "the init Job ran again");
    let p = rec::project(&env, "demo").await;
    assert_eq!(p.status.unwrap().database_initialized_generation, Some(1));
    again.stop().await;
}

#[tokio::test]
async fn a_failed_init_job_fails_the_project_until_it_is_deleted_and_rerun() {
    let spec = MINIMAL_SPEC.replace("database:\n", "database:\n  initialize: true\n");
    let env = rec::project_env("db-init-failed", "demo", &spec).await;
    let reconciler = rec::start(&env, "only");
    let jobs = env.api::<Job>();
    rec::wait_phase(&env, "demo", Phase::InitializingDatabase).await;

    let failed = json!({"status": {"failed": 7, "conditions": [{"type": "Failed", "status": "True",
        "reason": "BackoffLimitExceeded", "message": "Job has reached the specified backoff limit"}]}});
    jobs.patch_status("demo-db-init", &PatchParams::default(), &Patch::Merge(&failed)).await.unwrap();
    let p = rec::wait_phase(&env, "demo", Phase::Failed).await;
    let status = p.status.unwrap();
    let message = status.message.unwrap_or_default();
    assert!(message.contains("demo-db-init failed") && message.contains("delete the Job to retry"), "{message}");
    assert!(!conditions::is_true(&status.conditions, conditions::DATABASE_INITIALIZED));
    assert!(env.api::<Deployment>().list(&ListParams::default()).await.unwrap().items.is_empty());

    // Deleting the failed Job is the retry: a fresh one is created.
    let old_uid = jobs.get("demo-db-init").await.unwrap().metadata.uid;
    jobs.delete("demo-db-init", &DeleteParams::background()).await.unwrap();
    rec::eventually("a new init Job", patience::settle(), || async {
        match jobs.get_opt("demo-db-init").await.unwrap() {
            Some(j) if j.metadata.uid != old_uid && j.metadata.deletion_timestamp.is_none() => Ok(()),
            other => Err(format!("{:?}", other.map(|j| j.metadata.uid))),
        }
    })
    .await;
    rec::wait_phase(&env, "demo", Phase::InitializingDatabase).await;
    reconciler.stop().await;
}
