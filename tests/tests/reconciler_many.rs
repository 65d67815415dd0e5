//! Several projects in one namespace each get reconciled to Running, whether they exist
//! before the reconciler starts (its first list brings them all at once) or arrive
//! while it runs.
// A panic is how a test reports failure.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::time::Instant;

use crds::Phase;
use harness::reconciler::{self as rec, Running};
use harness::{TestEnv, patience};

const PROJECTS: [&str; 3] = ["alpha", "beta", "gamma"];

/// Each project has its own database Secret, so nothing one project reads is shared.
async fn create_projects(env: &TestEnv) {
    for name in PROJECTS {
        let db = format!("{name}-db");
        env.kubectl().args(["apply", "-f", "-"]).stdin(rec::db_secret(&db, "pw")).ok().await;
        let spec = format!("apiExternalUrl: https://{name}.example.com\ndatabase:\n  secretRef:\n    name: {db}\n");
        env.kubectl().args(["apply", "-f", "-"]).stdin(rec::admitted(name, &spec)).ok().await;
    }
}

/// Every project gets a status (the first reconcile of each), then all roll out side by
/// side to Running; the whole within one `settle`, as each project alone would be.
async fn all_run(env: &TestEnv, reconciler: &Running) {
    let started = Instant::now();
    rec::eventually("a status on every project", patience::settle(), || async {
        let mut without = Vec::new();
        for name in PROJECTS {
            if rec::project(env, name).await.status.is_none() {
                without.push(name);
            }
        }
        if without.is_empty() { Ok(()) } else { Err(format!("no status on {without:?}")) }
    })
    .await;
    eprintln!("every project has a status after {:?}", started.elapsed());
    let rollouts = futures::future::join_all(PROJECTS.map(|name| rec::roll_to_running(env, name)));
    let projects = tokio::time::timeout(patience::settle(), rollouts).await.expect("all three Running in time");
    for p in projects {
        assert_eq!(p.status.unwrap_or_default().phase, Some(Phase::Running));
    }
    eprintln!("all Running after {:?} ({} reconciles)", started.elapsed(), reconciler.reconciles());
}

#[tokio::test]
async fn projects_made_before_the_reconciler_starts_all_run() {
    let env = TestEnv::new("many-before").await.expect("test cluster");
    harness::crd::install(&env.client).await.expect("install CRD");
    create_projects(&env).await;
    let reconciler = rec::start(&env, "only");
    all_run(&env, &reconciler).await;
    reconciler.stop().await;
}

#[tokio::test]
async fn projects_made_after_the_reconciler_starts_all_run() {
    let env = TestEnv::new("many-after").await.expect("test cluster");
    harness::crd::install(&env.client).await.expect("install CRD");
    let reconciler = rec::start(&env, "only");
    create_projects(&env).await;
    all_run(&env, &reconciler).await;
    reconciler.stop().await;
}
