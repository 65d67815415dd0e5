//! Drill: serving-certificate rotation under continuous admission load. The webhook runs
//! in-process with its pair in a Secret-volume layout (`tls.crt -> ..data/tls.crt`,
//! `..data -> ..<version>`), rotated the way the kubelet does it: the new version's
//! files are written to a new directory, then `..data` is swapped atomically (a symlink
//! renamed over it). Workers post `/mutate` reviews over keep-alive HTTP/1.1 and open a
//! new connection every few requests, so handshakes happen across each swap.
//!
//! 1. A new pair from the same CA: no request fails, and a fresh connection is served the
//!    new certificate (the time it took is printed against the poll interval; a bound of
//!    the poll interval and a margin for a busy machine is asserted).
//! 2. A pair from a new CA, the client trusting a bundle of the old and new CA (the
//!    caBundle is updated before the Secret): no request fails, and the new leaf is
//!    served and verifies against the new CA alone.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod drill_load;

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use drill_load::{Control, Tally};
use harness::{patience, webhook};

const RELOAD_MS: u64 = 200;
const WORKERS: usize = 4;
/// Requests per connection before a worker reconnects (a new handshake).
const PER_CONNECTION: usize = 20;

/// Bound for the new certificate to be served; the goal is one poll interval.
fn served_within() -> Duration {
    patience::after(Duration::from_millis(RELOAD_MS))
}

