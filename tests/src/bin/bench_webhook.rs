//! `make bench-webhook`: the webhook's speed and memory against the bare server on
//! the same stack, and the latency the apiserver itself observes. Prints figures;
//! passes or fails nothing.
//!
//! 0. In-process, one thread: the microseconds the webhook's own code spends per
//!    review (`bench-webhook handler` prints only this, without a cluster).
//! 1. Over TLS keep-alive on loopback, many HTTP/1.1 connections post the reviews
//!    of a `kubectl apply` of the full sample: to `/mutate` the object as kubectl
//!    creates it, to `/validate` the object after `/mutate` (as the apiserver sends
//!    them), with the Secret lookups and access reviews going to a real apiserver, as
//!    in production.
//! 2. The same load against the bare server (constant "allowed"), once with each
//!    endpoint's review: the limit.
//! 3. Through the apiserver: `kubectl apply` of N projects, then the apiserver's
//!    `apiserver_admission_webhook_admission_duration_seconds` histogram.
//!
//! `bench-webhook memory` instead measures the webhook's RSS before and after 20,000
//! Secrets that no project references, beside its review latency (`bench::memory`).
#![forbid(unsafe_code)]
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use bytes::Bytes;
use clap::{Parser, Subcommand};
use harness::bench::{bare, handler, load, memory, prometheus, rss, tls};
use harness::process::{self, Proc, free_addr};
use harness::{ControlPlane, fixtures};
use k8s_openapi::api::core::v1::{Namespace, Secret};
use kube::api::{Api, PostParams};
use serde_json::json;

/// The webhook's allocator, so the in-process figures are the webhook's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(about = "Benchmark the admission webhook against a bare server on the same stack")]
struct Cli {
    #[command(subcommand)]
    command: Option<Cmd>,
    /// Concurrent connections for the throughput runs.
    #[arg(long, default_value_t = 64)]
    connections: usize,
    /// Seconds each run measures.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Requests per second of the fixed-rate runs.
    #[arg(long, default_value_t = 1000)]
    rate: u64,
    /// Projects applied through the apiserver.
    #[arg(long, default_value_t = 200)]
    projects: usize,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run the bare server (started by the benchmark itself).
    Bare {
        #[arg(long)]
        listen: SocketAddr,
        #[arg(long)]
        cert: PathBuf,
        #[arg(long)]
        key: PathBuf,
    },
    /// Only the in-process cost per review (no TLS, no cluster).
    Handler,
    /// The webhook's RSS before and after many Secrets no project references, with
    /// review latency in namespaces with and without a project.
    Memory {
        /// Unrelated Secrets to create.
        #[arg(long, default_value_t = 20_000)]
        secrets: usize,
        /// Bytes of data in each.
        #[arg(long, default_value_t = 2048)]
        bytes: usize,
        /// Namespaces they are spread over.
        #[arg(long, default_value_t = 20)]
        namespaces: usize,
        /// Creations in flight at once.
        #[arg(long, default_value_t = 32)]
        concurrency: usize,
        /// Reviews per latency figure.
        #[arg(long, default_value_t = 200)]
        reviews: usize,
        /// Namespaces with a project created at the end, for the cost of each.
        #[arg(long, default_value_t = 100)]
        project_namespaces: usize,
        /// Another webhook binary to measure (e.g. an older build); default: the one
        /// beside this benchmark.
        #[arg(long)]
        webhook: Option<PathBuf>,
        /// Extra webhook flags, e.g. `-- --secret-lookup direct`.
        #[arg(last = true)]
        webhook_args: Vec<String>,
    },
}

async fn wait_ok(url: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        let ok = Command::new("curl").args(["-fsS", "-o", "/dev/null", url]).status().map(|s| s.success());
        if ok.unwrap_or(false) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{url} did not answer");
}

fn print_handler_costs(seconds: u64) {
    let (sent, admitted) = (handler::sample_review(), handler::admitted_review());
    let secrets = handler::sample_secrets();
    let time = Duration::from_secs(seconds.clamp(1, 3));
    // Its own thread and runtime: the measurement must not share the load generator's.
    let (s, a) = (sent.clone(), admitted.clone());
    let c = std::thread::spawn(move || handler::measure(&s, &a, secrets, time)).join().unwrap();
    println!(
        "## In-process cost per review, one thread, no TLS ({} bytes as kubectl sent it, {} after /mutate)\n",
        sent.len(),
        admitted.len()
    );
    println!("| step | µs per review | reviews/s on one core |\n|---|---|---|");
    for (name, us) in [
        ("reading the review after /mutate, spec typed", c.parse_us),
        ("/mutate, the review as kubectl sent it", c.mutate_us),
        ("/validate, the review after /mutate", c.validate_us),
        ("/validate, the review as kubectl sent it", c.validate_sent_us),
    ] {
        println!("| {name} | {us:.1} | {:.0} |", 1e6 / us);
    }
    println!();
}

