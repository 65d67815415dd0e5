//! Continuous admission load for the drills: several workers, each posting reviews over
//! a keep-alive HTTP/1.1 TLS connection (the apiserver's way), opening a new connection
//! every `per_connection` requests or when the server closed the old one.
//!
//! What counts as a failure: a request that was written and got no answer, or an answer
//! that is not `200` with an AdmissionReview echoing the request's uid; and, unless the
//! server is known to be shutting down, a connection that could not be opened. Not a
//! failure: the server closing a keep-alive connection between requests (hyper reports
//! the request as never written, `is_canceled`; the apiserver's client redials as well).
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use harness::webhook;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};

/// What the workers saw.
#[derive(Debug, Default)]
pub struct Tally {
    /// Answered well.
    pub ok: AtomicU64,
    /// Failed (see the module docs).
    pub failed: AtomicU64,
    /// Keep-alive connections the server closed between requests.
    pub closed_idle: AtomicU64,
    /// Connections opened.
    pub connections: AtomicU64,
    /// Connection attempts refused while the server was shutting down.
    pub refused_in_shutdown: AtomicU64,
    /// Answered after [`Control::stop_at`].
    pub answered_after_stop: AtomicU64,
    /// The first few failures, described.
    pub failures: Mutex<Vec<String>>,
}

impl Tally {
    /// Counts a failure.
    pub fn failed_with(&self, what: String) {
        self.failed.fetch_add(1, Ordering::SeqCst);
        let mut f = self.failures.lock().unwrap();
        if f.len() < 10 {
            f.push(what);
        }
    }

    /// One line for the report.
    pub fn summary(&self) -> String {
        format!(
            "ok={} failed={} answered_after_stop={} connections={} closed_idle={} refused_in_shutdown={} \
             first_failures={:?}",
            self.ok.load(Ordering::SeqCst),
            self.failed.load(Ordering::SeqCst),
            self.answered_after_stop.load(Ordering::SeqCst),
            self.connections.load(Ordering::SeqCst),
            self.closed_idle.load(Ordering::SeqCst),
            self.refused_in_shutdown.load(Ordering::SeqCst),
            self.failures.lock().unwrap()
        )
    }
}

/// Shared switches.
#[derive(Debug, Default)]
pub struct Control {
    /// Workers stop at their next request.
    pub stop: AtomicBool,
    /// The server was told to shut down: refused connections end a worker.
    pub shutting_down: AtomicBool,
    /// When the server stops accepting (answers after it count in the tally).
    pub stop_at: Mutex<Option<std::time::Instant>>,
}

/// A review of a small project, on `/mutate` or `/validate`.
pub fn body(uid: &str) -> Vec<u8> {
    let object = json!({"apiVersion": "supabase-operator.io/v1alpha1", "kind": "SupabaseProject",
        "metadata": {"name": "drill"},
        "spec": {"apiExternalUrl": "https://x.example.com", "database": {"secretRef": {"name": "db"}}}});
    serde_json::to_vec(&webhook::review(uid, "CREATE", object, None)).unwrap()
}

pub async fn open(addr: SocketAddr, config: rustls::ClientConfig) -> std::io::Result<SendRequest<Full<Bytes>>> {
    let tls = webhook::connect(addr, config).await?;
    let (send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls)).await.map_err(std::io::Error::other)?;
    tokio::spawn(conn);
    Ok(send)
}

/// One worker; `config` gives the client TLS configuration for each new connection.
pub async fn worker(
    id: usize,
    addr: SocketAddr,
    config: Arc<dyn Fn() -> rustls::ClientConfig + Send + Sync>,
    paths: &'static [&'static str],
    per_connection: usize,
    control: Arc<Control>,
    tally: Arc<Tally>,
) {
    let mut n = 0u64;
    'connections: while !control.stop.load(Ordering::SeqCst) {
        let mut send = match open(addr, config()).await {
            Ok(s) => s,
            Err(e) if control.shutting_down.load(Ordering::SeqCst) => {
                let _ = e;
                tally.refused_in_shutdown.fetch_add(1, Ordering::SeqCst);
                break;
            }
            Err(e) => {
                tally.failed_with(format!("worker {id}: cannot connect: {e}"));
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            }
        };
        tally.connections.fetch_add(1, Ordering::SeqCst);
        for _ in 0..per_connection {
            if control.stop.load(Ordering::SeqCst) {
                break 'connections;
            }
            if send.ready().await.is_err() {
                tally.closed_idle.fetch_add(1, Ordering::SeqCst);
                continue 'connections;
            }
            n += 1;
            let uid = format!("w{id}-{n}");
            let path = paths[n as usize % paths.len()];
            match request(&mut send, &uid, path).await {
                Outcome::Answered => {
                    tally.ok.fetch_add(1, Ordering::SeqCst);
                    if control.stop_at.lock().unwrap().is_some_and(|t| std::time::Instant::now() > t) {
                        tally.answered_after_stop.fetch_add(1, Ordering::SeqCst);
                    }
                }
                Outcome::NotWritten => {
                    tally.closed_idle.fetch_add(1, Ordering::SeqCst);
                    continue 'connections;
                }
                Outcome::Failed(what) => {
                    tally.failed_with(format!("worker {id}: {what}"));
                    continue 'connections;
                }
            }
        }
    }
}

