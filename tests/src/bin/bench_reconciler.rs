//! `make bench-reconciler`: N projects (default 200, `--projects` up to 1000)
//! against the real apiserver, with a stand-in kubelet marking Deployments ready,
//! rolled out three ways: by the reconciler; by a bare client that applies each
//! component's objects in the rollout order and waits for its readiness before the
//! next (the floor of any ordered rollout against the same stand-in kubelet); and by
//! a bare client that applies every object at once and waits for nothing. Prints each
//! run's time and CPU, the writes the apiserver received per project by kind (from
//! its own counters), the reconciler's memory, the writes made while nothing changes,
//! and the README's table row. Passes or fails nothing.
#![forbid(unsafe_code)]
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::process::Command;
use std::time::{Duration, Instant};

use clap::Parser;
use crds::SupabaseProject;
use futures::StreamExt;
use harness::bench::apiserver_requests::{self as requests, Counts, Kind};
use harness::bench::rollout_report::{self as report, Cpu, Run};
use harness::bench::{bare_rollout, cpu, rss};
use harness::process::Proc;
use harness::{ControlPlane, fixtures};
use k8s_openapi::api::core::v1::{Namespace, Secret};
use kube::api::{Api, PostParams};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Client, ResourceExt};
use serde_json::json;
use tokio_util::sync::CancellationToken;

/// The reconciler's own default concurrency (`--concurrency`), which the bare clients match.
const CONCURRENCY: usize = 16;

#[derive(Parser)]
#[command(about = "Benchmark the reconciler's rollout against two bare server-side-apply clients")]
struct Cli {
    /// Projects to roll out.
    #[arg(long, env = "PROJECTS", default_value_t = 200)]
    projects: usize,
    /// Seconds of the steady-state window (nothing changes; writes are counted).
    #[arg(long, env = "STEADY_SECONDS", default_value_t = 120)]
    steady_seconds: u64,
    /// Runs the reconciler under this command, split at spaces (e.g. `heaptrack -o
    /// /tmp/reconciler`, to see what holds its memory). Its figures are then the wrapper's.
    #[arg(long)]
    wrap: Option<String>,
    /// Requests in flight of the unordered bare client, and projects applying at once
    /// in the ordered one (the reconciler's default concurrency is 16).
    #[arg(long, default_value_t = CONCURRENCY)]
    bare_concurrency: usize,
}

fn project(name: &str) -> SupabaseProject {
    let mut p: SupabaseProject =
        serde_yaml::from_str(&std::fs::read_to_string(harness::repo_path("config/samples/minimal.yaml")).unwrap())
            .unwrap();
    p.metadata.name = Some(name.into());
    // No webhook here: store what admission would have stored.
    p.spec = crds::defaults(p.spec);
    p
}

async fn namespace(client: &Client, name: &str) {
    let ns: Namespace = serde_json::from_value(json!({"metadata": {"name": name}})).unwrap();
    Api::<Namespace>::all(client.clone()).create(&PostParams::default(), &ns).await.unwrap();
    Api::<Secret>::namespaced(client.clone(), name)
        .create(&PostParams::default(), &fixtures::database("demo-db"))
        .await
        .unwrap();
}

/// Creates `n` projects, 16 at a time (a sequential loop would be the benchmark's
/// own bottleneck).
async fn create_projects(client: &Client, ns: &str, n: usize) -> Vec<SupabaseProject> {
    let api: Api<SupabaseProject> = Api::namespaced(client.clone(), ns);
    futures::stream::iter(0..n)
        .map(|i| {
            let api = api.clone();
            async move { api.create(&PostParams::default(), &project(&format!("p{i}"))).await.unwrap() }
        })
        .buffer_unordered(16)
        .collect()
        .await
}

/// Waits until all `n` projects in `ns` are Running, reporting progress every 10 s.
/// It watches: LISTing every project a few times a second would load the apiserver
/// more than the reconciler under test does.
async fn wait_running(client: &Client, ns: &str, n: usize, started: Instant, log: &std::path::Path) {
    let api: Api<SupabaseProject> = Api::namespaced(client.clone(), ns);
    let stream = watcher(api, watcher::Config::default()).applied_objects();
    tokio::pin!(stream);
    let mut running = BTreeSet::new();
    let mut last_report = Instant::now();
    while running.len() < n {
        let next = tokio::time::timeout(Duration::from_secs(10), stream.next()).await;
        if let Ok(Some(Ok(p))) = next {
            if p.status.as_ref().and_then(|s| s.phase) == Some(crds::Phase::Running) {
                running.insert(p.name_any());
            } else {
                running.remove(&p.name_any());
            }
        }
        if last_report.elapsed() > Duration::from_secs(10) {
            eprintln!("bench: {}/{n} Running after {:.0} s", running.len(), started.elapsed().as_secs_f64());
            last_report = Instant::now();
        }
        if started.elapsed() > Duration::from_secs(3600) {
            panic!("not every project Running after an hour; log in {}", log.display());
        }
    }
}

