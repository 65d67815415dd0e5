//! Storage's files on a PersistentVolumeClaim, on the real apiserver with the garbage
//! collector: a new project's claim is created before the Deployment that mounts it at
//! the file backend's root, survives the project's deletion by default and goes with it
//! under `whenDeleted: delete` (its owner reference following `whenDeleted` both ways);
//! a restarted reconciler does not rewrite it; a project stored before claims existed keeps its emptyDir
//! until its owner sets `spec.storage.volume`, and then switches its running Deployment
//! to the claim (and to the Recreate strategy a ReadWriteOnce claim needs).
// A panic is how a test reports failure.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use crds::{Admitted, SupabaseProject, SupabaseProjectSpec};
use harness::kubectl::Kubectl;
use harness::reconciler::{self as rec, MINIMAL_SPEC};
use harness::{TestEnv, patience};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, PersistentVolumeClaim, PodSpec, Secret, Service};
use kube::ResourceExt;
use kube::api::ListParams;

/// Upstream's file backend root (supabase/supabase docker/docker-compose.yml @ 1f37f2a9d82d,
/// `FILE_STORAGE_BACKEND_PATH` and the bind mount).
const FILE_ROOT: &str = "/var/lib/storage";

/// A project as the mutating webhook stores it on CREATE.
fn created(name: &str, spec_yaml: &str) -> String {
    let spec: SupabaseProjectSpec = serde_yaml::from_str(spec_yaml).expect("spec parses");
    let project = SupabaseProject::new(name, crds::defaults_as(spec, Admitted::Created));
    serde_yaml::to_string(&project).expect("project serializes")
}

async fn env_with(test: &str, manifest: String) -> TestEnv {
    let env = TestEnv::new(test).await.expect("test cluster");
    harness::crd::install(&env.client).await.expect("install CRD");
    env.kubectl().args(["apply", "-f", "-"]).stdin(rec::db_secret("db", "pw")).ok().await;
    env.kubectl().args(["apply", "-f", "-"]).stdin(manifest).ok().await;
    env
}

fn pod(d: &Deployment) -> PodSpec {
    d.spec.as_ref().and_then(|s| s.template.spec.clone()).expect("pod spec")
}

/// The source of the volume mounted at the file root: `Ok(claim)` or `Err(kind)`.
fn file_root_source(d: &Deployment) -> Result<String, String> {
    let pod = pod(d);
    let mount = pod.containers[0]
        .volume_mounts
        .iter()
        .flatten()
        .find(|m| m.mount_path == FILE_ROOT)
        .unwrap_or_else(|| panic!("nothing mounted at {FILE_ROOT}"));
    let volume = pod.volumes.iter().flatten().find(|v| v.name == mount.name).expect("the mounted volume");
    match (&volume.persistent_volume_claim, &volume.empty_dir) {
        (Some(c), _) => Ok(c.claim_name.clone()),
        (None, Some(_)) => Err("emptyDir".into()),
        _ => Err(format!("{volume:?}")),
    }
}

fn strategy(d: &Deployment) -> Option<String> {
    d.spec.as_ref().and_then(|s| s.strategy.as_ref()).and_then(|s| s.type_.clone())
}

/// Waits until the garbage collector has removed every object the project owns.
async fn collected(env: &TestEnv, project: &str) {
    rec::eventually("garbage collection of the project's objects", patience::settle(), || async {
        let lp = ListParams::default().labels(&format!("app.kubernetes.io/instance={project}"));
        let left = env.api::<Deployment>().list(&lp).await.unwrap().items.len()
            + env.api::<Service>().list(&lp).await.unwrap().items.len()
            + env.api::<ConfigMap>().list(&lp).await.unwrap().items.len()
            + env.api::<Secret>().list(&lp).await.unwrap().items.len();
        if left == 0 { Ok(()) } else { Err(format!("{left} objects left")) }
    })
    .await;
}

#[tokio::test]
async fn a_new_projects_claim_is_mounted_and_outlives_the_project() {
    let env = env_with("claim-retained", created("demo", MINIMAL_SPEC)).await;
    let reconciler = rec::start(&env, "only");
    rec::roll_to_running(&env, "demo").await;

    let claim: PersistentVolumeClaim = env.api().get("demo-storage").await.expect("the claim exists");
    let labels = claim.labels();
    assert_eq!(labels.get("app.kubernetes.io/instance").map(String::as_str), Some("demo"));
    assert_eq!(labels.get("app.kubernetes.io/managed-by").map(String::as_str), Some("supabase-operator"));
    assert!(claim.owner_references().is_empty(), "a retained claim has no owner: {:?}", claim.owner_references());
    let spec = claim.spec.clone().unwrap();
    assert_eq!(spec.access_modes, Some(vec!["ReadWriteOnce".to_string()]));
    let size = spec.resources.and_then(|r| r.requests).and_then(|r| r.get("storage").cloned());
    assert_eq!(size.map(|q| q.0), Some("1Gi".to_string()));

    let storage: Deployment = env.api().get("demo-storage").await.unwrap();
    assert_eq!(file_root_source(&storage), Ok("demo-storage".to_string()));
    assert_eq!(strategy(&storage).as_deref(), Some("Recreate"), "a ReadWriteOnce claim cannot roll");

    // A restarted reconciler checks the claim (the cache is all it has) and writes nothing.
    reconciler.stop().await;
    let second = rec::start(&env, "second");
    rec::eventually("a full reconcile by the new reconciler", patience::settle(), || async {
        let n = second.metrics.reconcile_count(reconciler::Outcome::Success);
        if n >= 1 { Ok(()) } else { Err(format!("{n} reconciles")) }
    })
    .await;
    let again: PersistentVolumeClaim = env.api().get("demo-storage").await.unwrap();
    assert_eq!(again.resource_version(), claim.resource_version(), "the claim was rewritten");

    env.kubectl().args(["delete", "sbp", "demo", "--wait=false"]).ok().await;
    collected(&env, "demo").await;
    let left = env.api::<PersistentVolumeClaim>().get_opt("demo-storage").await.unwrap();
    let left = left.expect("the claim outlives its project");
    assert!(left.metadata.deletion_timestamp.is_none(), "the claim is not being deleted");
    second.stop().await;
}

