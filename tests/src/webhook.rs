//! Running the admission webhook in-process for tests: a throwaway CA and serving
//! certificates, a TLS client that trusts that CA, raw HTTP over it, and registering
//! both webhook configurations with the apiserver for one test namespace only (other
//! tests share the cluster and must not see this webhook).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::{TokioExecutor, TokioIo};
use k8s_openapi::api::admissionregistration::v1::{MutatingWebhookConfiguration, ValidatingWebhookConfiguration};
use k8s_openapi::api::core::v1::Namespace;
use kube::Client;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, SanType};
use rustls::pki_types::{CertificateDer, ServerName};
use serde_json::json;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use crate::TestEnv;

/// A test certificate authority.
pub struct TestCa {
    issuer: CertifiedIssuer<'static, KeyPair>,
}

impl std::fmt::Debug for TestCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TestCa")
    }
}

/// A serving certificate and its key, PEM.
#[derive(Clone, Debug)]
pub struct Pair {
    /// Certificate PEM.
    pub cert: String,
    /// Key PEM.
    pub key: String,
}

impl Pair {
    /// The certificate's DER, to compare with what a server presents.
    pub fn der(&self) -> Vec<u8> {
        rustls_pemfile::certs(&mut self.cert.as_bytes()).next().expect("a certificate").expect("PEM").to_vec()
    }
}

impl Default for TestCa {
    fn default() -> Self {
        TestCa::new()
    }
}

impl TestCa {
    /// A fresh CA.
    pub fn new() -> TestCa {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, "supabase-webhook test CA");
        let key = KeyPair::generate().expect("CA key");
        TestCa { issuer: CertifiedIssuer::self_signed(params, key).expect("CA certificate") }
    }

    /// The CA certificate PEM (the `caBundle`).
    pub fn pem(&self) -> String {
        self.issuer.pem()
    }

    /// A serving certificate for 127.0.0.1 and localhost, named `cn`.
    pub fn leaf(&self, cn: &str) -> Pair {
        let mut params = CertificateParams::new(vec!["localhost".to_string()]).expect("leaf params");
        params.subject_alt_names.push(SanType::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST)));
        params.distinguished_name.push(DnType::CommonName, cn);
        let key = KeyPair::generate().expect("leaf key");
        let cert = params.signed_by(&key, &self.issuer).expect("leaf certificate");
        Pair { cert: cert.pem(), key: key.serialize_pem() }
    }
}

/// Writes a pair to `dir/tls.crt` and `dir/tls.key`.
pub fn write_pair(dir: &Path, pair: &Pair) -> (PathBuf, PathBuf) {
    let (cert, key) = (dir.join("tls.crt"), dir.join("tls.key"));
    std::fs::write(&cert, &pair.cert).expect("write cert");
    std::fs::write(&key, &pair.key).expect("write key");
    (cert, key)
}

/// A client that does not connect anywhere, for servers whose tests never reach Kubernetes.
pub fn offline_client() -> Client {
    let config = kube::Config::new("https://127.0.0.1:9".parse().expect("uri"));
    Client::try_from(config).expect("offline client")
}

/// A webhook running in this test process.
pub struct TestWebhook {
    /// The server.
    pub running: webhook::Running,
    /// Its CA.
    pub ca: TestCa,
    /// The pair it started with.
    pub pair: Pair,
    /// Directory of its certificate and key files.
    pub dir: tempfile::TempDir,
}

impl std::fmt::Debug for TestWebhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestWebhook").field("addr", &self.running.tls_addr).finish()
    }
}

/// How often a test webhook polls its certificate and policy files.
pub const RELOAD_INTERVAL: Duration = Duration::from_millis(100);

