//! The reconciler's lifecycle around a running project: a restart with nothing changed
//! writes nothing, a change by someone else to a field the reconciler sets is reverted
//! (and one to a field it does not set is left alone, without a write loop), and
//! deleting the project lets the garbage collector remove every owned object.
// A panic is how a test reports failure.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::time::Duration;

use crds::SupabaseProject;
use harness::reconciler::{self as rec, MINIMAL_SPEC};
use harness::{TestEnv, patience};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Secret, Service};
use kube::ResourceExt;
use kube::api::{ListParams, Patch, PatchParams};
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
    rec::eventually("a full reconcile by the new reconciler", patience::settle(), || async {
        let n = second.metrics.reconcile_count(Outcome::Success);
        if n >= 1 { Ok(()) } else { Err(format!("{n} reconciles")) }
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(versions(&env).await, before, "a reconcile with nothing changed wrote something");
    second.stop().await;
}

fn image(d: &Deployment) -> String {
    d.spec.as_ref().and_then(|s| s.template.spec.as_ref()).and_then(|p| p.containers[0].image.clone()).unwrap()
}

#[tokio::test]
async fn drift_in_owned_fields_is_reverted_and_foreign_changes_are_left_alone() {
    let env = rec::project_env("drift", "demo", MINIMAL_SPEC).await;
    let reconciler = rec::start(&env, "only");
    rec::roll_to_running(&env, "demo").await;
    let (deployments, maps) = (env.api::<Deployment>(), env.api::<ConfigMap>());
    let want = image(&deployments.get("demo-kong").await.unwrap());
    let lp = ListParams::default().labels("app.kubernetes.io/instance=demo,app.kubernetes.io/component=kong");
    let cm = maps.list(&lp).await.unwrap().items.into_iter().next().expect("kong has a ConfigMap");
    let (cm_name, cm_data) = (cm.name_any(), cm.data.clone());

    let someone = PatchParams { field_manager: Some("someone".into()), ..Default::default() };
    let evil =
        serde_json::json!({"spec": {"template": {"spec": {"containers": [{"name": "kong", "image": "evil:1"}]}}}});
    deployments.patch("demo-kong", &someone, &Patch::Strategic(&evil)).await.unwrap();
    let key = cm_data.as_ref().and_then(|d| d.keys().next().cloned()).expect("the ConfigMap has data");
    let garbage = serde_json::json!({"data": {key: "garbage"}});
    maps.patch(&cm_name, &someone, &Patch::Merge(&garbage)).await.unwrap();
    rec::eventually("drift reverted", patience::settle(), || async {
        let d = deployments.get("demo-kong").await.unwrap();
        let m = maps.get(&cm_name).await.unwrap();
        if image(&d) == want && m.data == cm_data { Ok(()) } else { Err(format!("image {}", image(&d))) }
    })
    .await;

    // A label the reconciler does not set: kept, and nothing is rewritten over and over.
    let label = serde_json::json!({"metadata": {"labels": {"team": "a"}}});
    deployments.patch("demo-kong", &someone, &Patch::Merge(&label)).await.unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let before = versions(&env).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(versions(&env).await, before, "writes after a foreign change");
    let d = deployments.get("demo-kong").await.unwrap();
    assert_eq!(d.labels().get("team").map(String::as_str), Some("a"));
    reconciler.stop().await;
}

#[tokio::test]
async fn deleting_the_project_removes_every_owned_object() {
    let env = rec::project_env("delete-gc", "demo", MINIMAL_SPEC).await;
    let reconciler = rec::start(&env, "only");
    rec::roll_to_running(&env, "demo").await;
    assert!(versions(&env).await.len() > 10);

    env.kubectl().args(["delete", "sbp", "demo", "--wait=false"]).ok().await;
    rec::eventually("garbage collection", patience::settle(), || async {
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