#[tokio::test]
async fn a_claim_with_when_deleted_delete_goes_with_its_project() {
    let spec = format!("{MINIMAL_SPEC}storage:\n  volume:\n    size: 2Gi\n    whenDeleted: delete\n");
    let env = env_with("claim-deleted", created("demo", &spec)).await;
    let reconciler = rec::start(&env, "only");
    rec::roll_to_running(&env, "demo").await;
    let project = rec::project(&env, "demo").await;

    let claim: PersistentVolumeClaim = env.api().get("demo-storage").await.expect("the claim exists");
    let owners = claim.owner_references();
    assert_eq!(owners.len(), 1, "{owners:?}");
    assert_eq!((owners[0].uid.as_str(), owners[0].kind.as_str()), (project.uid().unwrap().as_str(), "SupabaseProject"));
    let size = claim.spec.and_then(|s| s.resources).and_then(|r| r.requests).and_then(|r| r.get("storage").cloned());
    assert_eq!(size.map(|q| q.0), Some("2Gi".to_string()));

    // The owner reference follows `whenDeleted` both ways on the existing claim.
    for (when, owners) in [("retain", 0), ("delete", 1)] {
        let patch = format!(r#"{{"spec":{{"storage":{{"volume":{{"whenDeleted":"{when}"}}}}}}}}"#);
        env.kubectl().args(["patch", "sbp", "demo", "--type=merge", "-p", &patch]).ok().await;
        rec::eventually(&format!("{owners} owner(s) with {when}"), patience::settle(), || async {
            let c: PersistentVolumeClaim = env.api().get("demo-storage").await.unwrap();
            let n = c.owner_references().len();
            if n == owners { Ok(()) } else { Err(format!("{n} owners")) }
        })
        .await;
    }

    env.kubectl().args(["delete", "sbp", "demo", "--wait=false"]).ok().await;
    rec::eventually("the claim deleted with its project", patience::settle(), || async {
        match env.api::<PersistentVolumeClaim>().get_opt("demo-storage").await.unwrap() {
            None => Ok(()),
            Some(c) => Err(format!("still there; deletionTimestamp {:?}", c.metadata.deletion_timestamp)),
        }
    })
    .await;
    reconciler.stop().await;
}

#[tokio::test]
async fn a_stored_project_keeps_its_emptydir_until_its_owner_sets_a_volume() {
    // `admitted` defaults as for a stored object: what a project stored before claims
    // existed looks like.
    let env = env_with("claim-stored", rec::admitted("demo", MINIMAL_SPEC)).await;
    let reconciler = rec::start(&env, "only");
    rec::roll_to_running(&env, "demo").await;
    let storage: Deployment = env.api().get("demo-storage").await.unwrap();
    assert_eq!(file_root_source(&storage), Err("emptyDir".to_string()));
    assert_eq!(strategy(&storage).as_deref(), Some("RollingUpdate"));
    assert!(env.api::<PersistentVolumeClaim>().get_opt("demo-storage").await.unwrap().is_none());

    env.kubectl()
        .args(["patch", "sbp", "demo", "--type=merge", "-p", r#"{"spec":{"storage":{"volume":{}}}}"#])
        .ok()
        .await;
    let storage = rec::eventually("the Deployment on the claim", patience::settle(), || async {
        let d: Deployment = env.api().get("demo-storage").await.unwrap();
        match (file_root_source(&d), strategy(&d)) {
            (Ok(claim), Some(s)) if s == "Recreate" => Ok((claim, d)),
            other => Err(format!("{other:?}")),
        }
    })
    .await;
    assert_eq!(storage.0, "demo-storage");
    let rolling = storage.1.spec.and_then(|s| s.strategy).and_then(|s| s.rolling_update);
    assert!(rolling.is_none(), "{rolling:?}");
    assert!(env.api::<PersistentVolumeClaim>().get_opt("demo-storage").await.unwrap().is_some());
    reconciler.stop().await;
}

#[tokio::test]
async fn the_shipped_reconciler_role_may_manage_claims_but_not_delete_them() {
    let env = TestEnv::new("claim-rbac").await.expect("test cluster");
    for file in ["config/rbac/namespace.yaml", "config/rbac/reconciler.yaml"] {
        let path = harness::repo_path(file).display().to_string();
        Kubectl::new(&env.kubeconfig, "supabase-operator-system").args(["apply", "-f", &path]).ok().await;
    }
    let sa = "system:serviceaccount:supabase-operator-system:supabase-operator-reconciler";
    for (verb, allowed) in
        [("get", true), ("list", true), ("watch", true), ("create", true), ("patch", true), ("delete", false)]
    {
        let out = env.kubectl().args(["auth", "can-i", verb, "persistentvolumeclaims", "--as", sa]).run().await;
        let answer = out.stdout.trim().to_string();
        assert_eq!(answer, if allowed { "yes" } else { "no" }, "{verb} persistentvolumeclaims");
    }
}