/// How one request went.
#[derive(Debug)]
pub enum Outcome {
    /// `200` with an AdmissionReview echoing the uid.
    Answered,
    /// Never written: the connection was found closed first.
    NotWritten,
    /// Written, and no proper answer.
    Failed(String),
}

/// Posts one review of `uid` to `path`.
pub async fn request(send: &mut SendRequest<Full<Bytes>>, uid: &str, path: &str) -> Outcome {
    let request = http::Request::post(format!("https://127.0.0.1{path}"))
        .header(http::header::CONTENT_TYPE, "application/json")
        .header(http::header::HOST, "127.0.0.1")
        .body(Full::new(Bytes::from(body(uid))))
        .unwrap();
    match send.send_request(request).await {
        Ok(response) => {
            let status = response.status().as_u16();
            let bytes = match response.into_body().collect().await {
                Ok(b) => b.to_bytes(),
                Err(e) => return Outcome::Failed(format!("{uid} {path}: body cut off: {e}")),
            };
            let answer: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
            if status == 200 && answer.pointer("/response/uid").and_then(Value::as_str) == Some(uid) {
                Outcome::Answered
            } else {
                Outcome::Failed(format!("{uid} {path}: {status} {}", String::from_utf8_lossy(&bytes)))
            }
        }
        Err(e) if e.is_canceled() => Outcome::NotWritten,
        Err(e) => Outcome::Failed(format!("{uid} {path}: no answer: {e:?}")),
    }
}

/// A stand-in apiserver on plain HTTP: every Secret is missing (answered after
/// `secret_delay`, except the readiness probe's) and every access review is allowed.
/// Enough for the webhook's readiness and `/validate`; no cluster needed.
pub async fn fake_apiserver(secret_delay: Duration) -> SocketAddr {
    use hyper::service::service_fn;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let service = service_fn(move |request: http::Request<hyper::body::Incoming>| async move {
                if request.uri().path().contains("/secrets/") && !request.uri().path().contains("readiness") {
                    tokio::time::sleep(secret_delay).await;
                }
                let (code, body) = if request.uri().path().ends_with("/subjectaccessreviews") {
                    (
                        201,
                        json!({"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
                                 "spec": {}, "status": {"allowed": true}}),
                    )
                } else {
                    (
                        404,
                        json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "NotFound",
                                 "code": 404, "message": "not found"}),
                    )
                };
                let mut response = http::Response::new(Full::new(Bytes::from(body.to_string())));
                *response.status_mut() = http::StatusCode::from_u16(code).unwrap();
                response
                    .headers_mut()
                    .insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("application/json"));
                Ok::<_, std::convert::Infallible>(response)
            });
            tokio::spawn(hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(tcp), service));
        }
    });
    addr
}

/// A kubeconfig in `dir` for `apiserver` (plain HTTP).
pub fn kubeconfig(dir: &std::path::Path, apiserver: SocketAddr) -> std::path::PathBuf {
    let path = dir.join("kubeconfig");
    std::fs::write(
        &path,
        format!(
            "apiVersion: v1\nkind: Config\nclusters: [{{name: c, cluster: {{server: 'http://{apiserver}'}}}}]\n\
             users: [{{name: u, user: {{token: t}}}}]\ncontexts: [{{name: x, context: {{cluster: c, user: u}}}}]\n\
             current-context: x\n"
        ),
    )
    .unwrap();
    path
}
