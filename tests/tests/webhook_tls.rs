//! The serving certificate on loopback: TLS 1.2 and 1.3 with ALPN, rotation by rewrite
//! and by symlink swap (how a mounted Secret rotates) without a restart or a dropped
//! connection, and a broken pair that never replaces a good one.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use harness::patience;
use harness::webhook::{self, Conn, Pair, TestCa, review};
use serde_json::json;

fn project() -> serde_json::Value {
    json!({"apiVersion": "supabase-operator.io/v1alpha1", "kind": "SupabaseProject", "metadata": {"name": "p"},
           "spec": {"apiExternalUrl": "https://x.example.com", "database": {"secretRef": {"name": "db"}}}})
}

/// The leaf a new connection sees; empty when the handshake fails.
async fn served_leaf(addr: SocketAddr, ca: &TestCa) -> Vec<u8> {
    match webhook::connect(addr, webhook::client_config(&ca.pem(), &[b"http/1.1"])).await {
        Ok(tls) => webhook::peer_leaf(&tls),
        Err(_) => Vec::new(),
    }
}

async fn wait_for_leaf(addr: SocketAddr, ca: &TestCa, pair: &Pair) {
    let deadline = Instant::now() + patience::after(webhook::RELOAD_INTERVAL);
    while served_leaf(addr, ca).await != pair.der() {
        assert!(Instant::now() < deadline, "the new certificate was never served");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn metric(addr: SocketAddr, line: &str) -> bool {
    webhook::health_get(addr, "/metrics").await.text().lines().any(|l| l.starts_with(line))
}

#[tokio::test]
async fn tls_12_and_13_are_offered_with_h2_and_http11() {
    let server = webhook::start(webhook::offline_client(), &[]).await;
    let addr = server.running.tls_addr;
    for (version, name) in [(&rustls::version::TLS12, "TLSv1_2"), (&rustls::version::TLS13, "TLSv1_3")] {
        let mut roots = rustls::RootCertStore::empty();
        for c in rustls_pemfile::certs(&mut server.ca.pem().as_bytes()) {
            roots.add(c.unwrap()).unwrap();
        }
        let config =
            rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(rustls::crypto::ring::default_provider()))
                .with_protocol_versions(&[version])
                .unwrap()
                .with_root_certificates(roots)
                .with_no_client_auth();
        let tls = webhook::connect(addr, config).await.expect("handshake");
        assert_eq!(format!("{:?}", tls.get_ref().1.protocol_version().unwrap()), name);
    }
    let h2 = webhook::connect(addr, webhook::client_config(&server.ca.pem(), &[b"h2", b"http/1.1"])).await.unwrap();
    assert_eq!(h2.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
    let h1 = webhook::connect(addr, webhook::client_config(&server.ca.pem(), &[b"http/1.1"])).await.unwrap();
    assert_eq!(h1.get_ref().1.alpn_protocol(), Some(&b"http/1.1"[..]));
    // A client that trusts another CA is refused.
    let other = TestCa::new();
    assert!(webhook::connect(addr, webhook::client_config(&other.pem(), &[])).await.is_err());
    server.running.shutdown().await;
}

#[tokio::test]
async fn a_rewritten_pair_is_served_without_restart_or_dropped_connections() {
    let server = webhook::start(webhook::offline_client(), &[]).await;
    let addr = server.running.tls_addr;
    assert_eq!(served_leaf(addr, &server.ca).await, server.pair.der());
    let mut kept = Conn::open(addr, &server.ca.pem(), false).await;
    assert_eq!(
        kept.post("/mutate", serde_json::to_vec(&review("a", "CREATE", project(), None)).unwrap()).await.status,
        200
    );

    let next = server.ca.leaf("webhook-2");
    webhook::write_pair(server.dir.path(), &next);
    wait_for_leaf(addr, &server.ca, &next).await;
    // The connection opened before the rotation still works.
    assert_eq!(
        kept.post("/mutate", serde_json::to_vec(&review("b", "CREATE", project(), None)).unwrap()).await.status,
        200
    );
    assert!(
        metric(server.running.health_addr, r#"supabase_webhook_certificate_reloads_total{result="success"} 2"#).await
    );
    server.running.shutdown().await;
}

/// Lays files out as the kubelet does for a Secret volume:
/// `tls.crt -> ..data/tls.crt`, `..data -> ..<timestamp>/`.
fn kubelet_write(dir: &Path, generation: u32, pair: &Pair) {
    let versioned = dir.join(format!("..gen{generation}"));
    std::fs::create_dir(&versioned).unwrap();
    webhook::write_pair(&versioned, pair);
    let tmp = dir.join("..data_tmp");
    std::os::unix::fs::symlink(format!("..gen{generation}"), &tmp).unwrap();
    std::fs::rename(&tmp, dir.join("..data")).unwrap();
    for file in ["tls.crt", "tls.key"] {
        let link = dir.join(file);
        if link.symlink_metadata().is_err() {
            std::os::unix::fs::symlink(format!("..data/{file}"), &link).unwrap();
        }
    }
}

#[tokio::test]
async fn a_symlink_swap_like_a_secret_volume_rotation_is_picked_up() {
    let ca = TestCa::new();
    let dir = tempfile::tempdir().unwrap();
    let first = ca.leaf("gen-1");
    kubelet_write(dir.path(), 1, &first);
    let running = webhook::run(
        webhook::base_args(&dir.path().join("tls.crt"), &dir.path().join("tls.key")),
        webhook::offline_client(),
    )
    .await;
    assert_eq!(served_leaf(running.tls_addr, &ca).await, first.der());

    let second = ca.leaf("gen-2");
    kubelet_write(dir.path(), 2, &second);
    std::fs::remove_dir_all(dir.path().join("..gen1")).unwrap();
    wait_for_leaf(running.tls_addr, &ca, &second).await;
    running.shutdown().await;
}

#[tokio::test]
async fn a_broken_pair_keeps_the_last_good_one() {
    let server = webhook::start(webhook::offline_client(), &[]).await;
    let (addr, health) = (server.running.tls_addr, server.running.health_addr);
    let cert = server.dir.path().join("tls.crt");
    let key = server.dir.path().join("tls.key");

    std::fs::write(&cert, "-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n").unwrap();
    let deadline = Instant::now() + patience::after(webhook::RELOAD_INTERVAL);
    while !metric(health, r#"supabase_webhook_certificate_reloads_total{result="error"} 1"#).await {
        assert!(Instant::now() < deadline, "the broken certificate was never noticed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(served_leaf(addr, &server.ca).await, server.pair.der(), "garbage replaced the good pair");

    // A certificate with somebody else's key.
    let other = server.ca.leaf("other");
    std::fs::write(&cert, &other.cert).unwrap();
    std::fs::write(&key, &server.pair.key).unwrap();
    let deadline = Instant::now() + patience::after(webhook::RELOAD_INTERVAL);
    while !metric(health, r#"supabase_webhook_certificate_reloads_total{result="error"} 2"#).await {
        assert!(Instant::now() < deadline, "the mismatched pair was never noticed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(served_leaf(addr, &server.ca).await, server.pair.der(), "a mismatched pair replaced the good one");

    // A good pair again goes in.
    webhook::write_pair(server.dir.path(), &other);
    wait_for_leaf(addr, &server.ca, &other).await;
    server.running.shutdown().await;
}

#[tokio::test]
async fn without_a_certificate_the_server_is_not_ready_until_one_appears() {
    let ca = TestCa::new();
    let dir = tempfile::tempdir().unwrap();
    let running = webhook::run(
        webhook::base_args(&dir.path().join("tls.crt"), &dir.path().join("tls.key")),
        webhook::offline_client(),
    )
    .await;
    let ready = webhook::health_get(running.health_addr, "/readyz").await;
    assert_eq!(ready.status, 503);
    assert!(ready.text().contains("no serving certificate loaded"), "{}", ready.text());
    assert_eq!(webhook::health_get(running.health_addr, "/healthz").await.status, 200, "alive all the same");
    assert!(webhook::connect(running.tls_addr, webhook::client_config(&ca.pem(), &[])).await.is_err());

    let pair = ca.leaf("late");
    webhook::write_pair(dir.path(), &pair);
    wait_for_leaf(running.tls_addr, &ca, &pair).await;
    let ready = webhook::health_get(running.health_addr, "/readyz").await;
    assert!(!ready.text().contains("certificate"), "{}", ready.text());
    running.shutdown().await;
}
