//! Plain-HTTP `/healthz`, `/readyz` and `/metrics` on one port, served by the
//! webhook's plain-HTTP server (`webhook::plain`: header-read timeout, a pause after a
//! failed accept, graceful close), so both binaries' probe ports behave alike.
//!
//! `/healthz` answers while the process serves; `/readyz` once the Lease loop has
//! talked to the apiserver recently (a standby replica is ready too: it is healthy
//! and waiting to take over).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use webhook::plain::{self, text};

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

fn answer(state: &HealthState, req: &Request<Incoming>) -> Response<Full<Bytes>> {
    match req.uri().path() {
        "/healthz" => text(StatusCode::OK, "text/plain", "ok"),
        "/readyz" if state.leadership.in_contact(state.contact_within) => text(StatusCode::OK, "text/plain", "ok"),
        "/readyz" => text(StatusCode::SERVICE_UNAVAILABLE, "text/plain", "no recent contact with the apiserver"),
        "/metrics" => {
            text(StatusCode::OK, "application/openmetrics-text; version=1.0.0; charset=utf-8", state.metrics.encode())
        }
        _ => text(StatusCode::NOT_FOUND, "text/plain", "not found"),
    }
}

/// Binds `addr` (so a bad address fails at start, not later).
pub async fn bind(addr: SocketAddr) -> Result<TcpListener, Error> {
    TcpListener::bind(addr).await.map_err(|source| Error::Health { addr, source })
}

/// Serves until `shutdown`.
pub async fn serve(listener: TcpListener, state: HealthState, shutdown: CancellationToken) {
    plain::serve(listener, move |req| std::future::ready(answer(&state, &req)), shutdown).await;
}
