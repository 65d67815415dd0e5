//! `/healthz`, `/readyz` and `/metrics` on a plain-HTTP port, apart from the TLS
//! admission port so probes and scrapes need no certificate.

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;

use crate::lookup::Secrets;
use crate::metrics::Metrics;
use crate::shutdown::Shutdown;
use crate::tls::Resolver;

/// What readiness looks at.
#[derive(Clone, Debug)]
pub struct Health {
    /// The serving certificate.
    pub resolver: Arc<Resolver>,
    /// Secret lookups.
    pub secrets: Secrets,
    /// Shutdown state: draining means not ready.
    pub shutdown: Shutdown,
    /// Metrics to expose.
    pub metrics: Arc<Metrics>,
}

impl Health {
    /// `Ok` when the webhook should receive traffic, else every reason it should not.
    pub async fn ready(&self) -> Result<(), Vec<String>> {
        let mut problems = Vec::new();
        if self.shutdown.draining() {
            problems.push("shutting down".to_string());
        }
        if !self.resolver.loaded() {
            problems.push("no serving certificate loaded".to_string());
        }
        if let Err(e) = self.secrets.ready().await {
            problems.push(e);
        }
        if problems.is_empty() { Ok(()) } else { Err(problems) }
    }
}

fn text(status: StatusCode, content_type: &str, body: String) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    if let Ok(v) = http::HeaderValue::from_str(content_type) {
        response.headers_mut().insert(http::header::CONTENT_TYPE, v);
    }
    response
}

async fn route(health: Arc<Health>, request: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    const PLAIN: &str = "text/plain; charset=utf-8";
    if request.method() != Method::GET && request.method() != Method::HEAD {
        return Ok(text(StatusCode::METHOD_NOT_ALLOWED, PLAIN, "use GET\n".into()));
    }
    Ok(match request.uri().path() {
        "/healthz" | "/livez" => text(StatusCode::OK, PLAIN, "ok\n".into()),
        "/readyz" => match health.ready().await {
            Ok(()) => text(StatusCode::OK, PLAIN, "ok\n".into()),
            Err(problems) => {
                text(StatusCode::SERVICE_UNAVAILABLE, PLAIN, format!("not ready: {}\n", problems.join("; ")))
            }
        },
        "/metrics" => {
            text(StatusCode::OK, "application/openmetrics-text; version=1.0.0; charset=utf-8", health.metrics.render())
        }
        other => {
            text(StatusCode::NOT_FOUND, PLAIN, format!("unknown path {other:?}; try /healthz, /readyz or /metrics\n"))
        }
    })
}

/// Serves until `shutdown` stops.
pub async fn serve(listener: TcpListener, health: Health, shutdown: Shutdown) {
    let health = Arc::new(health);
    loop {
        let (tcp, _) = tokio::select! {
            _ = shutdown.stopped() => return,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    tracing::warn!(error = %e, "health listener accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let health = health.clone();
        let stop = shutdown.clone();
        tokio::spawn(async move {
            let service = service_fn(move |r| route(health.clone(), r));
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder.timer(TokioTimer::new()).header_read_timeout(std::time::Duration::from_secs(5));
            let conn = builder.serve_connection(TokioIo::new(tcp), service);
            let mut conn = std::pin::pin!(conn);
            tokio::select! {
                _ = conn.as_mut() => {}
                _ = stop.stopped() => {
                    conn.as_mut().graceful_shutdown();
                    let _ = conn.await;
                }
            }
        });
    }
}
