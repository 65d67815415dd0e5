//! The benchmark's own parts work: the load generator gets answers from the bare
//! server over TLS, counts them, and counts failures when nothing answers.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::time::Duration;

use harness::bench::{bare, load, tls};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn load_generator_measures_the_bare_server() {
    let dir = tempfile::tempdir().unwrap();
    let w = certs::write_all(dir.path(), &["127.0.0.1".to_string()], 1, 1, false).unwrap();
    let addr = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let server = tls::server(&w.tls_cert, &w.tls_key).unwrap();
    tokio::spawn(bare::serve(addr, server));
    // The server binds in its task: wait until it accepts.
    let deadline = std::time::Instant::now() + harness::patience::settle();
    while tokio::net::TcpStream::connect(addr).await.is_err() {
        assert!(std::time::Instant::now() < deadline, "the bare server never listened");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    let body = br#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u-1"}}"#;
    let target = load::Target {
        addr,
        server_name: "127.0.0.1".into(),
        path: "/validate".into(),
        body: body[..].into(),
        server_pid: Some(std::process::id()),
    };
    let client = tls::client(&w.ca_cert).unwrap();
    let shape = load::Shape { connections: 4, duration: Duration::from_millis(500), rate: Some(200) };
    let r = load::run(target.clone(), client.clone(), shape).await;
    assert_eq!(r.errors, 0);
    // 200 req/s for 0.5 s is 100, give or take the edges, and never more. A busy machine
    // may fall behind the rate (the open loop charges that to latency, not to the count),
    // so fewer is allowed, but not a single request per connection.
    assert!(r.ok <= 120, "over the rate: {r:?}");
    assert!(r.ok > 2 * shape.connections as u64, "{r:?}");
    assert!(r.p50_us > 0 && r.p50_us <= r.p99_us && r.p99_us <= r.max_us, "{r:?}");
    // The server runs in this process here; /proc's 10 ms ticks may round a short run to 0.
    assert!(r.server_cpu_us.is_some_and(|c| c >= 0.0) && r.client_cpu_us.is_some_and(|c| c >= 0.0), "{r:?}");

    let nothing = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let r = load::run(load::Target { addr: nothing, ..target.clone() }, client.clone(), shape).await;
    assert_eq!(r.ok, 0);
    assert!(r.errors > 0);
    let gone = load::Target { server_pid: Some(u32::MAX), ..target };
    let r = load::run(gone, client, shape).await;
    assert_eq!(r.server_cpu_us, None, "no such process: no figure");
}

/// `/validate`'s benchmark review is what the apiserver sends it after `/mutate`: the
/// webhook's own patch applied, so nothing is left to default, where `kubectl`'s review
/// had defaults to fill.
#[test]
fn the_validate_review_is_the_object_after_mutate() {
    use harness::bench::handler;
    let spec = |body: &[u8]| {
        let v: serde_json::Value = serde_json::from_slice(body).unwrap();
        v["request"]["object"]["spec"].clone()
    };
    let (sent, admitted) = (spec(&handler::sample_review()), spec(&handler::admitted_review()));
    assert!(
        webhook::mutate::patch(&sent, crds::Admitted::Created).unwrap().is_some(),
        "kubectl's review has defaults to fill"
    );
    assert_eq!(
        webhook::mutate::patch(&admitted, crds::Admitted::Created).unwrap(),
        None,
        "the admitted review is fully defaulted"
    );
    let typed = |v: &serde_json::Value| serde_json::from_value::<crds::SupabaseProjectSpec>(v.clone()).unwrap();
    assert_eq!(typed(&admitted), crds::defaults(typed(&sent)));
}

/// The in-process figures come from an allowed review of the full sample (`measure`
/// panics on a denial), and each answer does the work of one.
#[test]
fn handler_costs_are_measured_on_an_allowed_review() {
    use harness::bench::handler;
    let (sent, admitted) = (handler::sample_review(), handler::admitted_review());
    // Wall-clock averages, each step over its own 50 ms: on a busy machine one window can
    // lose the CPU for much of its time (parsing once measured 2.5 times the cost of a
    // whole answer). The least disturbed of five runs of each step is compared.
    let runs: Vec<handler::Costs> = (0..5)
        .map(|_| handler::measure(&sent, &admitted, handler::sample_secrets(), Duration::from_millis(50)))
        .collect();
    let least = |f: fn(&handler::Costs) -> f64| runs.iter().map(f).fold(f64::INFINITY, f64::min);
    let c = handler::Costs {
        parse_us: least(|c| c.parse_us),
        mutate_us: least(|c| c.mutate_us),
        validate_us: least(|c| c.validate_us),
        validate_sent_us: least(|c| c.validate_sent_us),
    };
    assert!(c.parse_us > 0.0 && c.parse_us.is_finite(), "{c:?}");
    // `/mutate` adds the defaulting and the patch to the parse: well above it even here.
    assert!(c.mutate_us > c.parse_us, "{runs:?}");
    // In this unoptimized build parsing is nearly all of a `/validate` answer (within a few
    // per cent: too close to order on a busy machine), so this only catches an answer that
    // skips most of its work.
    assert!(c.validate_us > c.parse_us / 2.0 && c.validate_sent_us > c.parse_us / 2.0, "{runs:?}");
}

/// `bench-reconciler` runs end to end on a few projects and reports what its
/// figures are made of: every project Running, the bare client's objects, the CPU
/// split, and no write in the steady state.
#[test]
fn the_reconciler_benchmark_runs_on_three_projects() {
    let out = std::process::Command::new(harness::process::binary("bench-reconciler"))
        .args(["--projects", "3", "--steady-seconds", "2"])
        .output()
        .expect("run bench-reconciler (built by `cargo build --workspace`)");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}\n{}", String::from_utf8_lossy(&out.stderr));
    // Three projects of the minimal sample: two Secrets and six components each.
    assert!(text.contains("## Rollout of 3 projects (45 objects in all)"), "{text}");
    for run in ["| reconciler |", "| bare, ordered |", "| bare, unordered |"] {
        assert!(text.lines().filter(|l| l.starts_with(run)).count() >= 2, "{run} lacks its time or writes row: {text}");
    }
    let steady = text.lines().find(|l| l.starts_with("- steady state, ")).unwrap_or_default();
    assert!(steady.contains(": writes 0 "), "{text}");
}
