//! The webhook's memory against the cluster's Secrets, for `bench-webhook memory`
//! (20,000 Secrets) and `tests/tests/webhook_memory.rs` (fewer): the webhook runs as its
//! own process, many Secrets no project references are created around it, and its RSS
//! and review latency are taken before and after.
//!
//! Reviews go straight to the webhook over one keep-alive TLS connection, so a latency
//! is the webhook's answer alone. Two namespaces hold the full sample's Secrets: one
//! whose project exists before the webhook starts, and one whose project is created
//! during the run (its first reviews are those of a namespace's first project).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use crds::SupabaseProject;
use futures::StreamExt;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use k8s_openapi::api::core::v1::{Namespace, Secret};
use kube::Client;
use kube::api::{Api, DeleteParams, PostParams};
use rustls::pki_types::ServerName;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::{handler, prometheus, rss};
use crate::process::{Proc, free_addr};

/// What to create and how.
#[derive(Clone, Debug)]
pub struct Options {
    /// Unrelated Secrets to create.
    pub secrets: usize,
    /// Bytes of data in each.
    pub bytes: usize,
    /// Namespaces they are spread over.
    pub namespaces: usize,
    /// Creations in flight at once.
    pub concurrency: usize,
    /// Reviews per latency figure (after the first).
    pub reviews: usize,
    /// Namespaces holding a project and the full sample's Secrets, created at the end, for the
    /// cost of each watched namespace.
    pub project_namespaces: usize,
    /// The webhook binary.
    pub webhook: PathBuf,
    /// Extra webhook flags, e.g. `--secret-lookup direct`.
    pub webhook_args: Vec<String>,
}

/// The first review of a series and the ones after it.
#[derive(Clone, Copy, Debug)]
pub struct Latency {
    /// The first review.
    pub first: Duration,
    /// Secrets the first review read from the apiserver (`None` when the webhook does
    /// not count them).
    pub first_reads: Option<f64>,
    /// Median of the later ones.
    pub p50: Duration,
    /// 99th percentile of the later ones.
    pub p99: Duration,
    /// Secrets the later reviews read from the apiserver (`None` when the webhook does
    /// not count them).
    pub apiserver_reads: Option<f64>,
}

/// What a run measured.
#[derive(Debug)]
pub struct Report {
    /// Webhook RSS once warmed up (reviews answered in both namespaces), KiB.
    pub idle_kib: u64,
    /// Webhook RSS after the unrelated Secrets were created and it settled, KiB.
    pub after_kib: u64,
    /// Webhook peak RSS over the run, KiB.
    pub peak_kib: u64,
    /// Time to create the unrelated Secrets.
    pub created_in: Duration,
    /// Reviews where the project existed before the webhook started, before the
    /// unrelated Secrets were created.
    pub before: Latency,
    /// The same, after.
    pub after: Latency,
    /// Reviews in a namespace without a project yet (a namespace's first project).
    pub no_project: Latency,
    /// The same namespace once its project exists and a review is served from the cache.
    pub new_project: Latency,
    /// From creating that project until a review read no Secret from the apiserver
    /// (`None` when the webhook does not count its reads).
    pub cached_after: Option<Duration>,
    /// Webhook RSS after `project_namespaces` more namespaces with a project, KiB.
    pub projects_kib: u64,
    /// The webhook's open file descriptors (its connections, mostly) before and after
    /// those namespaces.
    pub fds: (usize, usize),
    /// Secrets the webhook's cache holds at the end, by its own gauge.
    pub cached_secrets: Option<f64>,
    /// The webhook's log file.
    pub log: PathBuf,
}

/// A webhook process and a keep-alive connection to it.
struct Webhook {
    proc: Proc,
    tls: SocketAddr,
    health: SocketAddr,
    ca: PathBuf,
    sender: SendRequest<Full<Bytes>>,
}

async fn http_get(addr: SocketAddr, path: &str) -> Option<(u16, String)> {
    let mut tcp = tokio::net::TcpStream::connect(addr).await.ok()?;
    tcp.write_all(format!("GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").as_bytes()).await.ok()?;
    let mut raw = Vec::new();
    tcp.read_to_end(&mut raw).await.ok()?;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let status = text.split_whitespace().nth(1)?.parse().ok()?;
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    Some((status, body))
}

