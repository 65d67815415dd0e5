//! The reconciler's lifecycle around a running project: a restart with nothing changed
//! writes nothing, and deleting the project lets the garbage collector remove every
//! owned object.
// A panic is how a test reports failure.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::time::Duration;

use crds::SupabaseProject;
use harness::TestEnv;
use harness::reconciler::{self as rec, MINIMAL_SPEC};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Secret, Service};
use kube::ResourceExt;
use kube::api::ListParams;
use reconciler::Outcome;

/// name → resourceVersion of the project and everything it owns.
async fn versions(env: &TestEnv) -> BTreeMap<String, String> {
    let lp = ListParams::default().labels("app.kubernetes.io/instance=demo");
    let mut out = BTreeMap::new();
    let p: SupabaseProject = env.api().get("demo").await.unwrap();
    out.insert("project".into(), p.resource_version().unwrap());
    for o in env.api::<Deployment>().list(&lp).await.unwrap() {
        out.insert(format!("deployment/{}", o.name_any()), o.resource_version().unwrap());
    }
    for o in env.api::<Service>().list(&lp).await.unwrap() {
        out.insert(format!("service/{}", o.name_any()), o.resource_version().unwrap());
    }
    for o in env.api::<ConfigMap>().list(&lp).await.unwrap() {
        out.insert(format!("configmap/{}", o.name_any()), o.resource_version().unwrap());
    }
    for o in env.api::<Secret>().list(&lp).await.unwrap() {
        out.insert(format!("secret/{}", o.name_any()), o.resource_version().unwrap());
    }
    out
}

#[tokio::test]
async fn restart_with_nothing_changed_writes_nothing() {
    let env = rec::project_env("restart-no-writes", "demo", MINIMAL_SPEC).await;
    let first = rec::start(&env, "first");
    rec::roll_to_running(&env, "demo").await;
    // Let the last status write and its echo settle.
    tokio::time::sleep(Duration::from_secs(1)).await;
    first.stop().await;
    let before = versions(&env).await;
    assert!(before.len() >= 1 + 6 * 2 + 2, "{before:?}");

    let second = rec::start(&env, "second");
    rec::eventually("a full reconcile by the new reconciler", Duration::from_secs(30), || async {
        let n = second.metrics.reconcile_count(Outcome::Success);
        if n >= 1 { Ok(()) } else { Err(format!("{n} reconciles")) }
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(versions(&env).await, before, "a reconcile with nothing changed wrote something");
    second.stop().await;
}

#[tokio::test]
async fn deleting_the_project_removes_every_owned_object() {
    let env = rec::project_env("delete-gc", "demo", MINIMAL_SPEC).await;
    let reconciler = rec::start(&env, "only");
    rec::roll_to_running(&env, "demo").await;
    assert!(versions(&env).await.len() > 10);

    env.kubectl().args(["delete", "sbp", "demo", "--wait=false"]).ok().await;
    rec::eventually("garbage collection", Duration::from_secs(60), || async {
        let lp = ListParams::default().labels("app.kubernetes.io/instance=demo");
        let left = env.api::<Deployment>().list(&lp).await.unwrap().items.len()
            + env.api::<Service>().list(&lp).await.unwrap().items.len()
            + env.api::<ConfigMap>().list(&lp).await.unwrap().items.len()
            + env.api::<Secret>().list(&lp).await.unwrap().items.len();
        if left == 0 { Ok(()) } else { Err(format!("{left} objects left")) }
    })
    .await;
    // The user's own Secret is not the project's: it stays.
    assert!(env.api::<Secret>().get_opt("db").await.unwrap().is_some());
    reconciler.stop().await;
}
