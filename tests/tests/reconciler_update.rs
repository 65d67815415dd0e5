//! Changes after a project runs: a spec change rolls the components again in order
//! (phase Updating), and a rotated Secret rolls exactly the pods that consume it.
// A panic is how a test reports failure.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::time::Duration;

use crds::Phase;
use harness::reconciler::{self as rec, MINIMAL_SPEC};
use harness::{deployments, patience};
use k8s_openapi::api::apps::v1::Deployment;
use reconciler::workloads::CONFIG_HASH_ANNOTATION;

fn image(d: &Deployment) -> String {
    d.spec.as_ref().and_then(|s| s.template.spec.as_ref()).and_then(|p| p.containers[0].image.clone()).unwrap()
}

fn hash(d: &Deployment) -> String {
    d.spec
        .as_ref()
        .and_then(|s| s.template.metadata.as_ref())
        .and_then(|m| m.annotations.as_ref())
        .and_then(|a| a.get(CONFIG_HASH_ANNOTATION).cloned())
        .expect("pod template has the config hash")
}

#[tokio::test]
async fn spec_change_updates_in_order_and_returns_to_running() {
    let env = rec::project_env("spec-change", "demo", MINIMAL_SPEC).await;
    let reconciler = rec::start(&env, "only");
    rec::roll_to_running(&env, "demo").await;
    let api = env.api::<Deployment>();

    // New images for Auth (2nd) and Storage (5th): Storage must wait for Auth.
    let spec = format!(
        "{MINIMAL_SPEC}components:\n  auth:\n    image: supabase/gotrue:v2.190.0\n  storage:\n    \
         image: supabase/storage-api:v1.61.0\n"
    );
    env.kubectl().args(["apply", "-f", "-"]).stdin(rec::admitted("demo", &spec)).ok().await;

    let p = rec::wait_phase(&env, "demo", Phase::Updating).await;
    assert_eq!(p.status.unwrap().message.as_deref(), Some("waiting for auth: 0/1 updated"));
    let auth = api.get("demo-auth").await.unwrap();
    assert_eq!(image(&auth), "supabase/gotrue:v2.190.0");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(image(&api.get("demo-storage").await.unwrap()), "supabase/storage-api:v1.74.0", "storage went early");

    deployments::mark_ready(&api, "demo-auth").await.unwrap();
    rec::eventually("storage updated", patience::settle(), || async {
        let s = api.get("demo-storage").await.unwrap();
        if image(&s) == "supabase/storage-api:v1.61.0" { Ok(()) } else { Err(image(&s)) }
    })
    .await;
    let p = rec::project(&env, "demo").await;
    assert_eq!(p.status.unwrap().phase, Some(Phase::Updating));
    deployments::mark_ready(&api, "demo-storage").await.unwrap();
    let p = rec::wait_phase(&env, "demo", Phase::Running).await;
    assert_eq!(p.status.unwrap().components["auth"].image.as_deref(), Some("supabase/gotrue:v2.190.0"));
    reconciler.stop().await;
}

#[tokio::test]
async fn rotated_secret_changes_the_pod_template_hash_of_its_consumers_only() {
    let env = rec::project_env("secret-rotation", "demo", MINIMAL_SPEC).await;
    let reconciler = rec::start(&env, "only");
    rec::roll_to_running(&env, "demo").await;
    let api = env.api::<Deployment>();
    let kong_before = hash(&api.get("demo-kong").await.unwrap());
    let auth_before = hash(&api.get("demo-auth").await.unwrap());

    // The database password changes: Auth (first consumer in order) rolls; Kong does not read it.
    env.kubectl().args(["apply", "-f", "-"]).stdin(rec::db_secret("db", "rotated")).ok().await;
    let auth_after = rec::eventually("auth's hash changes", patience::settle(), || async {
        let h = hash(&api.get("demo-auth").await.unwrap());
        if h != auth_before { Ok(h) } else { Err("unchanged".to_string()) }
    })
    .await;
    assert_eq!(auth_after.len(), 64);
    assert_eq!(hash(&api.get("demo-kong").await.unwrap()), kong_before, "kong does not consume the password");
    rec::wait_phase(&env, "demo", Phase::Updating).await;
    reconciler.stop().await;
}

