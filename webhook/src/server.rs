//! The TLS admission server: accepts connections, routes `POST /mutate` and
//! `POST /validate`, and enforces the limits (body size, header read timeout, request
//! deadline, concurrency). Also starts the reloaders and the health server.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use kube::Client;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;

use crate::access::AccessChecker;
use crate::admission::{Admission, Endpoint, Parsed};
use crate::health::{self, Health};
use crate::lookup::Secrets;
use crate::metrics::Metrics;
use crate::policy::{Policy, PolicyHandle};
use crate::review::{self, Rejection};
use crate::shutdown::Shutdown;
use crate::tls::{self, CertFiles, Resolver};
use crate::{Error, Settings};

/// The first byte of a TLS record carrying a handshake.
const TLS_HANDSHAKE: u8 = 0x16;

struct App {
    admission: Admission,
    settings: Settings,
    slots: Semaphore,
    metrics: Arc<Metrics>,
}

type Body = Full<Bytes>;

fn respond(status: StatusCode, content_type: &'static str, body: Vec<u8>) -> Response<Body> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

fn reject(rejection: &Rejection) -> Response<Body> {
    respond(rejection.status, "application/json", review::rejection_body(rejection))
}

fn plain(status: StatusCode, message: String) -> Response<Body> {
    respond(status, "text/plain; charset=utf-8", format!("{message}\n").into_bytes())
}

async fn route(app: Arc<App>, request: Request<Incoming>) -> Result<Response<Body>, Infallible> {
    let started = Instant::now();
    let endpoint = match request.uri().path() {
        "/mutate" => Endpoint::Mutate,
        "/validate" => Endpoint::Validate,
        other => {
            app.metrics.request("other", "not_found", started.elapsed());
            return Ok(plain(
                StatusCode::NOT_FOUND,
                format!("unknown path {other:?}; this server answers POST /mutate and POST /validate"),
            ));
        }
    };
    app.metrics.in_flight().inc();
    let (result, response) = admit(&app, endpoint, request).await;
    app.metrics.in_flight().dec();
    let elapsed = started.elapsed();
    app.metrics.request(endpoint.path(), result, elapsed);
    tracing::debug!(
        endpoint = endpoint.path(),
        result,
        status = response.status().as_u16(),
        elapsed_us = elapsed.as_micros() as u64,
        "answered"
    );
    Ok(response)
}

/// Answers one admission request; returns the metric result label with the response.
async fn admit(app: &App, endpoint: Endpoint, request: Request<Incoming>) -> (&'static str, Response<Body>) {
    let deadline = tokio::time::Instant::now() + app.settings.request_deadline();
    let max = app.settings.max_body_bytes;
    if request.method() != Method::POST {
        let mut r = reject(&Rejection {
            status: StatusCode::METHOD_NOT_ALLOWED,
            uid: None,
            message: format!("method {} is not allowed; send POST with an AdmissionReview", request.method()),
        });
        r.headers_mut().insert(header::ALLOW, HeaderValue::from_static("POST"));
        return ("malformed", r);
    }
    let content_type = request.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let media = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    if media != "application/json" {
        return (
            "malformed",
            reject(&Rejection {
                status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
                uid: None,
                message: format!("content type {content_type:?} is not supported; send application/json"),
            }),
        );
    }
    let too_large = || Rejection {
        status: StatusCode::PAYLOAD_TOO_LARGE,
        uid: None,
        message: format!("request body is larger than the limit of {max} bytes"),
    };
    let declared = request.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|n| n > max as u64) {
        return ("malformed", reject(&too_large()));
    }
    let body = match tokio::time::timeout_at(deadline, Limited::new(request.into_body(), max).collect()).await {
        Ok(Ok(collected)) => collected.to_bytes(),
        Ok(Err(e)) if e.downcast_ref::<http_body_util::LengthLimitError>().is_some() => {
            return ("malformed", reject(&too_large()));
        }
        Ok(Err(e)) => {
            return ("malformed", reject(&Rejection::bad_request(None, format!("cannot read the request body: {e}"))));
        }
        Err(_) => {
            return (
                "timeout",
                reject(&Rejection {
                    status: StatusCode::REQUEST_TIMEOUT,
                    uid: None,
                    message: "the request body did not arrive before the deadline".into(),
                }),
            );
        }
    };
    let parsed = match Parsed::read(endpoint, &body) {
        Ok(r) => r,
        Err(rejection) => return ("malformed", reject(&rejection)),
    };
    // Built before the review takes `parsed`: the answer when the checks cannot be done.
    let template = parsed.answer();
    let retry = move |what: &str| review::refuse(template, 503, "ServiceUnavailable", what);
    // Waiting for a slot may use half the deadline: a review that waited longer would
    // rarely finish its checks in what is left.
    let queue_deadline = tokio::time::Instant::now() + app.settings.request_deadline() / 2;
    let Ok(_slot) = tokio::time::timeout_at(queue_deadline.min(deadline), app.slots.acquire()).await else {
        let msg = "the webhook is busy (too many reviews at once); the check was not done and is worth retrying";
        return ("timeout", json(review::body(retry(msg))));
    };
    // Boxed: hyper moves the request's future into place, and with the review's state
    // inline that move was a few kilobytes per request.
    let answer = tokio::time::timeout_at(deadline, Box::pin(app.admission.answer(parsed))).await;
    match answer {
        Ok(response) => (if response.allowed { "allowed" } else { "denied" }, json(review::body(response))),
        Err(_) => {
            let msg = format!(
                "the checks did not finish within {} ms (the apiserver answered slowly); they were not done and are \
                 worth retrying",
                app.settings.request_deadline_ms
            );
            ("timeout", json(review::body(retry(&msg))))
        }
    }
}

