//! Releases: a project created on the previous release is upgraded by changing
//! `spec.release` alone and rolls to the new one in rollout order; a component that
//! does not become ready stops the upgrade there (Degraded); setting the release back
//! rolls back in the same order; and a reconciler started anew (whose catalog's newest
//! release is newer than the projects') writes nothing to projects already running.
// A panic is how a test reports failure.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use crds::release;
use crds::{CATALOG, Component, Phase, SupabaseProject, conditions};
use harness::reconciler::{self as rec, MINIMAL_SPEC};
use harness::{TestEnv, deployments, patience};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::events::v1::Event;
use kube::api::{Patch, PatchParams};
use serde_json::json;

const PREVIOUS: &str = "0.8.0";
const NEWEST: &str = "0.8.1";

fn image(d: &Deployment) -> String {
    d.spec.as_ref().and_then(|s| s.template.spec.as_ref()).and_then(|p| p.containers[0].image.clone()).unwrap()
}

fn on(name: &str) -> String {
    format!("{MINIMAL_SPEC}release: \"{name}\"\n")
}

/// Changes `spec.release` as a user would (`kubectl patch --type merge`), with the
/// mutating webhook's answer to that UPDATE applied in the same write: the webhook
/// runs in-process here, on the stored spec and the sent one.
async fn set_release(env: &TestEnv, name: &str, to: &str) {
    let api = env.api::<SupabaseProject>();
    let stored = api.get(name).await.unwrap();
    let mut sent = serde_json::to_value(&stored.spec).unwrap();
    sent["release"] = json!(to);
    let text =
        webhook::mutate::patch_update(&sent, crds::Admitted::Stored(Default::default()), Some(&stored.spec)).unwrap();
    let mut object = json!({ "spec": sent });
    if let Some(text) = text {
        let p: json_patch::Patch = serde_json::from_slice(&text).unwrap();
        json_patch::patch(&mut object, &p).unwrap();
    }
    api.patch(name, &PatchParams::default(), &Patch::Merge(&object)).await.unwrap();
}

/// The components whose image differs between the two releases, in rollout order.
fn changing(from: &str, to: &str) -> Vec<Component> {
    let (a, b) = (release::find(from).unwrap(), release::find(to).unwrap());
    CATALOG.iter().map(|e| e.component).filter(|c| c.entry().enabled_by_default && a.image(*c) != b.image(*c)).collect()
}

/// Rolls the move from `from` to `to`: each changing component gets its new image only
/// once the one before is ready, and the later ones still run `from`'s image meanwhile.
async fn rolls_in_order(env: &TestEnv, name: &str, from: &str, to: &str) {
    let api = env.api::<Deployment>();
    let (a, b) = (release::find(from).unwrap(), release::find(to).unwrap());
    let order = changing(from, to);
    assert!(order.len() >= 4, "the releases differ in most components: {order:?}");
    for (i, c) in order.iter().enumerate() {
        let object = crds::names::component(name, *c);
        rec::eventually(&format!("{c} on {to}"), patience::settle(), || async {
            let d = api.get(&object).await.unwrap();
            if image(&d) == b.image(*c) { Ok(()) } else { Err(image(&d)) }
        })
        .await;
        for later in &order[i + 1..] {
            let d = api.get(&crds::names::component(name, *later)).await.unwrap();
            assert_eq!(image(&d), a.image(*later), "{later} went before {c} was ready");
        }
        // The status is written at the end of the reconcile that applied the image, so it
        // may still name the component before for a moment.
        let waiting = format!("waiting for {c}");
        let status = rec::eventually(&format!("the status waits for {c}"), patience::settle(), || async {
            let status = rec::project(env, name).await.status.unwrap_or_default();
            let message = status.message.clone().unwrap_or_default();
            if message.contains(&waiting) { Ok(status) } else { Err(message) }
        })
        .await;
        assert_eq!(status.phase, Some(Phase::Updating));
        let message = status.message.unwrap_or_default();
        assert!(message.starts_with(&format!("upgrading to {to} (")), "{message}");
        assert_eq!(status.release.as_deref(), Some(from), "the release before, until all run the new one");
        deployments::mark_ready(&api, &object).await.unwrap();
    }
    let p = rec::wait_phase(env, name, Phase::Running).await;
    let status = p.status.unwrap();
    assert_eq!(status.release.as_deref(), Some(to));
    for c in &order {
        let s = &status.components[c.name()];
        assert_eq!((s.image.as_deref(), s.release.as_deref()), (Some(b.image(*c)), Some(to)), "{c}");
    }
}

#[tokio::test]
async fn one_field_upgrades_in_rollout_order_and_rolls_back_the_same_way() {
    let env = rec::project_env("release-upgrade", "demo", &on(PREVIOUS)).await;
    let reconciler = rec::start(&env, "only");
    let p = rec::roll_to_running(&env, "demo").await;
    assert_eq!(p.status.unwrap().release.as_deref(), Some(PREVIOUS));

    set_release(&env, "demo", NEWEST).await;
    let p = rec::project(&env, "demo").await;
    assert_eq!(p.spec.release.as_deref(), Some(NEWEST));
    rolls_in_order(&env, "demo", PREVIOUS, NEWEST).await;

    set_release(&env, "demo", PREVIOUS).await;
    rolls_in_order(&env, "demo", NEWEST, PREVIOUS).await;
    reconciler.stop().await;
}