#[tokio::test]
async fn a_ready_component_losing_its_pods_degrades_the_project_until_it_recovers() {
    let env = rec::project_env("degraded", "demo", MINIMAL_SPEC).await;
    let reconciler = rec::start(&env, "only");
    rec::roll_to_running(&env, "demo").await;
    let api = env.api::<Deployment>();

    // Rest's pod dies (the Deployment controller would report this).
    let lost = serde_json::json!({"status": {"readyReplicas": 0, "availableReplicas": 0}});
    api.patch_status("demo-rest", &kube::api::PatchParams::default(), &kube::api::Patch::Merge(&lost)).await.unwrap();
    let p = rec::wait_phase(&env, "demo", Phase::Degraded).await;
    let status = p.status.unwrap();
    assert_eq!(status.message.as_deref(), Some("rest is not ready: rest: 0/1 ready"));
    assert!(crds::conditions::is_true(&status.conditions, crds::conditions::DEGRADED));
    assert!(!crds::conditions::is_true(&status.conditions, "PostgRESTReady"));
    assert_eq!(status.ready_components.as_deref(), Some("5/6"));
    let warnings = env.kubectl().args(["get", "events", "--field-selector", "type=Warning", "-o", "name"]).ok().await;
    assert!(!warnings.trim().is_empty());

    deployments::mark_ready(&api, "demo-rest").await.unwrap();
    rec::wait_phase(&env, "demo", Phase::Running).await;
    // The recovery is an event (it closes the warning); the first rollout's readiness was not.
    let ready = rec::eventually("the recovery's event", Duration::from_secs(10), || async {
        let out = env
            .kubectl()
            .args(["get", "events", "--field-selector", "reason=ComponentReady", "-o", "custom-columns=M:.message"])
            .args(["--no-headers"])
            .ok()
            .await;
        if out.trim().is_empty() { Err("none yet".to_string()) } else { Ok(out) }
    })
    .await;
    assert_eq!(ready.lines().map(str::trim).collect::<Vec<_>>(), ["rest is ready again"], "{ready}");
    reconciler.stop().await;
}

#[tokio::test]
async fn studio_rolls_out_last_when_enabled_and_goes_away_when_disabled() {
    let env = rec::project_env("studio-toggle", "demo", MINIMAL_SPEC).await;
    let reconciler = rec::start(&env, "only");
    rec::roll_to_running(&env, "demo").await;
    let api = env.api::<Deployment>();

    let with_studio = format!("{MINIMAL_SPEC}components:\n  studio:\n    enabled: true\n");
    env.kubectl().args(["apply", "-f", "-"]).stdin(rec::admitted("demo", &with_studio)).ok().await;
    rec::wait_deployment(&env, "demo", crds::Component::Studio).await;
    let p = rec::wait_phase(&env, "demo", Phase::Updating).await;
    assert_eq!(p.status.unwrap().ready_components.as_deref(), Some("6/7"));
    deployments::mark_ready(&api, "demo-studio").await.unwrap();
    let p = rec::wait_phase(&env, "demo", Phase::Running).await;
    assert!(crds::conditions::is_true(&p.status.unwrap().conditions, "StudioReady"));

    env.kubectl().args(["apply", "-f", "-"]).stdin(rec::admitted("demo", MINIMAL_SPEC)).ok().await;
    rec::eventually("Studio removed", patience::settle(), || async {
        let d = api.get_opt("demo-studio").await.unwrap();
        let s = env.api::<k8s_openapi::api::core::v1::Service>().get_opt("demo-studio").await.unwrap();
        if d.is_none() && s.is_none() { Ok(()) } else { Err("still there".to_string()) }
    })
    .await;
    let p = rec::wait_phase(&env, "demo", Phase::Running).await;
    let status = p.status.unwrap();
    assert!(!status.components.contains_key("studio"));
    assert!(crds::conditions::find(&status.conditions, "StudioReady").is_none());
    assert_eq!(status.ready_components.as_deref(), Some("6/6"));
    reconciler.stop().await;
}