/// Waits until every worker opened a connection and was answered on it since now: load
/// runs across whatever happens next, however slow the machine.
async fn each_worker_reconnects(tally: &Tally) {
    let (connections, ok) = (tally.connections.load(Ordering::SeqCst), tally.ok.load(Ordering::SeqCst));
    let deadline = Instant::now() + patience::settle();
    while tally.connections.load(Ordering::SeqCst) < connections + WORKERS as u64
        || tally.ok.load(Ordering::SeqCst) < ok + (WORKERS * PER_CONNECTION) as u64
    {
        assert!(Instant::now() < deadline, "the load stalled: {}", tally.summary());
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn names() -> Vec<String> {
    vec!["localhost".into(), "127.0.0.1".into()]
}

fn leaf_der(pem_path: &Path) -> Vec<u8> {
    let pem = std::fs::read(pem_path).unwrap();
    rustls_pemfile::certs(&mut pem.as_slice()).next().unwrap().unwrap().to_vec()
}

/// Copies the pair in `generated` into `mount/..<version>` and points `..data` at it.
fn publish(mount: &Path, generated: &Path, version: &str) {
    let dir = mount.join(format!("..{version}"));
    std::fs::create_dir_all(&dir).unwrap();
    for f in ["tls.crt", "tls.key"] {
        std::fs::copy(generated.join(f), dir.join(f)).unwrap();
    }
    let tmp = mount.join("..data_tmp");
    let _ = std::fs::remove_file(&tmp);
    std::os::unix::fs::symlink(format!("..{version}"), &tmp).unwrap();
    std::fs::rename(&tmp, mount.join("..data")).unwrap();
    for f in ["tls.crt", "tls.key"] {
        let link = mount.join(f);
        if std::fs::symlink_metadata(&link).is_err() {
            std::os::unix::fs::symlink(format!("..data/{f}"), &link).unwrap();
        }
    }
}

/// Polls fresh connections (trusting `ca_pem`) until `want` is served; returns how long.
async fn until_served(addr: std::net::SocketAddr, ca_pem: &str, want: &[u8], since: Instant) -> Duration {
    loop {
        if let Ok(stream) = webhook::connect(addr, webhook::client_config(ca_pem, &[b"http/1.1"])).await
            && webhook::peer_leaf(&stream) == want
        {
            return since.elapsed();
        }
        let bound = served_within();
        assert!(since.elapsed() < bound, "the new certificate was not served within {bound:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotation_under_load_fails_no_request() {
    let root = tempfile::tempdir().unwrap();
    let (gen_a, gen_b, mount) = (root.path().join("gen-a"), root.path().join("gen-b"), root.path().join("mount"));
    std::fs::create_dir_all(&mount).unwrap();
    let first = certs::write_all(&gen_a, &names(), 30, 365, true).unwrap();
    publish(&mount, &gen_a, "v1");
    let old_ca = std::fs::read_to_string(&first.ca_cert).unwrap();

    let cert: PathBuf = mount.join("tls.crt");
    let mut args = webhook::base_args(&cert, &mount.join("tls.key"));
    let i = args.iter().position(|a| a == "--reload-interval-ms").unwrap();
    args[i + 1] = RELOAD_MS.to_string();
    args.extend(["--secret-lookup".into(), "direct".into()]);
    let running = webhook::run(args, webhook::offline_client()).await;
    let addr = running.tls_addr;
    assert_eq!(webhook::peer_leaf(&webhook::connect(addr, webhook::client_config(&old_ca, &[])).await.unwrap()), {
        leaf_der(&gen_a.join("tls.crt"))
    });

    // What the clients trust; the caBundle of the webhook configuration.
    let trusted = Arc::new(Mutex::new(old_ca.clone()));
    let t = trusted.clone();
    let config: Arc<dyn Fn() -> rustls::ClientConfig + Send + Sync> =
        Arc::new(move || webhook::client_config(&t.lock().unwrap(), &[b"http/1.1"]));
    let control = Arc::new(Control::default());
    let tally = Arc::new(Tally::default());
    let workers: Vec<_> = (0..WORKERS)
        .map(|id| {
            tokio::spawn(drill_load::worker(
                id,
                addr,
                config.clone(),
                &["/mutate"],
                PER_CONNECTION,
                control.clone(),
                tally.clone(),
            ))
        })
        .collect();
    each_worker_reconnects(&tally).await;

    // 1. Same CA, new pair.
    let second = certs::write_all(&gen_a, &names(), 30, 365, false).unwrap();
    assert!(!second.new_ca);
    let want = leaf_der(&gen_a.join("tls.crt"));
    let swapped = Instant::now();
    publish(&mount, &gen_a, "v2");
    let same_ca_after = until_served(addr, &old_ca, &want, swapped).await;
    each_worker_reconnects(&tally).await;
    let after_same_ca = (tally.ok.load(Ordering::SeqCst), tally.failed.load(Ordering::SeqCst));

    // 2. New CA; the clients trust old and new first.
    let third = certs::write_all(&gen_b, &names(), 30, 365, true).unwrap();
    assert!(third.new_ca);
    let new_ca = std::fs::read_to_string(&third.ca_cert).unwrap();
    *trusted.lock().unwrap() = format!("{old_ca}{new_ca}");
    // Connections opened from now on trust both; some open before the swap.
    each_worker_reconnects(&tally).await;
    let want = leaf_der(&gen_b.join("tls.crt"));
    let swapped = Instant::now();
    publish(&mount, &gen_b, "v3");
    let new_ca_after = until_served(addr, &new_ca, &want, swapped).await;
    each_worker_reconnects(&tally).await;

    control.stop.store(true, Ordering::SeqCst);
    for w in workers {
        tokio::time::timeout(patience::settle(), w).await.expect("worker ends").unwrap();
    }
    println!(
        "drill rotation: {} ; after the same-CA swap: ok={} failed={}; new certificate served {:.0} ms after the \
         same-CA swap and {:.0} ms after the new-CA swap (poll interval {RELOAD_MS} ms)",
        tally.summary(),
        after_same_ca.0,
        after_same_ca.1,
        same_ca_after.as_secs_f64() * 1000.0,
        new_ca_after.as_secs_f64() * 1000.0
    );
    assert_eq!(tally.failed.load(Ordering::SeqCst), 0, "{}", tally.summary());
    running.shutdown().await;
}
