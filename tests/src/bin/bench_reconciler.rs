//! `make bench-reconciler`: N projects (default 200, `--projects` up to 1000)
//! against the real apiserver, with a stand-in kubelet marking Deployments ready.
//! Prints the time until every project is Running, the reconciler's peak memory,
//! the apiserver writes it issued, the same objects applied by a bare client (the
//! limit), and the writes made while nothing changes. Passes or fails nothing.
#![forbid(unsafe_code)]
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;
use std::time::{Duration, Instant};

use clap::Parser;
use crds::{CATALOG, SupabaseProject};
use futures::StreamExt;
use harness::bench::{cpu, rss};
use harness::process::Proc;
use harness::{ControlPlane, fixtures};
use k8s_openapi::api::core::v1::{Namespace, Secret};
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Client, Resource, ResourceExt};
use serde_json::json;
use tokio_util::sync::CancellationToken;

#[derive(Parser)]
#[command(about = "Benchmark the reconciler against a bare server-side-apply client")]
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
    /// Concurrent requests of the bare client.
    #[arg(long, default_value_t = 16)]
    bare_concurrency: usize,
}

/// Write requests the apiserver has served, by resource (from apiserver_request_total).
async fn writes(client: &Client) -> BTreeMap<String, f64> {
    requests(client, &["POST", "PUT", "PATCH", "DELETE", "APPLY"]).await
}

/// Read requests (GET, LIST, WATCH) the apiserver has served, by verb and resource.
async fn reads(client: &Client) -> BTreeMap<String, f64> {
    requests(client, &["GET", "LIST", "WATCH"]).await
}

/// Requests of `verbs` the apiserver has served, by resource (from apiserver_request_total);
/// reads are keyed `VERB resource`.
async fn requests(client: &Client, verbs: &[&str]) -> BTreeMap<String, f64> {
    let reading = verbs.contains(&"GET");
    let req = http::Request::get("/metrics").body(Vec::new()).unwrap();
    let text = client.request_text(req).await.unwrap_or_default();
    let mut out = BTreeMap::new();
    for line in text.lines().filter(|l| l.starts_with("apiserver_request_total{")) {
        let Some((labels, value)) = line.rsplit_once("} ") else { continue };
        let label = |k: &str| {
            labels
                .split(',')
                .find_map(|l| l.trim_start_matches("apiserver_request_total{").strip_prefix(&format!("{k}=\"")))
                .map(|v| v.trim_end_matches('"').to_string())
        };
        let verb = label("verb").unwrap_or_default();
        if !verbs.contains(&verb.as_str()) {
            continue;
        }
        let mut resource = label("resource").unwrap_or_default();
        if let Some(sub) = label("subresource").filter(|s| !s.is_empty()) {
            resource = format!("{resource}/{sub}");
        }
        // Dry-run requests change nothing; they are counted apart.
        if label("dry_run").is_some_and(|d| !d.is_empty()) {
            resource = format!("{resource} (dry run)");
        }
        if reading {
            resource = format!("{verb} {resource}");
        }
        *out.entry(resource).or_insert(0.0) += value.trim().parse::<f64>().unwrap_or(0.0);
    }
    out
}

