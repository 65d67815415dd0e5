//! Drill: SIGTERM to the `webhook` binary in the middle of continuous admission load.
//! `webhook_shutdown.rs` checks one in-flight request and one idle connection; here
//! several keep-alive connections keep posting `/mutate` and `/validate` reviews (against a
//! stand-in apiserver) before,
//! during and after the signal, until the server closes them and stops accepting.
//!
//! The clients play the apiserver: they keep sending on every connection for
//! `ENDPOINT_GONE_MS` after the signal (the endpoint removal the shutdown delay exists
//! for) and then send nothing new. The workers post `/mutate` as fast as they can; in
//! addition, `SLOW_SENT_MS` after the signal, `/validate` requests that take `SLOW_MS`
//! (a slow stand-in apiserver) go out on idle keep-alive connections, so that they are
//! in flight when the server stops accepting.
//! Clients that keep sending new requests on keep-alive connections past the delay race
//! the server's closing of idle connections (a request written as the connection closes
//! gets no answer; Go's client does not retry a POST then): that race is inherent to
//! HTTP/1.1 and is what the delay is for, so it is not part of this drill.
//!
//! Asserted: no admission request fails (what counts is in `drill_load`: a written
//! request without a proper answer is a failure; the server closing a connection between
//! requests is not), requests in flight when the server stops accepting are answered,
//! and the process exits 0 within its delay plus grace period. The figures are printed.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod drill_load;

use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use drill_load::{Control, Tally};
use harness::{patience, webhook};

