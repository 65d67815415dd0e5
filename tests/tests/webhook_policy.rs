//! The policy file through the running server: in force at start, reloaded when it
//! changes, a broken file at start refused and a broken file later ignored.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::time::{Duration, Instant};

use harness::patience;
use harness::webhook::{self, review};
use serde_json::json;

fn project(replicas: i32) -> serde_json::Value {
    json!({"apiVersion": "supabase-operator.io/v1alpha1", "kind": "SupabaseProject",
           "metadata": {"name": "p", "namespace": "default"},
           "spec": {"apiExternalUrl": "https://x.example.com", "database": {"secretRef": {"name": "db"}},
                    "components": {"kong": {"replicas": replicas, "image": "quay.io/kong/kong:3.9.1"}}}})
}

/// The fields /validate names for a project with `replicas` Kong replicas.
async fn fields(server: &webhook::TestWebhook, replicas: i32) -> Vec<String> {
    let body = serde_json::to_vec(&review("u", "CREATE", project(replicas), None)).unwrap();
    let answer = webhook::post(server.running.tls_addr, &server.ca.pem(), "/validate", body).await.json();
    answer["response"]["status"]["details"]["causes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| format!("{} {}", c["field"].as_str().unwrap(), c["message"].as_str().unwrap()))
        .filter(|f| !f.starts_with("spec.database.secretRef.name")) // the offline apiserver
        .collect()
}

#[tokio::test]
async fn the_policy_file_is_enforced_and_reloaded_and_a_broken_one_is_ignored() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("policy.yaml");
    std::fs::write(&path, "maxReplicas: 3\nallowedRegistries: [docker.io]\n").unwrap();
    let server = webhook::start(webhook::offline_client(), &["--policy", path.to_str().unwrap()]).await;
    assert_eq!(
        fields(&server, 4).await,
        [
            "spec.components.kong.replicas Invalid value: 4: must be at most 3",
            "spec.components.kong.image Forbidden: registry \"quay.io\" is not allowed by the platform policy (allowed: docker.io)"
        ]
    );

    std::fs::write(&path, "maxReplicas: 5\n").unwrap();
    let deadline = Instant::now() + patience::after(webhook::RELOAD_INTERVAL);
    while !fields(&server, 4).await.is_empty() {
        assert!(Instant::now() < deadline, "the new policy never took effect");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    std::fs::write(&path, "maxReplicas: [oops\n").unwrap();
    let deadline = Instant::now() + patience::after(webhook::RELOAD_INTERVAL);
    let metrics = || webhook::health_get(server.running.health_addr, "/metrics");
    while !metrics().await.text().contains(r#"supabase_webhook_policy_reloads_total{result="error"} 1"#) {
        assert!(Instant::now() < deadline, "the broken policy was never noticed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(fields(&server, 4).await.is_empty(), "the last good policy (max 5) still holds");
    assert_eq!(fields(&server, 6).await, ["spec.components.kong.replicas Invalid value: 6: must be at most 5"]);
    server.running.shutdown().await;
}

#[tokio::test]
async fn a_broken_policy_at_start_is_a_clear_startup_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("policy.yaml");
    std::fs::write(&path, "maxReplica: 3\n").unwrap();
    let pair = webhook::TestCa::new().leaf("x");
    let (cert, key) = webhook::write_pair(dir.path(), &pair);
    let mut args = webhook::base_args(&cert, &key);
    args.extend(["--policy".to_string(), path.display().to_string()]);
    let settings = <::webhook::Settings as clap::Parser>::parse_from(args);
    let err = ::webhook::start(settings, webhook::offline_client()).await.unwrap_err().to_string();
    assert!(err.contains("policy.yaml") && err.contains("unknown field `maxReplica`"), "{err}");

    let missing = dir.path().join("absent.yaml");
    let mut args = webhook::base_args(&cert, &key);
    args.extend(["--policy".to_string(), missing.display().to_string()]);
    let settings = <::webhook::Settings as clap::Parser>::parse_from(args);
    let err = ::webhook::start(settings, webhook::offline_client()).await.unwrap_err().to_string();
    assert!(err.contains("policy file") && err.contains("absent.yaml: cannot read it"), "{err}");
}