fn json(body: Vec<u8>) -> Response<Body> {
    respond(StatusCode::OK, "application/json", body)
}

/// Answers plain HTTP on the TLS port the way Go's servers do, instead of a silent close.
async fn refuse_plain_http(mut tcp: TcpStream) {
    let message = "Client sent an HTTP request to an HTTPS server.\n";
    let reply = format!(
        "HTTP/1.0 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\
         Content-Length: {}\r\n\r\n{message}",
        message.len()
    );
    let _ = tcp.write_all(reply.as_bytes()).await;
    let _ = tcp.shutdown().await;
}

async fn connection(
    app: Arc<App>,
    tcp: TcpStream,
    acceptor: TlsAcceptor,
    watcher: hyper_util::server::graceful::Watcher,
) {
    let handshake_timeout = app.settings.header_read_timeout();
    let mut first = [0u8; 1];
    match tokio::time::timeout(handshake_timeout, tcp.peek(&mut first)).await {
        Ok(Ok(1)) if first[0] == TLS_HANDSHAKE => {}
        Ok(Ok(1)) if first[0].is_ascii_alphabetic() => return refuse_plain_http(tcp).await,
        _ => return,
    }
    let tls = match tokio::time::timeout(handshake_timeout, acceptor.accept(tcp)).await {
        Ok(Ok(tls)) => tls,
        Ok(Err(e)) => {
            tracing::debug!(error = %e, "TLS handshake failed");
            return;
        }
        Err(_) => {
            tracing::debug!("TLS handshake timed out");
            return;
        }
    };
    let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    builder.http1().timer(TokioTimer::new()).header_read_timeout(handshake_timeout).keep_alive(true);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(app.settings.max_concurrency.clamp(1, u32::MAX as usize) as u32);
    let service = service_fn(move |r| route(app.clone(), r));
    let conn = builder.serve_connection(TokioIo::new(tls), service).into_owned();
    if let Err(e) = watcher.watch(conn).await {
        tracing::debug!(error = %e, "connection ended with an error");
    }
}

