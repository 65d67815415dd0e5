//! The manifests a user installs, checked against the real apiserver: every
//! kustomize overlay renders and passes `kubectl apply --dry-run=server`, and every
//! sample is a valid SupabaseProject (the full one sets every field).
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::path::Path;

use crds::SupabaseProject;
use harness::{TestEnv, repo_path};
use serde_json::Value;

const SAMPLES: [&str; 5] = ["minimal", "full", "studio", "zalando", "cloudnativepg"];

fn sample(name: &str) -> String {
    std::fs::read_to_string(repo_path(&format!("config/samples/{name}.yaml"))).unwrap()
}

const WORKLOAD_FIELDS: [&str; 7] = ["image", "replicas", "resources", "env", "nodeSelector", "tolerations", "affinity"];

/// `spec.components.<c>.<workload field>` as `spec.components.*.<field>`: the full
/// sample shows each workload field once, not seven times.
fn generalize(path: String) -> String {
    let parts: Vec<&str> = path.split('.').collect();
    if parts.len() == 4 && parts[1] == "components" && WORKLOAD_FIELDS.contains(&parts[3]) {
        return format!("spec.components.*.{}", parts[3]);
    }
    path
}

/// Every property path of a schema, not descending into Kubernetes' own types.
fn schema_paths(schema: &Value, path: &str, out: &mut BTreeSet<String>) {
    let Some(props) = schema.get("properties").and_then(Value::as_object) else { return };
    for (key, sub) in props {
        let p = format!("{path}.{key}");
        out.insert(generalize(p.clone()));
        if !["affinity", "env", "resources", "tolerations", "nodeSelector"].contains(&key.as_str()) {
            schema_paths(sub, &p, out);
        }
    }
}

fn value_paths(value: &Value, path: &str, out: &mut BTreeSet<String>) {
    if let Some(map) = value.as_object() {
        for (key, sub) in map {
            let p = format!("{path}.{key}");
            out.insert(generalize(p.clone()));
            value_paths(sub, &p, out);
        }
    }
}

#[test]
fn every_sample_parses_without_losing_a_field() {
    for name in SAMPLES {
        let text = sample(name);
        let raw: Value = serde_yaml::from_str(&text).unwrap();
        let typed: SupabaseProject = serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
        let back = serde_json::to_value(&typed).unwrap();
        // A misspelt field is silently dropped by serde: compare the specs whole.
        assert_eq!(back["spec"], raw["spec"], "{name}.yaml has a field the type does not know");
    }
}

#[test]
fn full_sample_sets_every_field_of_the_spec() {
    let crd = serde_json::to_value(crds::crd::definition().unwrap()).unwrap();
    let spec_schema = &crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"];
    let mut wanted = BTreeSet::new();
    schema_paths(spec_schema, "spec", &mut wanted);
    let raw: Value = serde_yaml::from_str(&sample("full")).unwrap();
    let mut have = BTreeSet::new();
    value_paths(&raw["spec"], "spec", &mut have);
    // Literal host/port/name replace their Secret keys, an Ingress excludes an HTTPRoute, one
    // issuer field the other, and a code ConfigMap a code claim, so the full sample cannot set both.
    let exclusive = [
        "spec.database.secretRef.hostKey",
        "spec.database.secretRef.portKey",
        "spec.database.secretRef.databaseKey",
        "spec.gateway.httpRoute",
        "spec.gateway.httpRoute.host",
        "spec.gateway.httpRoute.parentRefs",
        "spec.gateway.ingress.tls.issuer",
        // The functions' code is a ConfigMap or a claim.
        "spec.components.functions.code.claimName",
    ];
    // `replicas` and `autoscaling` exclude each other: each is set on some component.
    let any_component = |p: &str| -> Option<String> {
        let rest = p.strip_prefix("spec.components.")?;
        let (_, field) = rest.split_once('.')?;
        (field == "replicas" || field.starts_with("autoscaling")).then(|| field.to_string())
    };
    let set_somewhere = |field: &str| have.iter().any(|h| any_component(h).as_deref() == Some(field));
    let missing: Vec<&String> = wanted
        .iter()
        .filter(|p| !have.contains(*p) && !exclusive.contains(&p.as_str()))
        .filter(|p| !any_component(p).is_some_and(|f| set_somewhere(&f)))
        .collect();
    assert!(missing.is_empty(), "config/samples/full.yaml lacks {missing:?}");
}