// The timeline after SIGTERM, in the test's clock: clients stop sending new requests at
// ENDPOINT_GONE_MS, slow requests go out at SLOW_SENT_MS, the server stops accepting at
// DELAY_MS (counted from when it handled the signal, so a little later) and answers the
// slow ones at SLOW_SENT_MS + SLOW_MS. Each gap is 1.5 s or more, so a test process
// descheduled for a while on a busy machine still sends everything in its window.
const DELAY_MS: u64 = 3000;
const GRACE_MS: u64 = 5000;
const WORKERS: usize = 6;
/// How long the stand-in apiserver takes to answer a Secret read, so that `/validate`
/// requests are in flight when the server stops accepting.
const SLOW_MS: u64 = 3000;
/// When, after SIGTERM, the clients stop sending new requests: the endpoint removal the
/// shutdown delay waits for, as the apiserver would see it.
const ENDPOINT_GONE_MS: u64 = 1500;
/// Slow `/validate` requests sent this long after SIGTERM, each on its own idle
/// keep-alive connection: they are in flight when the server stops accepting.
const SLOW_SENT_MS: u64 = 500;
const SLOW_REQUESTS: usize = 3;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_under_load_fails_no_request_and_exits_in_time() {
    let ca = webhook::TestCa::new();
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = webhook::write_pair(dir.path(), &ca.leaf("sigterm-drill"));
    // No cluster needed: a stand-in apiserver where every Secret is missing.
    let kubeconfig =
        drill_load::kubeconfig(dir.path(), drill_load::fake_apiserver(Duration::from_millis(SLOW_MS)).await);
    let (tls, health) = (harness::process::free_addr(), harness::process::free_addr());
    let bin = harness::process::binary("webhook");
    assert!(bin.is_file(), "{} is missing: build it with `cargo build -p supabase-webhook`", bin.display());
    let mut cmd = Command::new(bin);
    cmd.args(["--listen", &tls.to_string(), "--health-listen", &health.to_string()])
        .args(["--tls-cert", cert.to_str().unwrap(), "--tls-key", key.to_str().unwrap()])
        .args(["--kubeconfig", kubeconfig.to_str().unwrap(), "--log-format", "text", "--secret-lookup", "direct"])
        .args(["--shutdown-delay-ms", &DELAY_MS.to_string(), "--shutdown-grace-ms", &GRACE_MS.to_string()]);
    let mut child = harness::process::Proc::spawn(cmd, &dir.path().join("webhook.log"));
    let deadline = Instant::now() + patience::settle();
    while !(tokio::net::TcpStream::connect(health).await.is_ok()
        && webhook::health_get(health, "/readyz").await.status == 200)
    {
        assert!(Instant::now() < deadline, "the binary never became ready");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let control = Arc::new(Control::default());
    let tally = Arc::new(Tally::default());
    let pem = ca.pem();
    let config: Arc<dyn Fn() -> rustls::ClientConfig + Send + Sync> =
        Arc::new(move || webhook::client_config(&pem, &[b"http/1.1"]));
    let workers: Vec<_> = (0..WORKERS)
        .map(|id| {
            tokio::spawn(drill_load::worker(
                id,
                tls,
                config.clone(),
                &["/mutate"],
                usize::MAX,
                control.clone(),
                tally.clone(),
            ))
        })
        .collect();
    // Load before the signal: every worker answered a few times.
    let deadline = Instant::now() + patience::settle();
    while tally.ok.load(Ordering::SeqCst) < 10 * WORKERS as u64 {
        assert!(Instant::now() < deadline, "the load never got going: {}", tally.summary());
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let before = tally.ok.load(Ordering::SeqCst);
    assert!(tally.failed.load(Ordering::SeqCst) == 0, "load before SIGTERM: {}", tally.summary());

    // Idle keep-alive connections that will carry slow requests across the stop.
    let mut slow = Vec::new();
    for _ in 0..SLOW_REQUESTS {
        slow.push(drill_load::open(tls, webhook::client_config(&ca.pem(), &[b"http/1.1"])).await.unwrap());
    }
    control.shutting_down.store(true, Ordering::SeqCst);
    child.terminate();
    let signalled = Instant::now();
    *control.stop_at.lock().unwrap() = Some(signalled + Duration::from_millis(DELAY_MS));
    let exit = tokio::task::spawn_blocking(move || {
        let status = child.wait();
        (status, Instant::now())
    });
    tokio::time::sleep(Duration::from_millis(SLOW_SENT_MS)).await;
    let slow: Vec<_> = slow
        .into_iter()
        .enumerate()
        .map(|(i, mut send)| {
            tokio::spawn(async move {
                let outcome = drill_load::request(&mut send, &format!("slow-{i}"), "/validate").await;
                (outcome, Instant::now())
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(ENDPOINT_GONE_MS - SLOW_SENT_MS)).await;
    let served_in_delay_window = tally.ok.load(Ordering::SeqCst) - before;
    control.stop.store(true, Ordering::SeqCst);
    // Requests already sent (the slow /validate ones) are answered after the server
    // stopped accepting; then the workers end.
    for w in workers {
        tokio::time::timeout(patience::settle(), w).await.expect("worker ends").unwrap();
    }
    let stopped = signalled + Duration::from_millis(DELAY_MS);
    for s in slow {
        let (outcome, at) = s.await.unwrap();
        match outcome {
            drill_load::Outcome::Answered if at > stopped => {
                tally.ok.fetch_add(1, Ordering::SeqCst);
                tally.answered_after_stop.fetch_add(1, Ordering::SeqCst);
            }
            // Answered before the stop: the machine is slower than the drill assumes.
            drill_load::Outcome::Answered => panic!("a slow request was answered before the server stopped"),
            other => tally.failed_with(format!("slow request: {other:?}")),
        }
    }
    let bound = patience::after(Duration::from_millis(DELAY_MS + GRACE_MS));
    let (status, exited) = tokio::time::timeout(bound, exit).await.expect("exited").unwrap();
    let exit_after = exited - signalled;
    println!(
        "drill sigterm: {} ; answered in the first {ENDPOINT_GONE_MS} ms after SIGTERM: {served_in_delay_window}; exited {:.0} ms after SIGTERM \
         (delay {DELAY_MS} ms, grace {GRACE_MS} ms)",
        tally.summary(),
        exit_after.as_secs_f64() * 1000.0
    );
    assert!(status.unwrap().success(), "exit status");
    assert_eq!(tally.failed.load(Ordering::SeqCst), 0, "{}", tally.summary());
    assert!(served_in_delay_window > 0, "nothing was answered during the shutdown delay: {}", tally.summary());
    assert!(
        tally.answered_after_stop.load(Ordering::SeqCst) > 0,
        "no request was in flight when the server stopped accepting: {}",
        tally.summary()
    );
    assert!(exit_after < Duration::from_millis(DELAY_MS + GRACE_MS), "exit took {exit_after:?}");
}