/// Flags every test webhook gets: loopback listeners on free ports, fast reloads, no
/// shutdown delay.
pub fn base_args(cert: &Path, key: &Path) -> Vec<String> {
    let reload = RELOAD_INTERVAL.as_millis().to_string();
    [
        "webhook",
        "--listen",
        "127.0.0.1:0",
        "--health-listen",
        "127.0.0.1:0",
        "--reload-interval-ms",
        &reload,
        "--shutdown-delay-ms",
        "0",
        "--log-format",
        "text",
        "--tls-cert",
        &cert.display().to_string(),
        "--tls-key",
        &key.display().to_string(),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// Starts a webhook from command-line arguments (the first is the program name).
pub async fn run(args: Vec<String>, client: Client) -> ::webhook::Running {
    let settings = <::webhook::Settings as clap::Parser>::parse_from(args);
    ::webhook::start(settings, client).await.expect("webhook starts")
}

/// Starts a webhook with a fresh CA and pair, plus `extra` flags.
pub async fn start(client: Client, extra: &[&str]) -> TestWebhook {
    let ca = TestCa::new();
    let pair = ca.leaf("webhook-1");
    let dir = tempfile::tempdir().expect("tempdir");
    let (cert, key) = write_pair(dir.path(), &pair);
    let mut args = base_args(&cert, &key);
    args.extend(extra.iter().map(|s| s.to_string()));
    let settings = <webhook::Settings as clap::Parser>::parse_from(args);
    let running = webhook::start(settings, client).await.expect("webhook starts");
    TestWebhook { running, ca, pair, dir }
}

/// A rustls client configuration trusting `ca_pem`, offering `alpn`.
pub fn client_config(ca_pem: &str, alpn: &[&[u8]]) -> rustls::ClientConfig {
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_pemfile::certs(&mut ca_pem.as_bytes()) {
        roots.add(cert.expect("CA PEM")).expect("add root");
    }
    let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    config
}

/// Opens a TLS connection to `addr` as `127.0.0.1`.
pub async fn connect(addr: SocketAddr, config: rustls::ClientConfig) -> std::io::Result<TlsStream<TcpStream>> {
    let tcp = TcpStream::connect(addr).await?;
    let name = ServerName::IpAddress(Ipv4Addr::LOCALHOST.into());
    TlsConnector::from(Arc::new(config)).connect(name, tcp).await
}

/// The leaf certificate a TLS connection presented.
pub fn peer_leaf(stream: &TlsStream<TcpStream>) -> Vec<u8> {
    stream
        .get_ref()
        .1
        .peer_certificates()
        .and_then(|c| c.first())
        .map(|c: &CertificateDer| c.to_vec())
        .unwrap_or_default()
}

/// An HTTP answer.
#[derive(Debug)]
pub struct Answer {
    /// Status.
    pub status: u16,
    /// Content type.
    pub content_type: String,
    /// Body.
    pub body: Vec<u8>,
}

impl Answer {
    /// The body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }

    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// A keep-alive HTTP/1.1 or HTTP/2 connection.
pub enum Conn {
    /// HTTP/1.1.
    H1(hyper::client::conn::http1::SendRequest<Full<Bytes>>),
    /// HTTP/2.
    H2(hyper::client::conn::http2::SendRequest<Full<Bytes>>),
}

impl std::fmt::Debug for Conn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Conn::H1(_) => "Conn::H1",
            Conn::H2(_) => "Conn::H2",
        })
    }
}

impl Conn {
    /// Connects over TLS trusting `ca_pem`; HTTP/2 when `h2`.
    pub async fn open(addr: SocketAddr, ca_pem: &str, h2: bool) -> Conn {
        let alpn: &[&[u8]] = if h2 { &[b"h2"] } else { &[b"http/1.1"] };
        let tls = connect(addr, client_config(ca_pem, alpn)).await.expect("TLS connect");
        let io = TokioIo::new(tls);
        if h2 {
            let (send, conn) = hyper::client::conn::http2::handshake(TokioExecutor::new(), io).await.expect("h2");
            tokio::spawn(conn);
            Conn::H2(send)
        } else {
            let (send, conn) = hyper::client::conn::http1::handshake(io).await.expect("h1");
            tokio::spawn(conn);
            Conn::H1(send)
        }
    }

    /// Sends one request.
    pub async fn send(&mut self, request: http::Request<Full<Bytes>>) -> Result<Answer, hyper::Error> {
        let response = match self {
            Conn::H1(s) => s.send_request(request).await?,
            Conn::H2(s) => s.send_request(request).await?,
        };
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let body = response.into_body().collect().await?.to_bytes().to_vec();
        Ok(Answer { status, content_type, body })
    }

