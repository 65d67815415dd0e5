//! The CRD on a real apiserver: installs, stores a project, prints columns,
//! explains itself, and takes status writes.
// A panic is how a test reports failure.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use crds::{SupabaseProject, SupabaseProjectStatus};
use harness::TestEnv;
use kube::api::{Patch, PatchParams, PostParams};
use serde_json::json;

async fn env(test: &str) -> TestEnv {
    let env = TestEnv::new(test).await.expect("test cluster");
    harness::crd::install(&env.client).await.expect("install CRD");
    env
}

fn minimal_sample() -> String {
    std::fs::read_to_string(harness::repo_path("config/samples/minimal.yaml")).expect("read sample")
}

#[tokio::test]
async fn crd_installs_and_a_sample_round_trips_through_kubectl() {
    let env = env("round-trip").await;
    env.kubectl().args(["apply", "-f", "-"]).stdin(minimal_sample()).ok().await;

    let stored: SupabaseProject = env.api().get("demo").await.expect("project stored");
    let sample: SupabaseProject = serde_yaml::from_str(&minimal_sample()).expect("sample parses");
    assert_eq!(stored.spec, sample.spec, "the apiserver kept every field of the sample and added none");

    // A field the schema does not know is pruned, not stored.
    let unknown = minimal_sample().replace("spec:\n", "spec:\n  notAField: 1\n");
    let out = env.kubectl().args(["apply", "-f", "-"]).stdin(unknown).run().await;
    assert!(out.success || out.stderr.contains("notAField"), "{}", out.stderr);
    let spec = env.kubectl().args(["get", "sbp", "demo", "-o", "jsonpath={.spec}"]).ok().await;
    assert!(spec.contains("apiExternalUrl") && !spec.contains("notAField"), "unknown field was stored: {spec}");
}

#[tokio::test]
async fn schema_rejects_a_wrong_type_and_a_missing_required_field() {
    let env = env("schema").await;
    // `--validate=false`: the apiserver's own answer, not kubectl's client-side check.
    let wrong = minimal_sample().replace("name: demo-db", "name: 42\n      portKey: [1]");
    let out = env.kubectl().args(["apply", "--validate=false", "-f", "-"]).stdin(wrong).run().await;
    assert!(!out.success);
    assert!(out.stderr.contains("spec.database.secretRef.portKey"), "{}", out.stderr);

    let missing = "apiVersion: supabase-operator.io/v1alpha1\nkind: SupabaseProject\nmetadata:\n  name: x\nspec:\n  \
                   apiExternalUrl: https://x.example.com\n";
    let out = env.kubectl().args(["apply", "--validate=false", "-f", "-"]).stdin(missing).run().await;
    assert!(!out.success);
    assert!(out.stderr.contains("spec.database"), "{}", out.stderr);
}

#[tokio::test]
async fn kubectl_get_shows_the_printer_columns() {
    let env = env("printer-columns").await;
    env.kubectl().args(["apply", "-f", "-"]).stdin(minimal_sample()).ok().await;
    let status = json!({"status": {"phase": "Running", "release": "0.8.1", "readyComponents": "6/6",
        "endpoints": {"api": "https://api.demo.example.com"},
        "conditions": [{"type": "DatabaseReady", "status": "True", "reason": "Ready", "message": "PostgreSQL 15",
            "lastTransitionTime": "2026-01-01T00:00:00Z"}]}});
    env.api::<SupabaseProject>()
        .patch_status("demo", &PatchParams::default(), &Patch::Merge(&status))
        .await
        .expect("status write");

    let out = env.kubectl().args(["get", "supabaseprojects"]).ok().await;
    let mut lines = out.lines();
    let header: Vec<&str> = lines.next().expect("header").split_whitespace().collect();
    assert_eq!(header, ["NAME", "PHASE", "RELEASE", "READY", "DATABASE", "API", "URL", "AGE"], "{out}");
    let row: Vec<&str> = lines.next().expect("row").split_whitespace().collect();
    assert_eq!(&row[..6], ["demo", "Running", "0.8.1", "6/6", "Ready", "https://api.demo.example.com"], "{out}");

    // The short names work too.
    let short = env.kubectl().args(["get", "sbp", "-o", "name"]).ok().await;
    assert_eq!(short.trim(), "supabaseproject.supabase-operator.io/demo");
}

#[tokio::test]
async fn kubectl_explain_shows_the_field_docs() {
    let env = env("explain").await;
    // The apiserver publishes a new CRD's OpenAPI a few seconds after it is Established.
    let mut out = env.kubectl().args(["explain", "supabaseproject.spec"]).run().await;
    let deadline = std::time::Instant::now() + harness::patience::settle();
    while !out.success && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        out = env.kubectl().args(["explain", "supabaseproject.spec"]).run().await;
    }
    assert!(out.success, "kubectl explain failed: {}", out.stderr);
    let out = out.stdout;
    assert!(!out.contains("<>"), "a field has no type in the published schema:\n{out}");
    // Every top-level field is listed with its doc comment, read from the Rust source.
    let definition = crds::crd::definition().expect("CRD");
    let spec = &definition.spec.versions[0]
        .schema
        .as_ref()
        .unwrap()
        .open_api_v3_schema
        .as_ref()
        .unwrap()
        .properties
        .as_ref()
        .unwrap()["spec"];
    for (field, schema) in spec.properties.as_ref().unwrap() {
        assert!(out.contains(field.as_str()), "`kubectl explain` lacks {field}:\n{out}");
        let doc = schema.description.as_deref().unwrap_or_else(|| panic!("{field} has no description"));
        let first_words: String = doc.split_whitespace().take(4).collect::<Vec<_>>().join(" ");
        let flat: String = out.split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(flat.contains(&first_words), "`kubectl explain` lacks the doc of {field} ({first_words}):\n{out}");
    }
    let nested = env.kubectl().args(["explain", "supabaseproject.spec.database.secretRef.passwordKey"]).ok().await;
    assert!(nested.contains("passwordKey"), "{nested}");
    assert!(nested.lines().count() > 4, "nested field has no description:\n{nested}");
}

#[tokio::test]
async fn status_subresource_takes_a_write_and_ignores_spec_changes() {
    let env = env("status").await;
    env.kubectl().args(["apply", "-f", "-"]).stdin(minimal_sample()).ok().await;
    let api = env.api::<SupabaseProject>();
    let before = api.get("demo").await.expect("get");

    let status = SupabaseProjectStatus {
        message: Some("waiting for kong: 0/1 ready".into()),
        observed_generation: before.metadata.generation,
        ..Default::default()
    };
    let patch = json!({"apiVersion": "supabase-operator.io/v1alpha1", "kind": "SupabaseProject",
        "status": status});
    api.patch_status("demo", &PatchParams::apply("tests").force(), &Patch::Apply(&patch)).await.expect("status apply");
    let after = api.get("demo").await.expect("get");
    assert_eq!(after.status.as_ref().and_then(|s| s.message.as_deref()), Some("waiting for kong: 0/1 ready"));
    assert_eq!(after.metadata.generation, before.metadata.generation, "a status write must not bump generation");

    // Writing the main resource does not touch status, and status writes do not touch spec.
    let mut changed = after.clone();
    changed.spec.api_external_url = "https://changed.example.com".into();
    changed.status = None;
    let stored = api.replace("demo", &PostParams::default(), &changed).await.expect("replace");
    assert!(stored.status.is_some(), "a spec write dropped status");
    assert_eq!(stored.metadata.generation.unwrap_or(0), before.metadata.generation.unwrap_or(0) + 1);
}
