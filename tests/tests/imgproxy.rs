//! imgproxy on the real apiserver with the garbage collector: enabling it on a running
//! project renders its Deployment and Service (owned by the project, on Storage's claim,
//! read-only, beside Storage's pod on a ReadWriteOnce claim), changes Storage's env (so
//! Storage's pods roll), settles without writes, and disabling it removes both and turns
//! Storage's transformations off again; deleting the project collects what is left. And
//! the webhook's rule: no imgproxy beside an emptyDir, a warning on a ReadWriteOnce claim.
// A panic is how a test reports failure.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use crds::{Admitted, Component, SupabaseProject, SupabaseProjectSpec};
use harness::reconciler::{self as rec, MINIMAL_SPEC};
use harness::{TestEnv, patience};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{PodSpec, Service};
use kube::ResourceExt;
use kube::api::ListParams;

/// Storage's file root (supabase/supabase docker/docker-compose.yml @ 1f37f2a9d82d), which
/// imgproxy reads at the same path, since Storage sends it `local:///var/lib/storage/...`.
const FILE_ROOT: &str = "/var/lib/storage";

fn created(name: &str, spec_yaml: &str) -> String {
    let spec: SupabaseProjectSpec = serde_yaml::from_str(spec_yaml).expect("spec parses");
    serde_yaml::to_string(&SupabaseProject::new(name, crds::defaults_as(spec, Admitted::Created))).expect("serializes")
}

fn pod(d: &Deployment) -> PodSpec {
    d.spec.as_ref().and_then(|s| s.template.spec.clone()).expect("pod spec")
}

fn env_of(d: &Deployment, name: &str) -> Option<String> {
    pod(d).containers[0].env.iter().flatten().find(|v| v.name == name).map(|v| v.value.clone().unwrap_or_default())
}

fn hostname_affinity(d: &Deployment) -> bool {
    let terms = pod(d)
        .affinity
        .and_then(|a| a.pod_affinity)
        .and_then(|p| p.required_during_scheduling_ignored_during_execution)
        .unwrap_or_default();
    terms.iter().any(|t| t.topology_key == "kubernetes.io/hostname")
}