async fn connect(addr: SocketAddr, ca: &Path) -> SendRequest<Full<Bytes>> {
    let config = super::tls::client(ca).unwrap_or_else(|e| panic!("TLS client: {e}"));
    let tcp = tokio::net::TcpStream::connect(addr).await.expect("connect to the webhook");
    let _ = tcp.set_nodelay(true);
    let name = ServerName::try_from("127.0.0.1").expect("an IP address is a server name");
    let stream = tokio_rustls::TlsConnector::from(Arc::new(config)).connect(name, tcp).await.expect("TLS handshake");
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.expect("HTTP handshake");
    tokio::spawn(conn);
    sender
}

impl Webhook {
    async fn start(kubeconfig: &Path, dir: &Path, options: &Options) -> Webhook {
        let certs = certs::write_all(&dir.join("certs"), &["127.0.0.1".to_string()], 30, 365, false)
            .unwrap_or_else(|e| panic!("certificates: {e}"));
        let (tls, health) = (free_addr(), free_addr());
        let mut cmd = Command::new(&options.webhook);
        cmd.args(["--listen", &tls.to_string(), "--health-listen", &health.to_string()])
            .arg("--tls-cert")
            .arg(&certs.tls_cert)
            .arg("--tls-key")
            .arg(&certs.tls_key)
            .arg("--kubeconfig")
            .arg(kubeconfig)
            .args(["--log-format", "text"])
            .args(&options.webhook_args)
            .env("RUST_LOG", "info");
        let proc = Proc::spawn(cmd, &dir.join("webhook.log"));
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            if let Some((200, _)) = http_get(health, "/readyz").await {
                break;
            }
            assert!(Instant::now() < deadline, "the webhook was not ready within 120 s; see {}", proc.log.display());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let sender = connect(tls, &certs.ca_cert).await;
        Webhook { proc, tls, health, ca: certs.ca_cert, sender }
    }

    fn rss(&self) -> (u64, u64) {
        rss::rss_kib(self.proc.id()).unwrap_or_default()
    }

    async fn metrics(&self) -> String {
        http_get(self.health, "/metrics").await.map(|(_, body)| body).unwrap_or_default()
    }

    async fn apiserver_reads(&self) -> Option<f64> {
        prometheus::value(&self.metrics().await, "supabase_webhook_secret_reads_total", "{source=\"apiserver\"}")
    }

    /// Posts one review to `/validate`; panics unless it is allowed (a refusal would
    /// time the wrong path).
    async fn review(&mut self, body: &Bytes) -> Duration {
        let request = hyper::Request::post("/validate")
            .header("host", self.tls.to_string())
            .header("content-type", "application/json")
            .body(Full::new(body.clone()))
            .expect("a well-formed request");
        // The webhook closes a connection idle for longer than its header read timeout;
        // the apiserver then opens a new one, and so does this, outside the timing.
        if self.sender.ready().await.is_err() {
            self.sender = connect(self.tls, &self.ca).await;
            self.sender.ready().await.expect("a new connection to the webhook");
        }
        let started = Instant::now();
        let response = self.sender.send_request(request).await.expect("the webhook answers");
        let bytes = response.into_body().collect().await.expect("the answer's body").to_bytes();
        let took = started.elapsed();
        let answer: Value = serde_json::from_slice(&bytes).expect("the answer is JSON");
        assert_eq!(answer["response"]["allowed"], true, "the review was refused: {answer}");
        took
    }

    /// The first review and `n` more.
    async fn series(&mut self, body: &Bytes, n: usize) -> Latency {
        let reads_first = self.apiserver_reads().await;
        let first = self.review(body).await;
        let reads_before = self.apiserver_reads().await;
        let first_reads = reads_before.zip(reads_first).map(|(a, b)| a - b);
        let mut later = Vec::with_capacity(n);
        for _ in 0..n.max(1) {
            later.push(self.review(body).await);
        }
        let reads = self.apiserver_reads().await.zip(reads_before).map(|(a, b)| a - b);
        later.sort();
        let at = |q: f64| later[((later.len() - 1) as f64 * q).round() as usize];
        Latency { first, first_reads, p50: at(0.5), p99: at(0.99), apiserver_reads: reads }
    }
}

/// The full sample's review after `/mutate`, in `namespace`.
fn review_in(namespace: &str) -> Bytes {
    let mut review: Value = serde_json::from_slice(&handler::admitted_review()).expect("the sample review is JSON");
    review["request"]["namespace"] = json!(namespace);
    review["request"]["object"]["metadata"]["namespace"] = json!(namespace);
    Bytes::from(serde_json::to_vec(&review).expect("JSON"))
}

