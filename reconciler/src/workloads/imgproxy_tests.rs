//! imgproxy and what it changes in Storage: the env Storage gets, the claim imgproxy
//! reads, and the node the two share on a ReadWriteOnce claim.

use std::collections::BTreeMap;

use crds::{Component, SupabaseProject};
use k8s_openapi::api::core::v1::{EnvVar, PodAffinityTerm, PodSpec};

use super::component;
use super::fixtures::{full, minimal, project, with_imgproxy};

fn pod(p: &SupabaseProject, c: Component) -> (BTreeMap<String, String>, PodSpec) {
    let d = component(p, c, "h").expect("renders").deployment;
    let t = d.spec.expect("spec").template;
    (t.metadata.and_then(|m| m.labels).unwrap_or_default(), t.spec.expect("pod"))
}

fn env(spec: &PodSpec, name: &str) -> Option<String> {
    let vars: Vec<EnvVar> = spec.containers[0].env.clone().unwrap_or_default();
    vars.into_iter().find(|v| v.name == name).map(|v| v.value.unwrap_or_default())
}

fn required_terms(spec: &PodSpec) -> Vec<PodAffinityTerm> {
    spec.affinity
        .as_ref()
        .and_then(|a| a.pod_affinity.as_ref())
        .and_then(|p| p.required_during_scheduling_ignored_during_execution.clone())
        .unwrap_or_default()
}

/// Whether `term` selects a pod labelled `labels` (match labels and `In` expressions, what
/// the reconciler renders; any other operator fails the test).
fn selects(term: &PodAffinityTerm, labels: &BTreeMap<String, String>) -> bool {
    let selector = term.label_selector.clone().unwrap_or_default();
    let want = selector.match_labels.unwrap_or_default();
    let expressions = selector.match_expressions.unwrap_or_default();
    assert!(!want.is_empty() || !expressions.is_empty(), "an empty selector selects every pod");
    let expressions_hold = expressions.iter().all(|e| {
        assert_eq!(e.operator, "In", "{e:?}");
        labels.get(&e.key).is_some_and(|v| e.values.iter().flatten().any(|w| w == v))
    });
    want.iter().all(|(k, v)| labels.get(k) == Some(v)) && expressions_hold
}

fn rwo_project() -> SupabaseProject {
    with_imgproxy(project(
        "apiExternalUrl: https://api.demo.example.com\ndatabase: {secretRef: {name: demo-db}}\n\
         storage: {volume: {accessModes: [ReadWriteOnce]}}\n",
    ))
}

#[test]
fn storage_turns_transformations_on_and_finds_imgproxy_only_when_it_is_enabled() {
    let (_, off) = pod(&minimal(), Component::Storage);
    assert_eq!(env(&off, "ENABLE_IMAGE_TRANSFORMATION").as_deref(), Some("false"));
    assert_eq!(env(&off, "IMGPROXY_URL"), None);
    let (_, on) = pod(&rwo_project(), Component::Storage);
    assert_eq!(env(&on, "ENABLE_IMAGE_TRANSFORMATION").as_deref(), Some("true"));
    // The Service of the project `demo`'s imgproxy, on upstream's port.
    assert_eq!(env(&on, "IMGPROXY_URL").as_deref(), Some("http://demo-imgproxy:5001"));
    let service = component(&rwo_project(), Component::Imgproxy, "h").expect("renders").service;
    assert_eq!(service.metadata.name.as_deref(), Some("demo-imgproxy"));
}

#[test]
fn on_the_file_backend_imgproxy_reads_storages_claim_read_only_at_storages_path() {
    let (_, spec) = pod(&rwo_project(), Component::Imgproxy);
    let mount = spec.containers[0]
        .volume_mounts
        .clone()
        .unwrap_or_default()
        .into_iter()
        .find(|m| m.mount_path == "/var/lib/storage")
        .expect("the file root is mounted");
    assert_eq!(mount.read_only, Some(true));
    let volume = spec.volumes.clone().unwrap_or_default().into_iter().find(|v| v.name == mount.name).expect("volume");
    let claim = volume.persistent_volume_claim.expect("a claim");
    assert_eq!((claim.claim_name.as_str(), claim.read_only), ("demo-storage", Some(true)));
    // Storage's group, so nothing imgproxy's pod does to the volume changes its files' group.
    let storage_uid = Component::Storage.entry().user;
    assert_eq!(spec.security_context.as_ref().and_then(|s| s.fs_group), Some(storage_uid));
    assert_eq!(spec.containers[0].security_context.as_ref().and_then(|s| s.run_as_user), Some(999));
    assert_eq!(env(&spec, "IMGPROXY_LOCAL_FILESYSTEM_ROOT").as_deref(), Some("/"));
    assert_eq!(env(&spec, "IMGPROXY_BIND").as_deref(), Some(":5001"));
}