#[tokio::test]
async fn samples_pass_server_side_dry_run() {
    let env = TestEnv::new("samples").await.unwrap();
    harness::crd::install(&env.client).await.unwrap();
    let dir = repo_path("config/samples");
    let out = env.kubectl().args(["apply", "--dry-run=server", "-k", dir.to_str().unwrap()]).ok().await;
    for name in ["demo", "acme", "studio", "zalando", "cnpg"] {
        assert!(
            out.contains(&format!("supabaseproject.supabase-operator.io/{name} created (server dry run)")),
            "{out}"
        );
    }
}

/// Copies what the overlays reference into `dir`, keeping the layout, so a test can
/// generate certificates for `self-signed/` without writing into the checkout.
fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            if entry.file_name() != "generated" {
                copy_tree(&entry.path(), &target);
            }
        } else if entry.path().extension().is_some_and(|e| e == "yaml") {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// API versions the apiserver serves, as `group/version/Kind`.
async fn served(env: &TestEnv) -> BTreeSet<String> {
    let mut kinds = BTreeSet::new();
    let groups = env.kubectl().args(["api-versions"]).ok().await;
    for gv in groups.lines() {
        let list = env.kubectl().args(["get", "--raw", &api_path(gv)]).ok().await;
        let v: Value = serde_json::from_str(&list).unwrap();
        for r in v["resources"].as_array().unwrap() {
            kinds.insert(format!("{gv}/{}", r["kind"].as_str().unwrap()));
        }
    }
    kinds
}

fn api_path(gv: &str) -> String {
    if gv.contains('/') { format!("/apis/{gv}") } else { format!("/api/{gv}") }
}

#[tokio::test]
async fn every_overlay_renders_and_passes_server_side_dry_run() {
    let env = TestEnv::new("overlays").await.unwrap();
    harness::crd::install(&env.client).await.unwrap();
    // Namespaced objects need their namespace to exist even in a dry run.
    let _ = env.kubectl().args(["create", "namespace", "supabase-operator-system"]).run().await;
    let served = served(&env).await;

    let tmp = tempfile::tempdir().unwrap();
    for dir in ["config", "crds", "certs/cert-manager"] {
        copy_tree(&repo_path(dir), &tmp.path().join(dir));
    }
    let generated = tmp.path().join("config/self-signed/generated");
    certs::write_all(&generated, &["supabase-operator-webhook.supabase-operator-system.svc".into()], 30, 365, false)
        .unwrap();

    let mut unchecked = BTreeSet::new();
    for overlay in ["default", "self-signed"] {
        let rendered =
            env.kubectl().args(["kustomize", tmp.path().join("config").join(overlay).to_str().unwrap()]).ok().await;
        let mut checkable = Vec::new();
        for doc in serde_yaml::Deserializer::from_str(&rendered) {
            let v: Value = serde::Deserialize::deserialize(doc).unwrap();
            let key = format!("{}/{}", v["apiVersion"].as_str().unwrap(), v["kind"].as_str().unwrap());
            if served.contains(&key) {
                checkable.push(serde_yaml::to_string(&v).unwrap());
            } else {
                unchecked.insert(key);
            }
        }
        assert!(checkable.len() >= 15, "{overlay}: only {} objects rendered", checkable.len());
        let out = env
            .kubectl()
            .args(["apply", "--dry-run=server", "--validate=false", "-n", "supabase-operator-system", "-f", "-"])
            .stdin(checkable.join("---\n"))
            .run()
            .await;
        assert!(out.success, "{overlay} failed a server-side dry run:\n{}\n{}", out.stdout, out.stderr);
    }
    // What this 1.20 apiserver cannot check, stated exactly: cert-manager's kinds
    // (no cert-manager here) and policy/v1 PodDisruptionBudget (added in 1.21).
    let expected: BTreeSet<String> =
        ["cert-manager.io/v1/Certificate", "cert-manager.io/v1/Issuer", "policy/v1/PodDisruptionBudget"]
            .into_iter()
            .filter(|k| !served.contains(*k))
            .map(String::from)
            .collect();
    assert_eq!(unchecked, expected, "objects of kinds the apiserver does not serve");
}