    /// `POST path` with a JSON body.
    pub async fn post(&mut self, path: &str, body: impl Into<Bytes>) -> Answer {
        let request = http::Request::post(format!("https://127.0.0.1{path}"))
            .header(http::header::CONTENT_TYPE, "application/json")
            .header(http::header::HOST, "127.0.0.1")
            .body(Full::new(body.into()))
            .expect("request");
        self.send(request).await.expect("answer")
    }
}

/// One request on a fresh HTTP/1.1 connection.
pub async fn post(addr: SocketAddr, ca_pem: &str, path: &str, body: impl Into<Bytes>) -> Answer {
    Conn::open(addr, ca_pem, false).await.post(path, body).await
}

/// `GET` on the plain-HTTP health port.
pub async fn health_get(addr: SocketAddr, path: &str) -> Answer {
    let tcp = TcpStream::connect(addr).await.expect("connect health port");
    let (mut send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp)).await.expect("h1");
    tokio::spawn(conn);
    let request = http::Request::get(path).header(http::header::HOST, "127.0.0.1").body(Full::new(Bytes::new()));
    let response = send.send_request(request.expect("request")).await.expect("answer");
    let status = response.status().as_u16();
    let body = response.into_body().collect().await.expect("body").to_bytes().to_vec();
    Answer { status, content_type: String::new(), body }
}

/// A SupabaseProject AdmissionReview as the apiserver sends it.
pub fn review(
    uid: &str,
    operation: &str,
    object: serde_json::Value,
    old: Option<serde_json::Value>,
) -> serde_json::Value {
    json!({
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": uid,
            "kind": {"group": "supabase-operator.io", "version": "v1alpha1", "kind": "SupabaseProject"},
            "resource": {"group": "supabase-operator.io", "version": "v1alpha1", "resource": "supabaseprojects"},
            "name": object
                .pointer("/metadata/name")
                .or_else(|| old.as_ref().and_then(|o| o.pointer("/metadata/name")))
                .cloned()
                .unwrap_or_else(|| json!("")),
            "namespace": "default",
            "operation": operation,
            "userInfo": {"username": "admin", "groups": ["system:masters"]},
            "object": object,
            "oldObject": old,
            "dryRun": false,
        }
    })
}

/// The label that scopes a test's webhook configurations to its namespace.
pub const SCOPE_LABEL: &str = "supabase-webhook-test";

/// Both webhook configurations of one test, removed by [`Registration::remove`].
pub struct Registration {
    client: Client,
    name: String,
}

impl std::fmt::Debug for Registration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registration").field("name", &self.name).finish()
    }
}

impl Registration {
    /// Deletes both configurations.
    pub async fn remove(self) {
        let dp = DeleteParams::default();
        let _ = Api::<MutatingWebhookConfiguration>::all(self.client.clone()).delete(&self.name, &dp).await;
        let _ = Api::<ValidatingWebhookConfiguration>::all(self.client.clone()).delete(&self.name, &dp).await;
    }
}