fn row(name: &str, r: &load::Report) -> String {
    format!(
        "| {name} | {:.0} | {:.2} | {:.2} | {:.2} | {:.2} | {} |",
        r.rps,
        r.p50_us as f64 / 1000.0,
        r.p99_us as f64 / 1000.0,
        r.p999_us as f64 / 1000.0,
        r.max_us as f64 / 1000.0,
        r.errors
    )
}

/// CPU per answered request of the server and of this load generator: what the
/// throughput ratio is made of, independent of how the two share the cores.
fn cpu_row(name: &str, r: &load::Report) -> String {
    let (server, client) = (r.server_cpu_us, r.client_cpu_us);
    let show = |x: Option<f64>| x.map(|v| format!("{v:.1}")).unwrap_or("-".into());
    format!("| {name} | {} | {} | {} |", show(server), show(client), show(server.zip(client).map(|(s, c)| s + c)))
}

fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

async fn create_secrets(client: &kube::Client, namespace: &str, secrets: Vec<Secret>) {
    let ns: Namespace = serde_json::from_value(json!({"metadata": {"name": namespace}})).unwrap();
    let _ = Api::<Namespace>::all(client.clone()).create(&PostParams::default(), &ns).await;
    let api: Api<Secret> = Api::namespaced(client.clone(), namespace);
    for s in secrets {
        api.create(&PostParams::default(), &s).await.unwrap();
    }
}

