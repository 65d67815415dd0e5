//! The `webhook` binary on SIGTERM: readiness turns false at once, a request in flight
//! finishes, idle keep-alive connections are closed rather than waited for, and the
//! process exits 0.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::process::Stdio;
use std::time::{Duration, Instant};

use harness::webhook::{self, Conn, review};
use harness::{TestEnv, patience};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The shutdown delay: readiness is false and the listener still accepts for this long.
const DELAY: Duration = Duration::from_secs(2);
/// The grace period, far longer than the test waits for the exit, so an exit in time
/// shows the idle connection was closed rather than waited for.
const GRACE: Duration = Duration::from_secs(60);

#[tokio::test]
async fn sigterm_drains_then_exits() {
    let env = TestEnv::new("wh-shutdown").await.expect("test cluster");
    let ca = webhook::TestCa::new();
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = webhook::write_pair(dir.path(), &ca.leaf("binary"));
    let (tls, health) = (harness::process::free_addr(), harness::process::free_addr());
    let bin = harness::process::binary("webhook");
    assert!(bin.is_file(), "{} is missing: build it with `cargo build -p supabase-webhook`", bin.display());
    let mut child = tokio::process::Command::new(bin)
        .args(["--listen", &tls.to_string(), "--health-listen", &health.to_string()])
        .args(["--tls-cert", cert.to_str().unwrap(), "--tls-key", key.to_str().unwrap()])
        .args(["--kubeconfig", env.kubeconfig.to_str().unwrap(), "--log-format", "text"])
        .args(["--shutdown-delay-ms", &DELAY.as_millis().to_string()])
        .args(["--shutdown-grace-ms", &GRACE.as_millis().to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("start the webhook binary");
    let deadline = Instant::now() + patience::settle();
    loop {
        let ready = tokio::net::TcpStream::connect(health).await.is_ok()
            && webhook::health_get(health, "/readyz").await.status == 200;
        if ready {
            break;
        }
        assert!(Instant::now() < deadline, "the binary never became ready");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // An idle keep-alive connection.
    let object = json!({"apiVersion": "supabase-operator.io/v1alpha1", "kind": "SupabaseProject", "metadata": {"name": "p"},
                        "spec": {"apiExternalUrl": "https://x.example.com", "database": {"secretRef": {"name": "db"}}}});
    let body = serde_json::to_vec(&review("in-flight", "CREATE", object, None)).unwrap();
    let mut idle = Conn::open(tls, &ca.pem(), false).await;
    assert_eq!(idle.post("/mutate", body.clone()).await.status, 200);

    // A request in flight: headers and half the body sent.
    let mut busy = webhook::connect(tls, webhook::client_config(&ca.pem(), &[b"http/1.1"])).await.unwrap();
    let head = format!(
        "POST /mutate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    busy.write_all(head.as_bytes()).await.unwrap();
    busy.write_all(&body[..body.len() / 2]).await.unwrap();
    busy.flush().await.unwrap();

    let pid = child.id().unwrap().to_string();
    assert!(std::process::Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    // The signal is handled asynchronously: readiness turns false while the listener
    // still accepts (the shutdown delay is for that).
    let signalled = Instant::now();
    let ready = loop {
        let ready = webhook::health_get(health, "/readyz").await;
        if ready.status == 503 {
            break ready;
        }
        assert!(signalled.elapsed() < patience::after(Duration::ZERO), "still ready after SIGTERM");
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    assert!(tokio::net::TcpStream::connect(tls).await.is_ok(), "not accepting while readiness turned false");
    assert!(ready.text().contains("shutting down"), "{}", ready.text());

    // Past the shutdown delay the listener is closed, but the request still completes.
    while tokio::net::TcpStream::connect(tls).await.is_ok() {
        assert!(signalled.elapsed() < patience::after(DELAY), "still accepting connections");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    busy.write_all(&body[body.len() / 2..]).await.unwrap();
    busy.flush().await.unwrap();
    let mut reply = Vec::new();
    busy.read_to_end(&mut reply).await.unwrap();
    let reply = String::from_utf8_lossy(&reply);
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
    assert!(reply.contains(r#""uid":"in-flight""#), "{reply}");

    // The idle keep-alive connection did not hold the exit back until the grace ran out.
    let bound = patience::scaled(Duration::from_secs(10)).min(GRACE / 2);
    let status = tokio::time::timeout(bound, child.wait()).await.expect("exited in time").unwrap();
    assert!(status.success(), "{status}");
}