/// CPU seconds used so far by the apiserver, etcd, the reconciler and this process
/// (the bare clients, the stand-in kubelet, the watches).
fn cpu(plane: &ControlPlane, reconciler: u32) -> Cpu {
    let of = |pid: Option<u32>| pid.and_then(|p| cpu::seconds(&p.to_string())).unwrap_or(0.0);
    Cpu {
        apiserver: of(plane.pid("kube-apiserver")),
        etcd: of(plane.pid("etcd")),
        reconciler: of(Some(reconciler)),
        bench: cpu::seconds("self").unwrap_or(0.0),
    }
}

fn used(after: Cpu, before: Cpu) -> Cpu {
    Cpu {
        apiserver: after.apiserver - before.apiserver,
        etcd: after.etcd - before.etcd,
        reconciler: after.reconciler - before.reconciler,
        bench: after.bench - before.bench,
    }
}

/// Writes per project of the client kinds in `counts`, as `kind n, ...`.
fn per_kind(counts: &Counts, projects: usize) -> String {
    let w = requests::writes(counts);
    let parts: Vec<String> = Kind::CLIENT
        .iter()
        .filter_map(|k| w.get(k).map(|v| format!("{k} {:.2}", v / projects.max(1) as f64)))
        .collect();
    if parts.is_empty() { "none".into() } else { parts.join(", ") }
}

/// Reconciles the reconciler has run so far, from its `/metrics`.
async fn reconciles(health: std::net::SocketAddr) -> f64 {
    let text = String::from_utf8_lossy(&harness::webhook::health_get(health, "/metrics").await.body).into_owned();
    text.lines()
        .filter(|l| l.starts_with("supabase_reconciler_reconciles_total"))
        .filter_map(|l| l.rsplit_once(' ').and_then(|(_, v)| v.parse::<f64>().ok()))
        .sum()
}

/// Starts the reconciler on namespace `bench`, under `wrap` if given.
fn start_reconciler(
    plane: &ControlPlane,
    dir: &std::path::Path,
    health: std::net::SocketAddr,
    wrap: Option<&str>,
) -> Proc {
    let reconciler_bin = harness::process::binary("reconciler");
    let mut cmd = match wrap.map(|w| w.split_whitespace().collect::<Vec<_>>()) {
        Some(words) if !words.is_empty() => {
            let mut c = Command::new(words[0]);
            c.args(&words[1..]).arg(&reconciler_bin);
            c
        }
        _ => Command::new(&reconciler_bin),
    };
    cmd.arg("--kubeconfig")
        .arg(plane.kubeconfig())
        .args(["--health-addr", &health.to_string(), "--watch-namespace", "bench", "--lease-namespace", "default"])
        .args(["--concurrency", &CONCURRENCY.to_string(), "--log-format", "json"])
        .env("RUST_LOG", "warn");
    Proc::spawn(cmd, &dir.join("reconciler.log"))
}

/// What the apiserver served during `work`, and the CPU it took. Scrapes again a
/// moment after `work` ends, so writes still in flight (a last event) are counted.
async fn measured<F: std::future::Future<Output = Duration>>(
    client: &Client,
    plane: &ControlPlane,
    reconciler: u32,
    name: &str,
    work: F,
) -> Run {
    let before = requests::scrape(client).await;
    let cpu_before = cpu(plane, reconciler);
    let elapsed = work.await;
    let cpu_used = used(cpu(plane, reconciler), cpu_before);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let requests = requests::delta(&requests::scrape(client).await, &before);
    Run { name: name.into(), elapsed, requests, cpu: cpu_used }
}