async fn namespace(client: &Client, name: &str) {
    let ns: Namespace = serde_json::from_value(json!({"metadata": {"name": name}})).expect("a namespace");
    let _ = Api::<Namespace>::all(client.clone()).create(&PostParams::default(), &ns).await;
}

/// A namespace holding the full sample's Secrets, and its project when `project`.
async fn sample_namespace(client: &Client, name: &str, project: bool) {
    namespace(client, name).await;
    let api: Api<Secret> = Api::namespaced(client.clone(), name);
    for secret in crate::fixtures::full_sample() {
        api.create(&PostParams::default(), &secret).await.expect("create a sample Secret");
    }
    if project {
        create_project(client, name).await;
    }
}

/// The full sample project, stored directly (no webhook is registered here).
async fn create_project(client: &Client, namespace: &str) {
    let path = crate::repo_path("config/samples/full.yaml");
    let text = std::fs::read_to_string(&path).expect("the full sample");
    let project: SupabaseProject = serde_yaml::from_str(&text).expect("the full sample is a SupabaseProject");
    Api::<SupabaseProject>::namespaced(client.clone(), namespace)
        .create(&PostParams::default(), &project)
        .await
        .expect("create the sample project");
}

/// Creates `options.secrets` Secrets of `options.bytes` bytes, spread over
/// `namespaces`, `options.concurrency` at a time. Returns how long it took.
async fn create_unrelated(client: &Client, namespaces: &[String], options: &Options) -> Duration {
    for ns in namespaces {
        namespace(client, ns).await;
    }
    let value = "x".repeat(options.bytes);
    let started = Instant::now();
    let creations = futures::stream::iter(0..options.secrets)
        .map(|i| {
            let api: Api<Secret> = Api::namespaced(client.clone(), &namespaces[i % namespaces.len()]);
            let secret: Secret = serde_json::from_value(json!({
                "metadata": {"name": format!("unrelated-{i}"), "labels": {"app": "unrelated"}},
                "stringData": {"value": value},
            }))
            .expect("a Secret");
            async move {
                let mut attempts = 0;
                // A busy apiserver may answer 429 or time out; the count must be exact.
                loop {
                    match api.create(&PostParams::default(), &secret).await {
                        Ok(_) => return,
                        Err(kube::Error::Api(s)) if s.code == 409 => return,
                        Err(e) if attempts < 5 => {
                            attempts += 1;
                            eprintln!("creating unrelated-{i}: {e}; retrying");
                            tokio::time::sleep(Duration::from_millis(200 * attempts)).await;
                        }
                        Err(e) => panic!("creating unrelated-{i}: {e}"),
                    }
                }
            }
        })
        .buffer_unordered(options.concurrency.max(1));
    let mut done = 0usize;
    let mut creations = std::pin::pin!(creations);
    while creations.next().await.is_some() {
        done += 1;
        if done.is_multiple_of(5_000) {
            println!("  {done} Secrets created in {:.1?}", started.elapsed());
        }
    }
    started.elapsed()
}

/// Waits until the webhook's RSS has not moved by more than 256 KiB for two seconds
/// (at most a minute): a watch that receives the new Secrets takes them in over a few
/// seconds.
async fn settle(webhook: &Webhook) -> u64 {
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut last = webhook.rss().0;
    let mut still = 0;
    while still < 4 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let now = webhook.rss().0;
        still = if now.abs_diff(last) <= 256 { still + 1 } else { 0 };
        last = now;
    }
    last
}