/// Registers both configurations of `config/webhook` at `https://127.0.0.1:<port>` for
/// the test's namespace only, and waits until the apiserver calls them.
pub async fn register(env: &TestEnv, addr: SocketAddr, ca_pem: &str) -> Registration {
    let namespaces: Api<Namespace> = Api::all(env.client.clone());
    let label = json!({"metadata": {"labels": {SCOPE_LABEL: env.namespace}}});
    namespaces.patch(&env.namespace, &PatchParams::default(), &Patch::Merge(&label)).await.expect("label namespace");
    let name = format!("supabase-test-{}", env.namespace);
    let base = format!("https://127.0.0.1:{}", addr.port());
    // The configurations of config/webhook as shipped, pointed at this server and narrowed
    // to this test's namespace (1.20 namespaces have no kubernetes.io/metadata.name label).
    let pp = PostParams::default();
    for mut configuration in crate::webhook_registration::local_configurations(env.kubectl(), &base, ca_pem).await {
        configuration["metadata"]["name"] = json!(name);
        for hook in configuration["webhooks"].as_array_mut().into_iter().flatten() {
            hook["namespaceSelector"] = json!({"matchLabels": {SCOPE_LABEL: env.namespace}});
        }
        match configuration["kind"].as_str() {
            Some("MutatingWebhookConfiguration") => {
                let c: MutatingWebhookConfiguration = serde_json::from_value(configuration).expect("mutating");
                Api::<MutatingWebhookConfiguration>::all(env.client.clone()).create(&pp, &c).await.expect("register");
            }
            Some("ValidatingWebhookConfiguration") => {
                let c: ValidatingWebhookConfiguration = serde_json::from_value(configuration).expect("validating");
                Api::<ValidatingWebhookConfiguration>::all(env.client.clone()).create(&pp, &c).await.expect("register");
            }
            other => panic!("unexpected kind {other:?} in config/webhook"),
        }
    }
    // The apiserver picks configurations up from an informer: wait until a project that
    // only the webhook refuses is refused.
    let probe = "apiVersion: supabase-operator.io/v1alpha1\nkind: SupabaseProject\nmetadata:\n  name: probe\nspec:\n  \
                 apiExternalUrl: not-a-url\n  database:\n    secretRef: {name: probe}\n";
    let deadline = Instant::now() + crate::patience::settle();
    loop {
        let out = env.kubectl().args(["apply", "--dry-run=server", "-f", "-"]).stdin(probe).run().await;
        if !out.success && out.stderr.contains("spec.apiExternalUrl") {
            break;
        }
        assert!(Instant::now() < deadline, "the apiserver never called the webhook: {}", out.stderr);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Registration { client: env.client.clone(), name }
}

/// A client whose apiserver accepts connections and never answers, to exercise deadlines.
/// The listener lives as long as the returned guard.
pub async fn silent_client() -> (Client, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let holder = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((tcp, _)) = listener.accept().await {
            held.push(tcp);
        }
    });
    let config = kube::Config::new(format!("https://127.0.0.1:{port}").parse().expect("uri"));
    (Client::try_from(config).expect("client"), holder)
}

/// The real webhook serving and registered with the test apiserver for one test namespace
/// (the CRD installed): where every test of admission through `kubectl` starts.
#[derive(Debug)]
pub struct Admitting {
    /// The test's namespace and client.
    pub env: TestEnv,
    /// The webhook.
    pub server: TestWebhook,
    /// Its two configurations, scoped to the namespace.
    pub registration: Registration,
}

impl Admitting {
    /// A new namespace for `test`, the CRD, and the webhook started with `flags`.
    pub async fn start(test: &str, flags: &[&str]) -> Admitting {
        let env = TestEnv::new(test).await.expect("test cluster");
        crate::crd::install(&env.client).await.expect("install CRD");
        Admitting::on(env, flags).await
    }

    /// The webhook, started with `flags`, in front of a namespace already set up.
    pub async fn on(env: TestEnv, flags: &[&str]) -> Admitting {
        let server = start(env.client.clone(), flags).await;
        let registration = register(&env, server.running.tls_addr, &server.ca.pem()).await;
        Admitting { env, server, registration }
    }

    /// Unregisters and stops the webhook.
    pub async fn done(self) {
        self.registration.remove().await;
        self.server.running.shutdown().await;
    }

    /// `kubectl apply -f -` of `yaml`, as a user would; the caller checks the outcome.
    pub async fn apply(&self, yaml: impl Into<String>) -> crate::kubectl::Output {
        self.env.kubectl().args(["apply", "-f", "-"]).stdin(yaml).run().await
    }

    /// [`create_secret`] in the test's namespace.
    pub async fn secret(&self, name: &str, pairs: &[(&str, &str)]) {
        create_secret(&self.env, name, pairs).await;
    }
}

/// `kubectl create secret generic <name> --from-literal=<key>=<value>...`, as a user would.
pub async fn create_secret(env: &TestEnv, name: &str, pairs: &[(&str, &str)]) {
    let mut args = vec!["create".to_string(), "secret".into(), "generic".into(), name.to_string()];
    args.extend(pairs.iter().map(|(k, v)| format!("--from-literal={k}={v}")));
    env.kubectl().args(args).ok().await;
}
