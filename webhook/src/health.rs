//! `/healthz`, `/readyz` and `/metrics` on a plain-HTTP port, apart from the TLS
//! admission port so probes and scrapes need no certificate.

use std::sync::Arc;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::lookup::Secrets;
use crate::metrics::Metrics;
use crate::plain::{self, text};
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

async fn route(health: Arc<Health>, request: Request<Incoming>) -> Response<Full<Bytes>> {
    const PLAIN: &str = "text/plain; charset=utf-8";
    if request.method() != Method::GET && request.method() != Method::HEAD {
        return text(StatusCode::METHOD_NOT_ALLOWED, PLAIN, "use GET\n");
    }
    match request.uri().path() {
        "/healthz" | "/livez" => text(StatusCode::OK, PLAIN, "ok\n"),
        "/readyz" => match health.ready().await {
            Ok(()) => text(StatusCode::OK, PLAIN, "ok\n"),
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
    }
}

/// Serves until `stop` is cancelled (see `plain` for the connection limits).
pub async fn serve(listener: TcpListener, health: Health, stop: CancellationToken) {
    let health = Arc::new(health);
    plain::serve(listener, move |request| route(health.clone(), request), stop).await;
}