/// Runs the whole measurement against the cluster behind `kubeconfig`. Namespaces are
/// named after `prefix`; the unrelated ones are deleted at the end.
pub async fn run(kubeconfig: &Path, client: &Client, dir: &Path, prefix: &str, options: &Options) -> Report {
    crate::crd::install(client).await.expect("install the CRD");
    let (settled, fresh) = (format!("{prefix}-settled"), format!("{prefix}-fresh"));
    sample_namespace(client, &settled, true).await;
    sample_namespace(client, &fresh, false).await;
    let mut webhook = Webhook::start(kubeconfig, dir, options).await;
    let (settled_review, fresh_review) = (review_in(&settled), review_in(&fresh));

    let before = webhook.series(&settled_review, options.reviews).await;
    let no_project = webhook.series(&fresh_review, options.reviews.min(20)).await;
    create_project(client, &fresh).await;
    let created = Instant::now();
    let mut cached_after = None;
    if webhook.apiserver_reads().await.is_some() {
        let deadline = created + Duration::from_secs(60);
        while cached_after.is_none() && Instant::now() < deadline {
            let reads = webhook.apiserver_reads().await;
            webhook.review(&fresh_review).await;
            if webhook.apiserver_reads().await == reads {
                cached_after = Some(created.elapsed());
            } else {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
    let new_project = webhook.series(&fresh_review, options.reviews).await;
    let idle_kib = settle(&webhook).await;

    let unrelated: Vec<String> = (0..options.namespaces.max(1)).map(|i| format!("{prefix}-unrelated-{i}")).collect();
    let created_in = create_unrelated(client, &unrelated, options).await;
    let after_kib = settle(&webhook).await;
    let after = webhook.series(&settled_review, options.reviews).await;
    let (_, peak_kib) = webhook.rss();
    let fds_before = open_fds(webhook.proc.id());
    let projects: Vec<String> = (0..options.project_namespaces).map(|i| format!("{prefix}-project-{i}")).collect();
    let creations = futures::stream::iter(&projects)
        .map(|ns| sample_namespace(client, ns, true))
        .buffer_unordered(options.concurrency.clamp(1, 8));
    creations.collect::<Vec<()>>().await;
    let projects_kib = settle(&webhook).await;
    let fds = (fds_before, open_fds(webhook.proc.id()));
    let cached_secrets = prometheus::value(&webhook.metrics().await, "supabase_webhook_secret_cache_secrets", "");
    let log = webhook.proc.log.clone();
    drop(webhook);
    for ns in unrelated.iter().chain(&projects).chain([&settled, &fresh]) {
        let _ = Api::<Namespace>::all(client.clone()).delete(ns, &DeleteParams::background()).await;
    }
    Report {
        idle_kib,
        after_kib,
        peak_kib,
        created_in,
        before,
        after,
        no_project,
        new_project,
        cached_after,
        projects_kib,
        fds,
        cached_secrets,
        log,
    }
}

fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map(|d| d.count()).unwrap_or(0)
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

impl Report {
    /// The figures as Markdown.
    pub fn render(&self, options: &Options) -> String {
        let mut out = format!(
            "## Webhook memory with {} unrelated Secrets of {} bytes ({} namespaces; created in {:.1} s, {} at a \
             time)\n\n",
            options.secrets,
            options.bytes,
            options.namespaces,
            self.created_in.as_secs_f64(),
            options.concurrency
        );
        out += &format!(
            "RSS: {} before, {} after ({:+.1} MiB); peak {}. Secrets held by the cache at the end: {}.\n\n",
            mib(self.idle_kib),
            mib(self.after_kib),
            (self.after_kib as f64 - self.idle_kib as f64) / 1024.0,
            mib(self.peak_kib),
            self.cached_secrets.map(|c| format!("{c:.0}")).unwrap_or("-".into())
        );
        let sample_secrets = crate::fixtures::full_sample().len();
        out += &format!(
            "| `/validate` of the full sample ({sample_secrets} Secrets) | first | its Secret reads from the apiserver \
             | later p50 | later p99 | later reviews' reads from the apiserver |\n|---|---|---|---|---|---|\n"
        );
        for (name, l) in [
            ("project existed at start, before the Secrets", &self.before),
            ("same namespace, after the Secrets", &self.after),
            ("namespace without a project yet", &self.no_project),
            ("that namespace once its project exists", &self.new_project),
        ] {
            let count = |r: Option<f64>| r.map(|r| format!("{r:.0}")).unwrap_or("-".into());
            out += &format!(
                "| {name} | {} | {} | {} | {} | {} |\n",
                ms(l.first),
                count(l.first_reads),
                ms(l.p50),
                ms(l.p99),
                count(l.apiserver_reads)
            );
        }
        if let Some(t) = self.cached_after {
            out +=
                &format!("\nFrom creating a namespace's first project to a review served from the cache: {}.\n", ms(t));
        }
        if options.project_namespaces > 0 {
            let n = options.project_namespaces;
            out += &format!(
                "\n{n} more namespaces, each with a project and its {sample_secrets} Secrets: RSS {} ({:+.1} KiB per namespace), \
                 open file descriptors {} -> {}.\n",
                mib(self.projects_kib),
                (self.projects_kib as f64 - self.after_kib as f64) / n as f64,
                self.fds.0,
                self.fds.1
            );
        }
        out
    }
}