#[tokio::main]
async fn main() {
    let cli = Cli::parse();
    if let Some(Cmd::Bare { listen, cert, key }) = cli.command {
        let config = tls::server(&cert, &key).unwrap();
        bare::serve(listen, config).await.unwrap();
        return;
    }
    if let Some(Cmd::Handler) = cli.command {
        print_handler_costs(cli.seconds);
        return;
    }
    if let Some(Cmd::Memory {
        secrets,
        bytes,
        namespaces,
        concurrency,
        reviews,
        project_namespaces,
        webhook,
        webhook_args,
    }) = cli.command
    {
        let webhook = webhook.unwrap_or_else(|| process::binary("webhook"));
        let options = memory::Options {
            secrets,
            bytes,
            namespaces,
            concurrency,
            reviews,
            project_namespaces,
            webhook,
            webhook_args,
        };
        let dir = tempfile::Builder::new().prefix("bench-webhook-memory-").tempdir().unwrap();
        let plane = ControlPlane::start(&dir.path().join("cluster")).unwrap();
        let client = harness::client(plane.kubeconfig()).await.unwrap();
        let report = memory::run(plane.kubeconfig(), &client, dir.path(), "memory", &options).await;
        println!("{}", report.render(&options));
        return;
    }
    print_handler_costs(cli.seconds);
    let dir = tempfile::Builder::new().prefix("bench-webhook-").tempdir().unwrap();
    let plane = ControlPlane::start(&dir.path().join("cluster")).unwrap();
    let kubeconfig = plane.kubeconfig().to_path_buf();
    let client = harness::client(&kubeconfig).await.unwrap();
    harness::crd::install(&client).await.unwrap();
    create_secrets(&client, "bench", fixtures::full_sample()).await;

    let certs_dir = dir.path().join("certs");
    let w = certs::write_all(&certs_dir, &["127.0.0.1".to_string()], 30, 365, false).unwrap();
    let (webhook_addr, health_addr, bare_addr) = (free_addr(), free_addr(), free_addr());
    let mut cmd = Command::new(process::binary("webhook"));
    cmd.args(["--listen", &webhook_addr.to_string(), "--health-listen", &health_addr.to_string()])
        .arg("--tls-cert")
        .arg(&w.tls_cert)
        .arg("--tls-key")
        .arg(&w.tls_key)
        .arg("--kubeconfig")
        .arg(&kubeconfig)
        .args(["--log-format", "json"])
        .env("RUST_LOG", "warn");
    let webhook = Proc::spawn(cmd, &dir.path().join("webhook.log"));
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args(["bare", "--listen", &bare_addr.to_string()]).arg("--cert").arg(&w.tls_cert).arg("--key").arg(&w.tls_key);
    let bare_proc = Proc::spawn(cmd, &dir.path().join("bare.log"));
    wait_ok(&format!("http://{health_addr}/readyz")).await;

    let (sent, admitted) = (handler::sample_review(), handler::admitted_review());
    let client_tls = tls::client(&w.ca_cert).unwrap();

    let (idle_rss, _) = rss::rss_kib(webhook.id()).unwrap_or_default();
    let (bare_idle, _) = rss::rss_kib(bare_proc.id()).unwrap_or_default();
    let closed = load::Shape { connections: cli.connections, duration: Duration::from_secs(cli.seconds), rate: None };
    let open = load::Shape { rate: Some(cli.rate), ..closed };
    let target = |addr: SocketAddr, path: &str, pid: u32, body: &Bytes| load::Target {
        addr,
        server_pid: Some(pid),
        server_name: "127.0.0.1".into(),
        path: path.into(),
        body: body.clone(),
    };

    let mut rows = Vec::new();
    let mut server_rows = Vec::new();
    let mut cpu_rows = Vec::new();
    // Each endpoint gets the review the apiserver sends it, and the bare server gets
    // each of the two in turn: a ratio compares the same bytes.
    for (name, addr, path, pid, body) in [
        ("webhook /validate", webhook_addr, "/validate", webhook.id(), &admitted),
        ("webhook /mutate", webhook_addr, "/mutate", webhook.id(), &sent),
        ("bare server, /validate's review", bare_addr, "/validate", bare_proc.id(), &admitted),
        ("bare server, /mutate's review", bare_addr, "/mutate", bare_proc.id(), &sent),
    ] {
        let max = load::run(target(addr, path, pid, body), client_tls.clone(), closed).await;
        rows.push(row(&format!("{name}, {} connections, max", cli.connections), &max));
        cpu_rows.push(cpu_row(&format!("{name}, max"), &max));
        let before = scrape(health_addr);
        let fixed = load::run(target(addr, path, pid, body), client_tls.clone(), open).await;
        rows.push(row(&format!("{name}, {} req/s", cli.rate), &fixed));
        cpu_rows.push(cpu_row(&format!("{name}, {} req/s", cli.rate), &fixed));
        if addr == webhook_addr {
            server_rows.push(server_side(path, &before, &scrape(health_addr), cli.rate));
        }
    }
    let (_, webhook_peak) = rss::rss_kib(webhook.id()).unwrap_or_default();
    let (_, bare_peak) = rss::rss_kib(bare_proc.id()).unwrap_or_default();

    println!(
        "## Webhook over TLS on loopback ({} bytes per /validate review, {} per /mutate review, {} s per run)\n",
        admitted.len(),
        sent.len(),
        cli.seconds
    );
    println!("| run | req/s | p50 ms | p99 ms | p99.9 ms | max ms | errors |\n|---|---|---|---|---|---|---|");
    rows.iter().for_each(|r| println!("{r}"));
    println!(
        "\nRSS: webhook idle {}, peak {}; bare server idle {}, peak {}",
        mib(idle_rss),
        mib(webhook_peak),
        mib(bare_idle),
        mib(bare_peak)
    );
    // A busy server answers several requests per wake-up; at a low rate each one pays
    // for its own, so the fixed-rate figures are higher.
    println!("\nCPU per answered request (from /proc, in 10 ms ticks):\n");
    println!("| run | server µs | load generator µs | together µs |\n|---|---|---|---|");
    cpu_rows.iter().for_each(|r| println!("{r}"));
    println!("\nServer-side latency at {} req/s, from the webhook's own histogram (upper bucket bounds):", cli.rate);
    server_rows.iter().for_each(|r| println!("{r}"));

    let before = scrape(health_addr);
    apiserver_run(&plane, &kubeconfig, &client, &format!("https://{webhook_addr}"), &w.ca_cert, cli.projects).await;
    let after = scrape(health_addr);
    // The same calls as the webhook itself timed them: what of the apiserver's figure is
    // the webhook's own time.
    println!("\nThe same calls by the webhook's own histogram (upper bucket bounds):");
    for endpoint in ["/mutate", "/validate"] {
        let name = "supabase_webhook_request_duration_seconds";
        let filter = format!("\"{endpoint}\"");
        let b = prometheus::delta(
            &prometheus::buckets(&after, name, &[&filter]),
            &prometheus::buckets(&before, name, &[&filter]),
        );
        let calls = b.last().map(|x| x.1).unwrap_or(0.0);
        let max = b.iter().find(|(_, c)| *c >= calls).map(|(le, _)| format!("{:.3} ms", le * 1000.0));
        println!("- {endpoint}: {calls:.0} calls, slowest ≤ {}", max.unwrap_or("-".into()));
    }
    drop(webhook);
    drop(bare_proc);
}