async fn serve_tls(listener: TcpListener, acceptor: TlsAcceptor, app: Arc<App>, shutdown: Shutdown, grace: Duration) {
    let graceful = GracefulShutdown::new();
    loop {
        let tcp = tokio::select! {
            _ = shutdown.stopped() => break,
            accepted = listener.accept() => match accepted {
                Ok((tcp, _)) => tcp,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let _ = tcp.set_nodelay(true);
        tokio::spawn(connection(app.clone(), tcp, acceptor.clone(), graceful.watcher()));
    }
    drop(listener);
    let open = graceful.count();
    tracing::info!(connections = open, "stopped accepting; finishing in-flight requests");
    if tokio::time::timeout(grace, graceful.shutdown()).await.is_err() {
        tracing::warn!(grace_ms = grace.as_millis() as u64, "connections still open after the grace period; closing");
    }
}

/// A running webhook.
#[derive(Debug)]
pub struct Running {
    /// Where the TLS admission endpoint listens.
    pub tls_addr: SocketAddr,
    /// Where health and metrics listen.
    pub health_addr: SocketAddr,
    /// Metrics, for tests that check counters.
    pub metrics: Arc<Metrics>,
    shutdown: Shutdown,
    background: CancellationToken,
    health_stop: CancellationToken,
    delay: Duration,
    tls_task: JoinHandle<()>,
    health_task: JoinHandle<()>,
}

impl Running {
    /// Graceful shutdown: readiness off, wait the shutdown delay, stop accepting, let
    /// in-flight requests finish and keep-alive connections close.
    pub async fn shutdown(self) {
        self.shutdown.begin_drain();
        tracing::info!(delay_ms = self.delay.as_millis() as u64, "shutting down: readiness is now false");
        tokio::time::sleep(self.delay).await;
        self.shutdown.stop();
        let _ = self.tls_task.await;
        self.background.cancel();
        self.health_stop.cancel();
        let _ = self.health_task.await;
        tracing::info!("shut down");
    }
}

async fn bind(addr: SocketAddr) -> Result<TcpListener, Error> {
    TcpListener::bind(addr).await.map_err(|source| Error::Bind { addr, source })
}

/// Starts the webhook: loads the policy (a broken file is an error), starts watching the
/// certificate and policy files, and opens both listeners.
pub async fn start(settings: Settings, client: Client) -> Result<Running, Error> {
    let metrics = Arc::new(Metrics::new());
    let background = CancellationToken::new();
    let policy = match &settings.policy {
        Some(path) => Policy::load(path)?,
        None => Policy::default(),
    };
    let policy = PolicyHandle::new(policy);
    if let Some(path) = &settings.policy {
        tokio::spawn(policy.clone().watch(
            path.clone(),
            settings.reload_interval(),
            metrics.clone(),
            background.clone(),
        ));
    }

    let resolver = Arc::new(Resolver::default());
    let mut files = CertFiles::new(settings.tls_cert.clone(), settings.tls_key.clone(), resolver.clone());
    // A missing or broken pair at start is not fatal: cert-manager may not have issued
    // it yet. Readiness stays false until one loads.
    match files.reload() {
        Ok(_) => metrics.cert_reload(true),
        Err(e) => {
            metrics.cert_reload(false);
            tracing::error!(error = %e, "no usable serving certificate yet; not ready until one appears");
        }
    }
    tokio::spawn(files.watch(settings.reload_interval(), metrics.clone(), background.clone()));
    let acceptor = TlsAcceptor::from(Arc::new(tls::server_config(resolver.clone())?));

    let secrets = Secrets::new(settings.secret_lookup, client.clone(), background.clone(), metrics.clone());
    let access = settings.check_secret_access.then(|| {
        AccessChecker::new(
            client.clone(),
            Duration::from_secs(settings.access_allowed_ttl_seconds),
            Duration::from_secs(settings.access_denied_ttl_seconds),
        )
    });
    let shutdown = Shutdown::new();
    let tls_listener = bind(settings.listen).await?;
    let health_listener = bind(settings.health_listen).await?;
    let tls_addr = tls_listener.local_addr().map_err(|source| Error::Bind { addr: settings.listen, source })?;
    let health_addr =
        health_listener.local_addr().map_err(|source| Error::Bind { addr: settings.health_listen, source })?;

    let health = Health { resolver, secrets: secrets.clone(), shutdown: shutdown.clone(), metrics: metrics.clone() };
    let app = Arc::new(App {
        admission: Admission { secrets, access, policy, metrics: metrics.clone() },
        slots: Semaphore::new(settings.max_concurrency.max(1)),
        metrics: metrics.clone(),
        settings: settings.clone(),
    });
    let grace = Duration::from_millis(settings.shutdown_grace_ms);
    let tls_task = tokio::spawn(serve_tls(tls_listener, acceptor, app, shutdown.clone(), grace));
    // Health keeps answering (not ready) until the admission port has drained.
    let health_stop = CancellationToken::new();
    let health_task = tokio::spawn(health::serve(health_listener, health, health_stop.clone()));
    tracing::info!(%tls_addr, %health_addr, lookup = ?settings.secret_lookup, access_checks = settings.check_secret_access, "webhook listening");
    Ok(Running {
        tls_addr,
        health_addr,
        metrics,
        shutdown,
        background,
        health_stop,
        delay: Duration::from_millis(settings.shutdown_delay_ms),
        tls_task,
        health_task,
    })
}
