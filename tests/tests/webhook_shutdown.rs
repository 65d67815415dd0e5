//! The `webhook` binary on SIGTERM: readiness turns false at once, a request in flight
//! finishes, idle keep-alive connections are closed rather than waited for, and the
//! process exits 0.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::process::Stdio;
use std::time::{Duration, Instant};

use harness::TestEnv;
use harness::webhook::{self, Conn, review};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

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
        .args(["--shutdown-delay-ms", "1000", "--shutdown-grace-ms", "20000"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("start the webhook binary");
    let deadline = Instant::now() + Duration::from_secs(30);
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
    // The signal is handled asynchronously: readiness turns false well within the
    // one-second shutdown delay, while the listener still accepts.
    let signalled = Instant::now();
    let ready = loop {
        let ready = webhook::health_get(health, "/readyz").await;
        if ready.status == 503 || signalled.elapsed() > Duration::from_millis(800) {
            break ready;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    assert_eq!(ready.status, 503, "still ready after SIGTERM");
    assert!(ready.text().contains("shutting down"), "{}", ready.text());

    // Past the shutdown delay the listener is closed, but the request still completes.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(tokio::net::TcpStream::connect(tls).await.is_err(), "still accepting connections");
    busy.write_all(&body[body.len() / 2..]).await.unwrap();
    busy.flush().await.unwrap();
    let mut reply = Vec::new();
    busy.read_to_end(&mut reply).await.unwrap();
    let reply = String::from_utf8_lossy(&reply);
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
    assert!(reply.contains(r#""uid":"in-flight""#), "{reply}");

    // The idle keep-alive connection did not hold the exit back (grace is 20 s).
    let status = tokio::time::timeout(Duration::from_secs(5), child.wait()).await.expect("exited in time").unwrap();
    assert!(status.success(), "{status}");
}