#[tokio::test]
async fn a_component_that_does_not_become_ready_stops_the_upgrade_there() {
    let env = rec::project_env("release-stalled", "demo", &on(PREVIOUS)).await;
    let reconciler = rec::start(&env, "only");
    rec::roll_to_running(&env, "demo").await;
    let api = env.api::<Deployment>();
    let first = changing(PREVIOUS, NEWEST)[0];
    let object = crds::names::component("demo", first);

    set_release(&env, "demo", NEWEST).await;
    rec::eventually("the first component rolls", patience::settle(), || async {
        let d = api.get(&object).await.unwrap();
        if image(&d) == release::find(NEWEST).unwrap().image(first) { Ok(()) } else { Err(image(&d)) }
    })
    .await;
    // The deployment controller gives up on the new pods, as after progressDeadlineSeconds:
    // the old pod still serves, the new one never became ready.
    let d = api.get(&object).await.unwrap();
    let stalled = json!({"status": {
        "observedGeneration": d.metadata.generation, "replicas": 2, "updatedReplicas": 1,
        "readyReplicas": 1, "availableReplicas": 1, "unavailableReplicas": 1,
        "conditions": [{"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded",
                        "message": "set by the test harness"}],
    }});
    api.patch_status(&object, &PatchParams::default(), &Patch::Merge(&stalled)).await.unwrap();

    let p = rec::wait_phase(&env, "demo", Phase::Degraded).await;
    let status = p.status.unwrap();
    let message = status.message.clone().unwrap_or_default();
    assert!(message.starts_with(&format!("upgrading to {NEWEST} (")), "{message}");
    assert!(
        message.contains(&format!("{first} is not ready (its rollout exceeded its progress deadline)")),
        "{message}"
    );
    assert!(conditions::is_true(&status.conditions, conditions::DEGRADED));
    assert_eq!(status.release.as_deref(), Some(PREVIOUS));
    // Stopped there: nothing after it moved.
    for later in &changing(PREVIOUS, NEWEST)[1..] {
        let d = api.get(&crds::names::component("demo", *later)).await.unwrap();
        assert_eq!(image(&d), release::find(PREVIOUS).unwrap().image(*later), "{later} moved past a stalled {first}");
    }
    let event = rec::eventually("a ComponentDegraded event", patience::settle(), || async {
        let events = env.api::<Event>().list(&Default::default()).await.unwrap();
        events
            .items
            .into_iter()
            .find(|e| e.reason.as_deref() == Some("ComponentDegraded"))
            .ok_or("none yet".to_string())
    })
    .await;
    assert_eq!(
        event.note.as_deref(),
        Some(format!("{first} did not become ready within its rollout's progress deadline").as_str())
    );

    // Rolling back puts the previous image back on it, and the project runs again.
    set_release(&env, "demo", PREVIOUS).await;
    rec::eventually("the first component rolled back", patience::settle(), || async {
        let d = api.get(&object).await.unwrap();
        if image(&d) == release::find(PREVIOUS).unwrap().image(first) { Ok(()) } else { Err(image(&d)) }
    })
    .await;
    deployments::mark_ready(&api, &object).await.unwrap();
    let p = rec::wait_phase(&env, "demo", Phase::Running).await;
    assert_eq!(p.status.unwrap().release.as_deref(), Some(PREVIOUS));
    reconciler.stop().await;
}

/// A project as an operator before `spec.release` stored it: every image written,
/// no release. `images` replaces some of the previous release's images.
fn stored_before_releases(name: &str, images: &[(Component, &str)]) -> String {
    let mut spec: crds::SupabaseProjectSpec = serde_yaml::from_str(&on(PREVIOUS)).unwrap();
    spec = crds::defaults(spec);
    for (c, i) in images {
        spec.workload_mut(*c).unwrap().image = Some(i.to_string());
    }
    spec.release = None;
    let mut value = serde_json::to_value(SupabaseProject::new(name, spec)).unwrap();
    value["spec"].as_object_mut().unwrap().remove("release");
    serde_yaml::to_string(&value).unwrap()
}

#[tokio::test]
async fn a_restarted_reconciler_with_a_newer_release_writes_nothing_to_running_projects() {
    assert_ne!(release::current().name, PREVIOUS, "the catalog's newest is newer than the project's");
    let env = TestEnv::new("release-restart").await.expect("test cluster");
    harness::crd::install(&env.client).await.expect("install CRD");
    env.kubectl().args(["apply", "-f", "-"]).stdin(rec::db_secret("db", "pw")).ok().await;
    // Stored by an operator before releases, on the previous release's images.
    env.kubectl().args(["apply", "-f", "-"]).stdin(stored_before_releases("legacy", &[])).ok().await;
    let first = rec::start(&env, "first");
    let p = rec::roll_to_running(&env, "legacy").await;
    first.stop().await;
    assert_eq!(p.spec.release, None, "stored without the field");
    assert_eq!(p.status.as_ref().unwrap().release.as_deref(), Some(PREVIOUS), "inferred from its images");
    let deployments_api = env.api::<Deployment>();
    let before = deployments_api.list(&Default::default()).await.unwrap();
    let versions = |l: &[Deployment]| -> Vec<_> {
        l.iter().map(|d| (d.metadata.name.clone(), d.metadata.resource_version.clone(), image(d))).collect()
    };

    let writes = rec::writes_of_a_fresh_start(&env).await;
    assert!(writes.is_empty(), "writes to a running project: {writes:?}");
    let after = rec::project(&env, "legacy").await;
    assert_eq!(after.metadata.resource_version, p.metadata.resource_version);
    assert_eq!(after.spec.release, None);
    let now = deployments_api.list(&Default::default()).await.unwrap();
    assert_eq!(versions(&now.items), versions(&before.items));
    assert!(before.items.iter().all(|d| image(d) == release::find(PREVIOUS).unwrap().image(component_of(d))));
}

fn component_of(d: &Deployment) -> Component {
    let name = d.metadata.name.as_deref().unwrap();
    Component::from_name(name.rsplit_once('-').unwrap().1).unwrap()
}