async fn set_enabled(env: &TestEnv, enabled: bool) {
    let patch = format!(r#"{{"spec":{{"components":{{"imgproxy":{{"enabled":{enabled}}}}}}}}}"#);
    env.kubectl().args(["patch", "sbp", "demo", "--type=merge", "-p", &patch]).ok().await;
}

#[tokio::test]
async fn imgproxy_is_rendered_owned_and_removed_and_storage_follows() {
    let env = TestEnv::new("imgproxy").await.expect("test cluster");
    harness::crd::install(&env.client).await.expect("install CRD");
    env.kubectl().args(["apply", "-f", "-"]).stdin(rec::db_secret("db", "pw")).ok().await;
    // A new project: the file backend on the default ReadWriteOnce claim.
    env.kubectl().args(["apply", "-f", "-"]).stdin(created("demo", MINIMAL_SPEC)).ok().await;
    let reconciler = rec::start(&env, "first");
    let project = rec::roll_to_running(&env, "demo").await;
    let deployments = env.api::<Deployment>();
    assert!(deployments.get_opt("demo-imgproxy").await.unwrap().is_none(), "imgproxy is opt-in");
    let storage_before: Deployment = deployments.get("demo-storage").await.unwrap();
    assert_eq!(env_of(&storage_before, "ENABLE_IMAGE_TRANSFORMATION").as_deref(), Some("false"));

    set_enabled(&env, true).await;
    let imgproxy = rec::wait_deployment(&env, "demo", Component::Imgproxy).await;
    let owners = imgproxy.owner_references();
    assert_eq!(owners.len(), 1, "{owners:?}");
    assert_eq!(owners[0].uid, project.uid().unwrap());
    assert_eq!(owners[0].controller, Some(true));
    assert_eq!(imgproxy.labels().get("app.kubernetes.io/component").map(String::as_str), Some("imgproxy"));
    let service: Service = env.api().get("demo-imgproxy").await.expect("imgproxy's Service");
    assert_eq!(service.owner_references()[0].uid, project.uid().unwrap());
    let port = service.spec.and_then(|s| s.ports).unwrap_or_default().first().map(|p| p.port);
    assert_eq!(port, Some(5001));
    let spec = pod(&imgproxy);
    let mount = spec.containers[0].volume_mounts.iter().flatten().find(|m| m.mount_path == FILE_ROOT).cloned();
    let mount = mount.expect("Storage's file root is mounted");
    assert_eq!(mount.read_only, Some(true));
    let volume = spec.volumes.iter().flatten().find(|v| v.name == mount.name).cloned().expect("its volume");
    let claim = volume.persistent_volume_claim.expect("a claim");
    assert_eq!((claim.claim_name.as_str(), claim.read_only), ("demo-storage", Some(true)));
    assert!(hostname_affinity(&imgproxy), "imgproxy stays on Storage's node on a ReadWriteOnce claim");

    // Rollout order: imgproxy before Storage. Storage is changed only once imgproxy is ready,
    // and nothing marks imgproxy ready until the next line.
    let unchanged: Deployment = deployments.get("demo-storage").await.unwrap();
    assert_eq!(env_of(&unchanged, "ENABLE_IMAGE_TRANSFORMATION").as_deref(), Some("false"), "Storage went first");
    assert_eq!(unchanged.metadata.generation, storage_before.metadata.generation);
    harness::deployments::mark_ready(&deployments, "demo-imgproxy").await.expect("mark ready");
    let storage = rec::eventually("Storage with image transformation", patience::settle(), || async {
        let d: Deployment = deployments.get("demo-storage").await.unwrap();
        match env_of(&d, "ENABLE_IMAGE_TRANSFORMATION").as_deref() {
            Some("true") => Ok(d),
            other => Err(format!("ENABLE_IMAGE_TRANSFORMATION {other:?}")),
        }
    })
    .await;
    assert_eq!(env_of(&storage, "IMGPROXY_URL").as_deref(), Some("http://demo-imgproxy:5001"));
    assert!(hostname_affinity(&storage), "Storage stays on imgproxy's node");
    // A new pod template: the Deployment rolls Storage's pods.
    assert!(storage.metadata.generation > storage_before.metadata.generation);
    harness::deployments::mark_ready(&deployments, "demo-storage").await.expect("mark ready");
    rec::wait_phase(&env, "demo", crds::Phase::Running).await;
    let p = rec::project(&env, "demo").await;
    let status = p.status.clone().unwrap_or_default();
    assert!(status.components.contains_key("imgproxy"), "{:?}", status.components);
    assert!(
        status.conditions.iter().any(|c| c.type_ == "ImgproxyReady" && c.status == "True"),
        "{:?}",
        status.conditions
    );

    // Steady state: a new reconciler writes nothing.
    reconciler.stop().await;
    let writes = rec::writes_of_a_fresh_start(&env).await;
    assert!(writes.is_empty(), "writes at steady state: {writes:?}");
    let second = rec::start(&env, "second");

    // Disabling removes imgproxy's objects and turns Storage's transformations off.
    set_enabled(&env, false).await;
    rec::eventually("imgproxy removed", patience::settle(), || async {
        let d = deployments.get_opt("demo-imgproxy").await.unwrap();
        let s = env.api::<Service>().get_opt("demo-imgproxy").await.unwrap();
        if d.is_none() && s.is_none() {
            Ok(())
        } else {
            Err(format!("deployment {}, service {}", d.is_some(), s.is_some()))
        }
    })
    .await;
    rec::eventually("Storage without image transformation", patience::settle(), || async {
        let d: Deployment = deployments.get("demo-storage").await.unwrap();
        match (env_of(&d, "ENABLE_IMAGE_TRANSFORMATION").as_deref(), env_of(&d, "IMGPROXY_URL"), hostname_affinity(&d))
        {
            (Some("false"), None, false) => Ok(()),
            other => Err(format!("{other:?}")),
        }
    })
    .await;
    harness::deployments::mark_ready(&deployments, "demo-storage").await.expect("mark ready");

    // Enabled again, then the project deleted: the garbage collector takes imgproxy too.
    set_enabled(&env, true).await;
    rec::wait_deployment(&env, "demo", Component::Imgproxy).await;
    env.kubectl().args(["delete", "sbp", "demo", "--wait=false"]).ok().await;
    rec::eventually("garbage collection of imgproxy", patience::settle(), || async {
        let lp = ListParams::default().labels("app.kubernetes.io/instance=demo,app.kubernetes.io/component=imgproxy");
        let left = deployments.list(&lp).await.unwrap().items.len()
            + env.api::<Service>().list(&lp).await.unwrap().items.len();
        if left == 0 { Ok(()) } else { Err(format!("{left} objects left")) }
    })
    .await;
    second.stop().await;
}

/// Through the real apiserver and webhook: a project stored before claims existed (its
/// files in an emptyDir) is refused imgproxy, naming `spec.storage.volume`; a new project
/// (the default ReadWriteOnce claim) gets it with a warning that both share a node.
#[tokio::test]
async fn the_webhook_refuses_imgproxy_without_a_claim_and_warns_on_a_read_write_once_one() {
    let env = TestEnv::new("imgproxy-webhook").await.expect("test cluster");
    harness::crd::install(&env.client).await.expect("install CRD");
    env.kubectl().args(["apply", "-f", "-"]).stdin(rec::db_secret("db", "pw")).ok().await;
    // Stored before the webhook is there, defaulted as a stored object: no claim.
    env.kubectl().args(["apply", "-f", "-"]).stdin(rec::admitted("legacy", MINIMAL_SPEC)).ok().await;
    let server = harness::webhook::start(env.client.clone(), &[]).await;
    let registration = harness::webhook::register(&env, server.running.tls_addr, &server.ca.pem()).await;

    let on = r#"{"spec":{"components":{"imgproxy":{"enabled":true}}}}"#;
    let out = env.kubectl().args(["patch", "sbp", "legacy", "--type=merge", "-p", on]).run().await;
    assert!(!out.success, "imgproxy admitted beside an emptyDir: {}", out.stdout);
    assert!(
        out.stderr.contains("spec.storage.volume: Required value: spec.components.imgproxy.enabled is true"),
        "{}",
        out.stderr
    );
    let stored = rec::project(&env, "legacy").await;
    assert!(!stored.spec.enabled(Component::Imgproxy));

    let new = "apiVersion: supabase-operator.io/v1alpha1\nkind: SupabaseProject\nmetadata: {name: fresh}\nspec:\n  \
               apiExternalUrl: https://api.example.com\n  database: {secretRef: {name: db}}\n  \
               components: {imgproxy: {enabled: true}}\n";
    let out = env.kubectl().args(["apply", "-f", "-"]).stdin(new).run().await;
    assert!(out.success, "{}", out.stderr);
    assert!(out.stderr.contains("spec.storage.volume.accessModes: ReadWriteOnce: imgproxy"), "{}", out.stderr);
    let fresh = rec::project(&env, "fresh").await;
    assert!(fresh.spec.enabled(Component::Imgproxy));
    assert_eq!(
        fresh.spec.workload(Component::Imgproxy).and_then(|w| w.image.as_deref()),
        Some(Component::Imgproxy.entry().image()),
        "the webhook fills imgproxy's image from the release"
    );
    registration.remove().await;
    server.running.shutdown().await;
}
