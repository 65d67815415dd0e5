//! Plain-HTTP `/healthz`, `/readyz` and `/metrics` on one port.
//!
//! `/healthz` answers while the process serves; `/readyz` once the Lease loop has
//! talked to the apiserver recently (a standby replica is ready too: it is healthy
//! and waiting to take over).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::Error;
use crate::leader::Leadership;
use crate::metrics::Metrics;

/// What the endpoints report on.
#[derive(Clone, Debug)]
pub struct HealthState {
    /// The replica's leadership (its Lease loop's contact with the apiserver).
    pub leadership: Arc<Leadership>,
    /// The metrics to expose.
    pub metrics: Arc<Metrics>,
    /// How recent the last apiserver contact must be for `/readyz`.
    pub contact_within: Duration,
}

fn text(status: StatusCode, body: impl Into<Bytes>, content_type: &str) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(body.into()));
    *r.status_mut() = status;
    if let Ok(v) = hyper::header::HeaderValue::from_str(content_type) {
        r.headers_mut().insert(hyper::header::CONTENT_TYPE, v);
    }
    r
}

fn answer(state: &HealthState, req: &Request<Incoming>) -> Response<Full<Bytes>> {
    match req.uri().path() {
        "/healthz" => text(StatusCode::OK, "ok", "text/plain"),
        "/readyz" if state.leadership.in_contact(state.contact_within) => text(StatusCode::OK, "ok", "text/plain"),
        "/readyz" => text(StatusCode::SERVICE_UNAVAILABLE, "no recent contact with the apiserver", "text/plain"),
        "/metrics" => {
            text(StatusCode::OK, state.metrics.encode(), "application/openmetrics-text; version=1.0.0; charset=utf-8")
        }
        _ => text(StatusCode::NOT_FOUND, "not found", "text/plain"),
    }
}

/// Binds `addr` (so a bad address fails at start, not later).
pub async fn bind(addr: SocketAddr) -> Result<TcpListener, Error> {
    TcpListener::bind(addr).await.map_err(|source| Error::Health { addr, source })
}

/// Serves until `shutdown`.
pub async fn serve(listener: TcpListener, state: HealthState, shutdown: CancellationToken) {
    loop {
        let accepted = tokio::select! {
            _ = shutdown.cancelled() => return,
            a = listener.accept() => a,
        };
        let Ok((stream, _)) = accepted else { continue };
        let state = state.clone();
        let stop = shutdown.clone();
        // Each connection is its own task so a slow scraper does not block the others;
        // it ends with the shutdown token, so nothing outlives `run`.
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                let r = answer(&state, &req);
                async move { Ok::<_, Infallible>(r) }
            });
            let conn = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service);
            tokio::select! {
                _ = conn => {}
                _ = stop.cancelled() => {}
            }
        });
    }
}