#[test]
fn on_a_read_write_once_claim_storage_and_imgproxy_require_each_others_node() {
    let p = rwo_project();
    let (storage_labels, storage) = pod(&p, Component::Storage);
    let (imgproxy_labels, imgproxy) = pod(&p, Component::Imgproxy);
    for (who, spec, other, own) in [
        ("imgproxy", &imgproxy, &storage_labels, &imgproxy_labels),
        ("storage", &storage, &imgproxy_labels, &storage_labels),
    ] {
        let terms = required_terms(spec);
        assert_eq!(terms.len(), 1, "{who}: {terms:?}");
        assert_eq!(terms[0].topology_key, "kubernetes.io/hostname", "{who}");
        assert!(selects(&terms[0], other), "{who}'s term selects the other pod");
        // It also selects itself: the first of the two is scheduled anywhere.
        assert!(selects(&terms[0], own), "{who}'s term selects its own pod");
    }
    // Another project's Storage, and this project's other components, are not selected.
    let mut stranger = storage_labels.clone();
    stranger.insert("app.kubernetes.io/instance".into(), "other".into());
    assert!(!selects(&required_terms(&imgproxy)[0], &stranger));
    let (rest_labels, _) = pod(&p, Component::Rest);
    assert!(!selects(&required_terms(&imgproxy)[0], &rest_labels));
}

/// Enabling imgproxy on a running project: its first pod must go where the running Storage
/// pod (rendered before imgproxy existed, without any term) holds the claim.
#[test]
fn imgproxy_enabled_on_a_running_project_joins_storages_running_pod() {
    let running = project(
        "apiExternalUrl: https://api.demo.example.com\ndatabase: {secretRef: {name: demo-db}}\n\
         storage: {volume: {accessModes: [ReadWriteOnce]}}\n",
    );
    let (running_storage, running_spec) = pod(&running, Component::Storage);
    assert!(running_spec.affinity.is_none(), "Storage without imgproxy renders as before");
    let (_, imgproxy) = pod(&with_imgproxy(running), Component::Imgproxy);
    assert!(selects(&required_terms(&imgproxy)[0], &running_storage));
}

#[test]
fn a_shared_claim_s3_or_no_imgproxy_adds_no_affinity() {
    let rwx = with_imgproxy(project(
        "apiExternalUrl: https://api.demo.example.com\ndatabase: {secretRef: {name: demo-db}}\n\
         storage: {volume: {accessModes: [ReadWriteMany]}}\n",
    ));
    for c in [Component::Imgproxy, Component::Storage] {
        let (_, spec) = pod(&rwx, c);
        assert!(required_terms(&spec).is_empty(), "{c} on ReadWriteMany");
    }
    let s3 = with_imgproxy(full());
    let (_, spec) = pod(&s3, Component::Imgproxy);
    assert!(required_terms(&spec).is_empty());
    assert!(spec.volumes.unwrap_or_default().iter().all(|v| v.persistent_volume_claim.is_none()), "no claim on S3");
    let (_, spec) = pod(&minimal(), Component::Storage);
    assert!(spec.affinity.is_none(), "without imgproxy Storage is as before");
}

#[test]
fn the_users_affinity_is_kept_beside_the_shared_node() {
    let p = with_imgproxy(project(
        "apiExternalUrl: https://api.demo.example.com\ndatabase: {secretRef: {name: demo-db}}\n\
         storage: {volume: {}}\n\
         components:\n  imgproxy:\n    affinity:\n      podAffinity:\n        requiredDuringSchedulingIgnoredDuringExecution:\n\
         \x20         - {labelSelector: {matchLabels: {app: cache}}, topologyKey: topology.kubernetes.io/zone}\n\
         \x20     nodeAffinity:\n        requiredDuringSchedulingIgnoredDuringExecution:\n\
         \x20         nodeSelectorTerms: [{matchExpressions: [{key: pool, operator: In, values: [images]}]}]\n",
    ));
    let (_, spec) = pod(&p, Component::Imgproxy);
    let terms = required_terms(&spec);
    let keys: Vec<_> = terms.iter().map(|t| t.topology_key.as_str()).collect();
    assert_eq!(keys, ["topology.kubernetes.io/zone", "kubernetes.io/hostname"]);
    assert!(spec.affinity.and_then(|a| a.node_affinity).is_some(), "the node affinity stays");
}