#[tokio::main]
async fn main() {
    let cli = Cli::parse();
    let n = cli.projects;
    let bench_started = Instant::now();
    let dir = tempfile::Builder::new().prefix("bench-reconciler-").tempdir().unwrap();
    let plane = ControlPlane::start(&dir.path().join("cluster")).unwrap();
    let client = harness::client(plane.kubeconfig()).await.unwrap();
    harness::crd::install(&client).await.unwrap();
    for ns in ["bench", "bench-ordered", "bench-bare"] {
        namespace(&client, ns).await;
    }

    let stop = CancellationToken::new();
    let kubelet = tokio::spawn(harness::kubelet::simulate(client.clone(), "bench".into(), stop.clone()));
    let health = harness::process::free_addr();
    let reconciler = start_reconciler(&plane, dir.path(), health, cli.wrap.as_deref());
    tokio::time::sleep(Duration::from_secs(2)).await;

    // 1. The reconciler: the clock runs from the first project's creation until the
    // watch has seen every project Running.
    let reconciles_before = reconciles(health).await;
    let mut creating = Duration::ZERO;
    let rec = measured(&client, &plane, reconciler.id(), "reconciler", async {
        let started = Instant::now();
        create_projects(&client, "bench", n).await;
        creating = started.elapsed();
        wait_running(&client, "bench", n, started, dir.path()).await;
        started.elapsed()
    })
    .await;
    let reconciles_run = reconciles(health).await - reconciles_before;
    stop.cancel();
    let kubelet_writes = kubelet.await.unwrap_or(0);
    let (rss_done, peak) = rss::rss_kib(reconciler.id()).unwrap_or_default();

    // Steady state: nothing changes; every write now is the reconciler's (or its Lease's).
    let steady_before = requests::scrape(&client).await;
    tokio::time::sleep(Duration::from_secs(cli.steady_seconds)).await;
    let steady = requests::delta(&requests::scrape(&client).await, &steady_before);
    let (rss_steady, _) = rss::rss_kib(reconciler.id()).unwrap_or_default();

    // 2. The ordered floor, after the reconciler is done so they do not share the CPU;
    // its own stand-in kubelet on its namespace. Projects are created before the clock.
    let projects = create_projects(&client, "bench-ordered", n).await;
    let stop = CancellationToken::new();
    let kubelet = tokio::spawn(harness::kubelet::simulate(client.clone(), "bench-ordered".into(), stop.clone()));
    let mut objects = 0;
    let ordered = measured(&client, &plane, reconciler.id(), "bare, ordered", async {
        let outcome = bare_rollout::ordered(&client, "bench-ordered", &projects, cli.bare_concurrency).await;
        objects = outcome.objects;
        outcome.elapsed
    })
    .await;
    stop.cancel();
    let ordered_kubelet_writes = kubelet.await.unwrap_or(0);

    // 3. Every object at once, no kubelet, waiting for nothing.
    let projects = create_projects(&client, "bench-bare", n).await;
    let unordered = measured(&client, &plane, reconciler.id(), "bare, unordered", async {
        bare_rollout::unordered(&client, &projects, cli.bare_concurrency).await.elapsed
    })
    .await;
    drop(reconciler);

    let runs = [rec, ordered, unordered];
    let rec = &runs[0];
    let sample = project("p0");
    let components = crds::CATALOG.iter().filter(|e| sample.spec.enabled(e.component)).count();
    println!("## Rollout of {n} projects ({objects} objects in all), stand-in kubelet, {CONCURRENCY} at once\n");
    println!("{}", report::times(&runs));
    println!("### apiserver writes per project, by kind (apiserver_request_total before and after each run)\n");
    println!("{}", report::writes(&runs, n));
    println!(
        "- the reconciler's stand-in kubelet counted {kubelet_writes} status writes of its own, the ordered run's \
         {ordered_kubelet_writes} (the apiserver's figures are in the table); projects created by the benchmark \
         and Lease renewals are not in it"
    );
    for r in &runs {
        println!("- {}, every request: {}", r.name, report::listing(&r.requests));
    }
    // GETs of what a reconcile reads. Not leases, endpoints, namespaces or services: the
    // Lease's renewals and the apiserver's upkeep of its own `kubernetes` Service (the bare
    // runs show the same; the reconciler reads Services from its cache).
    let reads = requests::reads(&rec.requests);
    let owned = ["secrets", "configmaps", "deployments", "jobs", "supabaseprojects"];
    let gets: f64 = reads
        .iter()
        .filter(|(k, _)| k.strip_prefix("GET ").is_some_and(|r| owned.contains(&r.split('/').next().unwrap_or(r))))
        .map(|(_, v)| v)
        .sum();
    println!(
        "- reconciler: its clock includes creating the projects ({:.1} s, 16 at a time, while it works); \
         {reconciles_run:.0} reconciles, {:.2} GETs and {:.2} dry-run applies per project; \
         RSS peak {:.1} MiB, {:.1} MiB when all were Running, {:.1} MiB after the steady state",
        creating.as_secs_f64(),
        gets / n.max(1) as f64,
        rec.per_project(Kind::DryRuns, n),
        peak as f64 / 1024.0,
        rss_done as f64 / 1024.0,
        rss_steady as f64 / 1024.0
    );
    println!(
        "- steady state, {} s: writes {} (per project: {}); all requests: {}",
        cli.steady_seconds,
        Kind::CLIENT.iter().map(|k| requests::writes(&steady).get(k).copied().unwrap_or(0.0)).sum::<f64>() + 0.0,
        per_kind(&steady, n),
        report::listing(&steady)
    );
    println!(
        "\nREADME row (projects | reconciler | bare, ordered (ratio) | bare, unordered (ratio) | reconciler peak RSS \
         | writes per project: reconciler / ordered / unordered), {components} components per project:"
    );
    println!("{}", report::readme_row(n, &runs, peak as f64 / 1024.0));
    eprintln!("bench: done in {:.0} s", bench_started.elapsed().as_secs_f64());
}
