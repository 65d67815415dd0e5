//! The health and metrics endpoint of a running reconciler.
// A panic is how a test reports failure.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::net::SocketAddr;

use harness::patience;
use harness::reconciler::{self as rec, MINIMAL_SPEC};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn get(addr: SocketAddr, path: &str) -> (u16, String) {
    let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes()).await.unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    let code = out.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    (code, out)
}

#[tokio::test]
async fn healthz_readyz_and_metrics_answer() {
    let env = rec::project_env("health-metrics", "demo", MINIMAL_SPEC).await;
    let addr = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let r = rec::start_with(&env, "only", Some(addr));
    rec::wait_deployment(&env, "demo", crds::Component::Kong).await;
    rec::eventually("/readyz", patience::settle(), || async {
        let (code, body) = get(addr, "/readyz").await;
        if code == 200 { Ok(()) } else { Err(body) }
    })
    .await;
    assert_eq!(get(addr, "/healthz").await.0, 200);
    assert_eq!(get(addr, "/nope").await.0, 404);
    let metrics = rec::eventually("a phase in the metrics", patience::settle(), || async {
        let (_, body) = get(addr, "/metrics").await;
        // The phase shows once the status is written; the reconcile counts when it returns.
        let phase = body.contains("supabase_reconciler_projects{phase=\"DeployingComponents\"} 1");
        if phase && body.contains("supabase_reconciler_reconciles_total{result=\"success\"}") {
            Ok(body)
        } else {
            Err(body)
        }
    })
    .await;
    for name in [
        "supabase_reconciler_reconciles_total{result=\"success\"}",
        "supabase_reconciler_reconcile_duration_seconds_bucket",
        "supabase_reconciler_leader 1",
        "supabase_reconciler_projects{phase=\"Running\"} 0",
    ] {
        assert!(metrics.contains(name), "{name} missing:\n{metrics}");
    }
    r.stop().await;
}