fn scrape(health: SocketAddr) -> String {
    let out = Command::new("curl").args(["-fsS", &format!("http://{health}/metrics")]).output().unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The webhook's own latency for `endpoint` between two scrapes: the server-side figure.
fn server_side(endpoint: &str, before: &str, after: &str, rate: u64) -> String {
    let name = "supabase_webhook_request_duration_seconds";
    let filter = format!("\"{endpoint}\"");
    let b = prometheus::delta(
        &prometheus::buckets(after, name, &[&filter]),
        &prometheus::buckets(before, name, &[&filter]),
    );
    let q = |q| prometheus::quantile_bound(&b, q).map(|s| format!("{:.3} ms", s * 1000.0)).unwrap_or("-".into());
    let calls = b.last().map(|x| x.1).unwrap_or(0.0);
    format!("- {endpoint} at {rate} req/s: {calls:.0} calls, p50 ≤ {}, p99 ≤ {}, p99.9 ≤ {}", q(0.5), q(0.99), q(0.999))
}

async fn apiserver_run(plane: &ControlPlane, kubeconfig: &Path, client: &kube::Client, url: &str, ca: &Path, n: usize) {
    let kubectl = || harness::kubectl::Kubectl::new(kubeconfig, "bench-apply");
    let ca_pem = std::fs::read_to_string(ca).unwrap();
    let configs = harness::webhook_registration::local_configurations(kubectl(), url, &ca_pem).await;
    let list = json!({"apiVersion": "v1", "kind": "List", "items": configs});
    kubectl().args(["apply", "-f", "-"]).stdin(list.to_string()).ok().await;
    create_secrets(client, "bench-apply", vec![fixtures::database("demo-db")]).await;
    let minimal = std::fs::read_to_string(harness::repo_path("config/samples/minimal.yaml")).unwrap();
    let n = n.max(2);
    let docs: Vec<String> = (0..n).map(|i| minimal.replace("name: demo\n", &format!("name: demo-{i}\n"))).collect();
    // The first project alone: its calls open the apiserver's connections to the webhook
    // and fill the webhook's access cache, which the rest then reuse.
    let started = Instant::now();
    kubectl().args(["apply", "-f", "-"]).stdin(docs[0].clone()).ok().await;
    let first = kubectl().args(["get", "--raw", "/metrics"]).ok().await;
    kubectl().args(["apply", "-f", "-"]).stdin(docs[1..].join("---\n")).ok().await;
    let took = started.elapsed();
    let metrics = kubectl().args(["get", "--raw", "/metrics"]).ok().await;
    let _ = plane;
    println!("\n## Through the apiserver: `kubectl apply` of {n} projects in {:.1} s\n", took.as_secs_f64());
    println!("Share of webhook calls per bucket of `apiserver_admission_webhook_admission_duration_seconds`:\n");
    println!(
        "| type | calls | ≤5 ms | ≤25 ms | ≤100 ms | ≤500 ms | ≤2.5 s | more |\n|---|---|---|---|---|---|---|---|"
    );
    let name = "apiserver_admission_webhook_admission_duration_seconds";
    for kind in ["admit", "validating"] {
        let filter = format!("type=\"{kind}\"");
        let label = if kind == "admit" { "mutating" } else { "validating" };
        let all = prometheus::buckets(&metrics, name, &[&filter]);
        let after_first = prometheus::delta(&all, &prometheus::buckets(&first, name, &[&filter]));
        for (what, b) in [(label.to_string(), all), (format!("{label}, after the first project"), after_first)] {
            let total = b.last().map(|x| x.1).unwrap_or(0.0);
            let shares: Vec<String> =
                prometheus::shares(&b).iter().map(|(_, s)| format!("{:.1}%", s * 100.0)).collect();
            println!("| {what} | {total:.0} | {} |", shares.join(" | "));
        }
    }
}