fn delta(after: &BTreeMap<String, f64>, before: &BTreeMap<String, f64>) -> BTreeMap<String, f64> {
    after
        .iter()
        .map(|(k, v)| (k.clone(), v - before.get(k).copied().unwrap_or(0.0)))
        .filter(|(_, v)| *v > 0.0)
        .collect()
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

/// The limit: the same kinds of objects for the same projects, applied by a plain
/// client with server-side apply, as fast as it goes.
async fn bare_apply(client: &Client, projects: &[SupabaseProject], concurrency: usize) -> (Duration, usize) {
    let params = PatchParams::apply("bench-bare").force();
    let mut objects: Vec<(String, serde_json::Value, &'static str)> = Vec::new();
    for p in projects {
        let ns = p.namespace().unwrap();
        for name in [crds::names::jwt_secret(&p.name_any()), crds::names::internal_secret(&p.name_any())].into_iter() {
            let mut s = fixtures::secret(&name, &[("k", "v")]);
            s.metadata.namespace = Some(ns.clone());
            s.metadata.owner_references = p.controller_owner_ref(&()).map(|o| vec![o]);
            objects.push((ns.clone(), serde_json::to_value(&s).unwrap(), "secrets"));
        }
        for entry in CATALOG.iter().filter(|e| p.spec.enabled(e.component)) {
            let rendered = reconciler::workloads::component(p, entry.component, "bench").expect("render");
            for cm in rendered.config_maps {
                objects.push((ns.clone(), serde_json::to_value(&cm).unwrap(), "configmaps"));
            }
            objects.push((ns.clone(), serde_json::to_value(&rendered.service).unwrap(), "services"));
            objects.push((ns.clone(), serde_json::to_value(&rendered.deployment).unwrap(), "deployments"));
        }
    }
    let count = objects.len();
    let started = Instant::now();
    futures::stream::iter(objects)
        .map(|(ns, obj, kind)| {
            let client = client.clone();
            let params = params.clone();
            async move {
                let name = obj["metadata"]["name"].as_str().unwrap_or_default().to_string();
                let result = match kind {
                    "secrets" => Api::<Secret>::namespaced(client, &ns)
                        .patch(&name, &params, &Patch::Apply(&obj))
                        .await
                        .map(|_| ()),
                    "configmaps" => Api::<k8s_openapi::api::core::v1::ConfigMap>::namespaced(client, &ns)
                        .patch(&name, &params, &Patch::Apply(&obj))
                        .await
                        .map(|_| ()),
                    "services" => Api::<k8s_openapi::api::core::v1::Service>::namespaced(client, &ns)
                        .patch(&name, &params, &Patch::Apply(&obj))
                        .await
                        .map(|_| ()),
                    _ => Api::<k8s_openapi::api::apps::v1::Deployment>::namespaced(client, &ns)
                        .patch(&name, &params, &Patch::Apply(&obj))
                        .await
                        .map(|_| ()),
                };
                result.expect("bare apply");
            }
        })
        .buffer_unordered(concurrency)
        .collect::<Vec<()>>()
        .await;
    (started.elapsed(), count)
}

/// CPU seconds used so far by the reconciler, the apiserver, etcd and this process
/// (the stand-in kubelet and the watch for Running), in that order.
fn cpu(plane: &ControlPlane, reconciler: u32) -> [f64; 4] {
    let of = |pid: Option<u32>| pid.and_then(|p| cpu::seconds(&p.to_string())).unwrap_or(0.0);
    [of(Some(reconciler)), of(plane.pid("kube-apiserver")), of(plane.pid("etcd")), cpu::seconds("self").unwrap_or(0.0)]
}

/// Reconciles the reconciler has run so far, from its `/metrics`.
async fn reconciles(health: std::net::SocketAddr) -> f64 {
    let text = String::from_utf8_lossy(&harness::webhook::health_get(health, "/metrics").await.body).into_owned();
    text.lines()
        .filter(|l| l.starts_with("supabase_reconciler_reconciles_total"))
        .filter_map(|l| l.rsplit_once(' ').and_then(|(_, v)| v.parse::<f64>().ok()))
        .sum()
}

fn print_writes(title: &str, w: &BTreeMap<String, f64>) {
    let total: f64 = w.values().sum();
    let parts: Vec<String> = w.iter().map(|(k, v)| format!("{k} {v:.0}")).collect();
    println!("- {title}: {total:.0} ({})", if parts.is_empty() { "none".into() } else { parts.join(", ") });
}

#[tokio::main]
async fn main() {
    let cli = Cli::parse();
    let dir = tempfile::Builder::new().prefix("bench-reconciler-").tempdir().unwrap();
    let plane = ControlPlane::start(&dir.path().join("cluster")).unwrap();
    let client = harness::client(plane.kubeconfig()).await.unwrap();
    harness::crd::install(&client).await.unwrap();
    namespace(&client, "bench").await;
    namespace(&client, "bench-bare").await;

    let stop = CancellationToken::new();
    let kubelet = tokio::spawn(harness::kubelet::simulate(client.clone(), "bench".into(), stop.clone()));
    let health = harness::process::free_addr();
    let reconciler_bin = harness::process::binary("reconciler");
    let mut cmd = match cli.wrap.as_deref().map(|w| w.split_whitespace().collect::<Vec<_>>()) {
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
        .args(["--log-format", "json"])
        .env("RUST_LOG", "warn");
    let reconciler = Proc::spawn(cmd, &dir.path().join("reconciler.log"));
    tokio::time::sleep(Duration::from_secs(2)).await;

    let before = writes(&client).await;
    let reads_before = reads(&client).await;
    let (cpu_before, reconciles_before) = (cpu(&plane, reconciler.id()), reconciles(health).await);
    let started = Instant::now();
    create_projects(&client, "bench", cli.projects).await;
    wait_running(&client, "bench", cli.projects, started, dir.path()).await;
    let rollout = started.elapsed();
    let cpu_used: Vec<f64> = cpu(&plane, reconciler.id()).iter().zip(cpu_before).map(|(a, b)| a - b).collect();
    let reconciles_run = reconciles(health).await - reconciles_before;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = writes(&client).await;
    let reads_after = reads(&client).await;
    stop.cancel();
    let kubelet_writes = kubelet.await.unwrap_or(0);
    let (rss_done, peak) = rss::rss_kib(reconciler.id()).unwrap_or_default();

    let mut rollout_writes = delta(&after, &before);
    // Not the reconciler's: our project creations and the stand-in kubelet's status writes.
    for (key, ours) in [("supabaseprojects", cli.projects as f64), ("deployments/status", kubelet_writes as f64)] {
        if let Some(v) = rollout_writes.get_mut(key) {
            *v -= ours;
        }
    }
    rollout_writes.retain(|_, v| *v > 0.0);

    // Steady state: nothing changes; every write now is the reconciler's (or its Lease's).
    let steady_before = writes(&client).await;
    tokio::time::sleep(Duration::from_secs(cli.steady_seconds)).await;
    let steady = delta(&writes(&client).await, &steady_before);
    let (rss_steady, _) = rss::rss_kib(reconciler.id()).unwrap_or_default();

    // The limit, after the reconciler is done so they do not share the CPU.
    let bare_projects = create_projects(&client, "bench-bare", cli.projects).await;
    let bare_cpu_before = cpu(&plane, reconciler.id());
    let (bare_time, bare_objects) = bare_apply(&client, &bare_projects, cli.bare_concurrency).await;
    let bare_cpu: Vec<f64> = cpu(&plane, reconciler.id()).iter().zip(bare_cpu_before).map(|(a, b)| a - b).collect();
    drop(reconciler);

    println!("## Reconciler: {} projects to Running\n", cli.projects);
    println!(
        "- reconciler: {:.1} s until every project Running; RSS peak {:.1} MiB, {:.1} MiB when all were Running, \
         {:.1} MiB after the steady state",
        rollout.as_secs_f64(),
        peak as f64 / 1024.0,
        rss_done as f64 / 1024.0,
        rss_steady as f64 / 1024.0
    );
    println!(
        "- bare client: {bare_objects} objects applied with server-side apply in {:.1} s ({} in flight)",
        bare_time.as_secs_f64(),
        cli.bare_concurrency
    );
    println!(
        "  CPU seconds: kube-apiserver {:.1}, etcd {:.1}, the bare client {:.1}",
        bare_cpu[1], bare_cpu[2], bare_cpu[3]
    );
    println!("- ratio reconciler / bare: {:.2}", rollout.as_secs_f64() / bare_time.as_secs_f64().max(0.001));
    println!(
        "- CPU seconds during rollout (of {:.0} core-seconds): reconciler {:.1}, kube-apiserver {:.1}, etcd {:.1}, \
         benchmark (stand-in kubelet, watch) {:.1}; {reconciles_run:.0} reconciles",
        rollout.as_secs_f64() * std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1) as f64,
        cpu_used[0],
        cpu_used[1],
        cpu_used[2],
        cpu_used[3]
    );
    print_writes("apiserver writes by the reconciler during rollout", &rollout_writes);
    println!("  (excluded: {} project creations, {kubelet_writes} stand-in kubelet status writes)", cli.projects);
    let mut rollout_reads = delta(&reads_after, &reads_before);
    // Our own watch for Running is not the reconciler's.
    rollout_reads.remove("LIST supabaseprojects");
    rollout_reads.remove("WATCH supabaseprojects");
    print_writes("apiserver reads during rollout (reconciler and stand-in kubelet)", &rollout_reads);
    let per = |w: &BTreeMap<String, f64>, f: &dyn Fn(&String) -> bool| {
        // `+ 0.0`: an empty f64 sum is -0.0, printed "-0".
        w.iter().filter(|(k, _)| f(k)).map(|(_, v)| v).sum::<f64>() / cli.projects.max(1) as f64 + 0.0
    };
    println!(
        "- per project: {:.1} GETs, {:.1} dry-run applies, {:.1} writes (events included)",
        per(&rollout_reads, &|k| k.starts_with("GET ")),
        per(&rollout_writes, &|k| k.ends_with("(dry run)")),
        per(&rollout_writes, &|k| !k.ends_with("(dry run)") && !k.starts_with("leases") && !k.starts_with("endpoints")),
    );
    print_writes(&format!("writes during {} s of steady state", cli.steady_seconds), &steady);
    // `endpoints` writes are the apiserver's own (the `kubernetes` Service), not ours.
    let ours = |k: &String| !k.starts_with("leases") && !k.ends_with("(dry run)") && !k.starts_with("endpoints");
    // `+ 0.0`: an empty f64 sum is -0.0, printed "-0".
    let real: f64 = steady.iter().filter(|(k, _)| ours(k)).map(|(_, v)| v).sum::<f64>() + 0.0;
    println!("- steady-state writes other than Lease renewals, dry runs and the apiserver's own endpoints: {real:.0}");
}
