//! Drill: no Secret value appears in any log line, event, status, admission message
//! or rendered object. Runs both real binaries with debug logging through a full
//! scenario (valid projects rolled out to Running, invalid ones refused for wrong
//! keys and bad lengths), then searches everything they produced for every Secret
//! value involved — the fixtures', the generated ones (Supabase's new keys too: the
//! sets, each private scalar, the API keys, the internal JWTs) and the rejected ones — in
//! plain and base64 form.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::process::Command;

use base64::Engine;
use crds::{Phase, SupabaseProject};
use harness::fixtures::{self, JWT_SECRET, SECRET_VALUES};
use harness::process::{Proc, binary, free_addr};
use harness::reconciler::eventually;
use harness::{TestEnv, patience};
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, PostParams};
use tokio_util::sync::CancellationToken;

/// Every place `needle` occurs in the named haystacks.
fn hits(needle: &str, haystacks: &[(String, String)]) -> Vec<String> {
    let b64 = base64::engine::general_purpose::STANDARD.encode(needle);
    haystacks
        .iter()
        .filter(|(_, text)| text.contains(needle) || text.contains(&b64))
        .map(|(name, _)| name.clone())
        .collect()
}

#[test]
fn the_search_finds_plain_and_base64_values() {
    let found = hits("s3cr3t", &[("log".into(), "x s3cr3t y".into()), ("event".into(), "czNjcjN0".into())]);
    assert_eq!(found, ["log", "event"]);
    assert!(hits("s3cr3t", &[("status".into(), "clean".into())]).is_empty());
}

