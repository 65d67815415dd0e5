//! Storage's volume claim and the Deployment that mounts it.

use crds::{Admitted, CATALOG, Component, SupabaseProject, SupabaseProjectSpec};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::PersistentVolumeClaim;

use super::fixtures::{FULL, minimal, project};
use super::{ComponentObjects, claim_update, component};

/// Upstream's file root (supabase/supabase docker/docker-compose.yml @ 1f37f2a9d82d).
const FILE_ROOT: &str = "/var/lib/storage";
const UID: &str = "0b5c1f5e-1111-2222-3333-444455556666";

/// A project as the webhook stores it on CREATE.
fn created(spec_yaml: &str) -> SupabaseProject {
    let spec: SupabaseProjectSpec = serde_yaml::from_str(spec_yaml).expect("spec parses");
    let mut p = SupabaseProject::new("demo", crds::defaults_as(spec, Admitted::Created));
    p.metadata.namespace = Some("ns".into());
    p.metadata.uid = Some(UID.into());
    p
}

const MINIMAL: &str = "apiExternalUrl: https://api.demo.example.com\ndatabase: {secretRef: {name: demo-db}}\n";

fn storage(p: &SupabaseProject) -> ComponentObjects {
    component(p, Component::Storage, "h").expect("renders")
}

/// What the file root is on: `Ok(claim name)` or `Err("emptyDir")`.
fn file_root(d: &Deployment) -> Result<String, String> {
    let pod = d.spec.as_ref().and_then(|s| s.template.spec.clone()).expect("pod");
    let mounts = pod.containers[0].volume_mounts.clone().unwrap_or_default();
    let mount = mounts.iter().find(|m| m.mount_path == FILE_ROOT).ok_or("nothing mounted")?;
    let volume = pod.volumes.unwrap_or_default().into_iter().find(|v| v.name == mount.name).ok_or("no volume")?;
    match (volume.persistent_volume_claim, volume.empty_dir) {
        (Some(c), _) => Ok(c.claim_name),
        (None, Some(_)) => Err("emptyDir".into()),
        _ => Err("another kind".into()),
    }
}

fn strategy(d: &Deployment) -> serde_json::Value {
    serde_json::to_value(d.spec.as_ref().and_then(|s| s.strategy.clone())).expect("json")
}

fn size(c: &PersistentVolumeClaim) -> Option<String> {
    c.spec.as_ref()?.resources.as_ref()?.requests.as_ref()?.get("storage").map(|q| q.0.clone())
}

#[test]
fn a_new_file_project_mounts_a_retained_claim_and_recreates_its_pod() {
    let o = storage(&created(MINIMAL));
    let claim = o.claim.expect("a claim");
    assert_eq!(claim.metadata.name.as_deref(), Some("demo-storage"));
    assert_eq!(claim.metadata.namespace.as_deref(), Some("ns"));
    assert_eq!(claim.metadata.owner_references, None, "retained: deleting the project leaves it");
    let labels = claim.metadata.labels.clone().unwrap_or_default();
    assert_eq!(labels.get("app.kubernetes.io/instance").map(String::as_str), Some("demo"));
    assert_eq!(labels.get("app.kubernetes.io/component").map(String::as_str), Some("storage"));
    assert_eq!(labels.get("app.kubernetes.io/managed-by").map(String::as_str), Some(crds::MANAGER));
    let spec = claim.spec.clone().expect("spec");
    assert_eq!(spec.access_modes, Some(vec!["ReadWriteOnce".to_string()]));
    assert_eq!(spec.storage_class_name, None, "the cluster's default class");
    assert_eq!(size(&claim).as_deref(), Some("1Gi"));

    assert_eq!(file_root(&o.deployment), Ok("demo-storage".to_string()));
    assert_eq!(strategy(&o.deployment), serde_json::json!({"type": "Recreate"}));
}

#[test]
fn when_deleted_delete_makes_the_project_own_the_claim_with_the_class_asked_for() {
    let o = storage(&created(&format!(
        "{MINIMAL}storage: {{volume: {{size: 5Gi, storageClassName: fast, whenDeleted: delete}}}}\n"
    )));
    let claim = o.claim.expect("a claim");
    let owners = claim.metadata.owner_references.clone().unwrap_or_default();
    assert_eq!(owners.len(), 1);
    assert_eq!((owners[0].uid.as_str(), owners[0].controller), (UID, Some(true)));
    assert_eq!(claim.spec.as_ref().and_then(|s| s.storage_class_name.as_deref()), Some("fast"));
    assert_eq!(size(&claim).as_deref(), Some("5Gi"));
}

#[test]
fn a_read_write_many_claim_keeps_rolling_updates() {
    let o = storage(&created(&format!("{MINIMAL}storage: {{volume: {{accessModes: [ReadWriteMany]}}}}\n")));
    assert_eq!(file_root(&o.deployment), Ok("demo-storage".to_string()));
    assert_eq!(strategy(&o.deployment)["type"], "RollingUpdate");
    let modes = o.claim.and_then(|c| c.spec).and_then(|s| s.access_modes);
    assert_eq!(modes, Some(vec!["ReadWriteMany".to_string()]));
}

#[test]
fn a_stored_project_without_a_volume_keeps_its_emptydir() {
    let o = storage(&minimal());
    assert!(o.claim.is_none());
    assert_eq!(file_root(&o.deployment), Err("emptyDir".to_string()));
    // Kubernetes' own defaults, written out so the reconciler owns them (see storage.rs).
    assert_eq!(
        strategy(&o.deployment),
        serde_json::json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}})
    );
}

#[test]
fn the_s3_backend_mounts_no_claim_even_when_the_spec_has_one() {
    let spec = FULL.replace("storage:\n  backend: s3\n", "storage:\n  backend: s3\n  volume: {size: 1Gi}\n");
    assert_ne!(spec, FULL, "the fixture has the s3 backend");
    let o = storage(&project(&spec));
    assert!(o.claim.is_none());
    assert_eq!(file_root(&o.deployment), Err("nothing mounted".to_string()));
}

#[test]
fn only_storage_has_a_claim_or_a_strategy() {
    let p = created(MINIMAL);
    for e in CATALOG.iter().filter(|e| e.component != Component::Storage) {
        let o = component(&p, e.component, "h").expect("renders");
        assert!(o.claim.is_none(), "{}", e.name);
        assert_eq!(o.deployment.spec.and_then(|s| s.strategy), None, "{}", e.name);
    }
}

#[test]
fn an_existing_claim_is_applied_only_what_may_change() {
    let full =
        storage(&created(&format!("{MINIMAL}storage: {{volume: {{storageClassName: fast, whenDeleted: delete}}}}\n")))
            .claim
            .expect("a claim");
    let update = serde_json::to_value(claim_update(&full)).expect("json");
    assert_eq!(update["spec"], serde_json::json!({"resources": {"requests": {"storage": "1Gi"}}}));
    assert_eq!(update["metadata"], serde_json::to_value(&full.metadata).expect("json"), "labels and owner");
}