async fn apply(env: &TestEnv, yaml: &str) -> harness::kubectl::Output {
    env.kubectl().args(["apply", "-f", "-"]).stdin(yaml.to_string()).run().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_value_leaks_into_logs_events_status_or_messages() {
    let env = TestEnv::new("no-secret-leaks").await.unwrap();
    harness::crd::install(&env.client).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let certs = certs::write_all(dir.path(), &["127.0.0.1".to_string()], 1, 1, false).unwrap();
    let (tls, health) = (free_addr(), free_addr());

    let mut cmd = Command::new(binary("webhook"));
    cmd.args(["--listen", &tls.to_string(), "--health-listen", &health.to_string(), "--log-format", "json"])
        .arg("--tls-cert")
        .arg(&certs.tls_cert)
        .arg("--tls-key")
        .arg(&certs.tls_key)
        .arg("--kubeconfig")
        .arg(&env.kubeconfig)
        .env("RUST_LOG", "debug");
    let webhook = Proc::spawn(cmd, &dir.path().join("webhook.log"));
    let mut cmd = Command::new(binary("reconciler"));
    cmd.arg("--kubeconfig")
        .arg(&env.kubeconfig)
        .args(["--health-addr", &free_addr().to_string(), "--log-format", "json"])
        .args(["--watch-namespace", &env.namespace, "--lease-namespace", &env.namespace])
        .env("RUST_LOG", "debug");
    let reconciler = Proc::spawn(cmd, &dir.path().join("reconciler.log"));
    let ca_pem = std::fs::read_to_string(&certs.ca_cert).unwrap();
    let registration = harness::webhook::register(&env, tls, &ca_pem).await;

    let secrets: Api<Secret> = env.api();
    for s in fixtures::full_sample().into_iter().chain([fixtures::database("demo-db")]) {
        secrets.create(&PostParams::default(), &s).await.unwrap();
    }
    let stop = CancellationToken::new();
    let kubelet = tokio::spawn(harness::kubelet::simulate(env.client.clone(), env.namespace.clone(), stop.clone()));

    let mut outputs: Vec<(String, String)> = Vec::new();
    let sample =
        |name: &str| std::fs::read_to_string(harness::repo_path(&format!("config/samples/{name}.yaml"))).unwrap();
    for name in ["full", "minimal"] {
        let out = apply(&env, &sample(name)).await;
        assert!(out.success, "{name}: {}", out.stderr);
        outputs.push((format!("kubectl apply {name}"), format!("{}{}", out.stdout, out.stderr)));
    }

    // Refusals that involve secret values: keys signed with another secret, a JWT
    // secret too short, an encryption key of the wrong length.
    let other = "another-jwt-secret-that-signs-the-wrong-keys";
    let (wrong_anon, wrong_service) = fixtures::jwt_keys(other);
    // New keys: a signing key whose d is another key's, an API key of the wrong length.
    let (private, public, _, _) = fixtures::signing_keys(JWT_SECRET, fixtures::SAMPLE_KID);
    let (foreign, _, _, _) = fixtures::signing_keys(JWT_SECRET, fixtures::SAMPLE_KID);
    let foreign_d = serde_json::from_str::<serde_json::Value>(&foreign).unwrap()[0]["d"].as_str().unwrap().to_string();
    let mut broken: serde_json::Value = serde_json::from_str(&private).unwrap();
    broken[0]["d"] = serde_json::json!(foreign_d);
    let broken = broken.to_string();
    let short_publishable = "sb_publishable_fixture-too-short-key";
    let rejected = [
        fixtures::secret("bad-signing", &[("keys", &broken), ("jwks", &public)]),
        fixtures::secret("bad-api", &[("publishableKey", short_publishable), ("secretKey", fixtures::SECRET_API_KEY)]),
        fixtures::secret(
            "bad-jwt",
            &[("secret", JWT_SECRET), ("anonKey", &wrong_anon), ("serviceKey", &wrong_service)],
        ),
        fixtures::secret(
            "short-jwt",
            &[("secret", "short-jwt-secret-value"), ("anonKey", "x.y.z"), ("serviceKey", "x.y.z")],
        ),
        fixtures::secret(
            "bad-realtime",
            &[("secretKeyBase", "too-short-key-base-value"), ("dbEncKey", "enc-key-too-long-0123")],
        ),
    ];
    for s in &rejected {
        secrets.create(&PostParams::default(), s).await.unwrap();
    }
    for (name, spec_tail) in [
        ("bad-keys", "  jwt:\n    secretRef:\n      name: bad-jwt\n"),
        ("short-secret", "  jwt:\n    secretRef:\n      name: short-jwt\n"),
        ("bad-lengths", "  components:\n    realtime:\n      secretRef:\n        name: bad-realtime\n"),
        (
            "bad-new-keys",
            "  jwt:\n    secretRef:\n      name: acme-jwt\n    keys: both\n    signingKeysRef:\n      \
             name: bad-signing\n    apiKeysRef:\n      name: bad-api\n",
        ),
    ] {
        let yaml = sample("minimal").replace("name: demo\n", &format!("name: {name}\n")) + spec_tail;
        let out = apply(&env, &yaml).await;
        assert!(!out.success, "{name} was admitted");
        outputs.push((format!("kubectl apply {name}"), out.stderr));
    }

    let projects: Api<SupabaseProject> = env.api();
    for name in ["acme", "demo"] {
        // Two processes start and roll a project out each: twice the usual patience.
        eventually(&format!("{name} Running"), patience::settle() * 2, || async {
            let p = projects.get(name).await.map_err(|e| e.to_string())?;
            let phase = p.status.as_ref().and_then(|s| s.phase);
            if phase == Some(Phase::Running) { Ok(()) } else { Err(format!("{phase:?}")) }
        })
        .await;
    }
    stop.cancel();
    let _ = kubelet.await;

    // Every value that must stay secret: the fixtures', the rejected ones, and what
    // the reconciler generated for the minimal project.
    let mut values: Vec<String> = SECRET_VALUES.iter().map(|s| s.to_string()).collect();
    values.extend(
        [other, "short-jwt-secret-value", "too-short-key-base-value", "enc-key-too-long-0123"].map(String::from),
    );
    values.extend([wrong_anon, wrong_service, broken, foreign_d, short_publishable.to_string()]);
    let mut new_keys = std::collections::BTreeSet::new();
    for s in secrets.list(&Default::default()).await.unwrap() {
        let name = s.metadata.name.clone().unwrap_or_default();
        if name.starts_with("demo-") || name.starts_with("acme-") {
            for (key, v) in s.data.unwrap_or_default() {
                let v = String::from_utf8_lossy(&v.0).into_owned();
                // The new keys' sets: also each private scalar and symmetric key on its own,
                // which a log could print without the rest of the set.
                if ["keys", "authKeys", "jwks"].contains(&key.as_str()) {
                    new_keys.insert(format!("{name}/{key}"));
                    let parsed: serde_json::Value = serde_json::from_str(&v).unwrap();
                    let list = parsed.get("keys").unwrap_or(&parsed).as_array().cloned().unwrap_or_default();
                    values.extend(
                        list.iter().flat_map(|k| ["d", "k"].map(|m| k[m].as_str().map(String::from))).flatten(),
                    );
                }
                if ["publishableKey", "secretKey", "anonJwt", "serviceJwt"].contains(&key.as_str()) {
                    new_keys.insert(format!("{name}/{key}"));
                }
                if v.len() >= 12 {
                    values.push(v);
                }
            }
        }
    }
    // The new keys the reconciler generated (minimal, created with keys: both) and derived
    // (full, from the user's signing keys) are among the values searched.
    for generated in ["demo-jwt/keys", "demo-jwt/jwks", "demo-jwt/publishableKey", "demo-jwt/anonJwt"] {
        assert!(new_keys.contains(generated), "{generated} was generated: {new_keys:?}");
    }
    assert!(new_keys.contains("acme-internal/authKeys"), "the user's set was derived for Auth: {new_keys:?}");
    drop(registration);
    drop(webhook);
    drop(reconciler);

    let mut haystacks = outputs;
    haystacks.push(("webhook log".into(), std::fs::read_to_string(dir.path().join("webhook.log")).unwrap()));
    haystacks.push(("reconciler log".into(), std::fs::read_to_string(dir.path().join("reconciler.log")).unwrap()));
    for (what, args) in [
        ("events", vec!["get", "events", "-o", "json"]),
        ("events.k8s.io", vec!["get", "events.events.k8s.io", "-o", "json"]),
        ("projects (status)", vec!["get", "supabaseprojects", "-o", "json"]),
        ("workloads", vec!["get", "deployments,configmaps,services,jobs", "-o", "json"]),
    ] {
        haystacks.push((what.into(), env.kubectl().args(args).ok().await));
    }
    assert!(
        haystacks.iter().any(|(n, t)| n == "webhook log" && t.contains("DEBUG")),
        "the webhook logged nothing at debug"
    );
    let leaks: Vec<String> = values
        .iter()
        .filter_map(|v| {
            let found = hits(v, &haystacks);
            (!found.is_empty()).then(|| format!("a value of {} characters in {found:?}", v.len()))
        })
        .collect();
    assert!(leaks.is_empty(), "Secret values leaked: {leaks:?}");
    eprintln!(
        "no-secret-leaks: searched {} values in {} sources, {} bytes",
        values.len(),
        haystacks.len(),
        haystacks.iter().map(|(_, t)| t.len()).sum::<usize>()
    );
}
