//! The reconciler: ordered rollout of a SupabaseProject's components and its status.
//!
//! [`run`] is the whole process minus flag parsing and logging, so tests run it
//! in-process against a real apiserver, two at a time for leader election.
#![forbid(unsafe_code)]

mod apply;
mod backoff;
mod cache;
mod claim;
pub mod config;
mod context;
mod controller;
mod database_status;
mod dbinit;
mod deployment_view;
mod error;
pub mod events;
pub mod findings;
mod gateway;
mod hash;
pub mod health;
mod http_route;
mod inputs;
mod key;
pub mod leader;
mod memo;
pub mod metrics;
mod new_keys;
mod observation;
pub mod preflight;
mod readiness;
mod reconcile;
mod rollout;
mod route_watch;
mod scaling;
pub mod scaling_api;
mod secret_data;
mod secrets;
mod skip;
mod status;
mod studio_password;
pub mod workloads;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::coordination::v1::Lease;
use kube::Client;
use kube::api::Api;
use tokio_util::sync::CancellationToken;

pub use config::Settings;
pub use error::Error;
pub use leader::LeaseConfig;
pub use metrics::{Metrics, Outcome};
/// How often a reconciler without the Gateway API CRDs asks whether they are installed.
pub use route_watch::POLL as HTTP_ROUTE_POLL;

/// How the reconciler runs.
#[derive(Clone, Debug)]
pub struct Config {
    /// The leader-election Lease.
    pub lease: LeaseConfig,
    /// Address of `/healthz`, `/readyz` and `/metrics`; `None` serves nothing.
    pub health_addr: Option<SocketAddr>,
    /// Reconcile only the projects of this namespace; `None` watches all namespaces.
    pub namespace: Option<String>,
    /// Where the metrics go (shared so a caller can read them).
    pub metrics: Arc<Metrics>,
    /// Most projects reconciled at once (0 = no limit). Bounds the burst of API calls
    /// when a new leader starts with many projects.
    pub concurrency: u16,
}

/// Runs the reconciler until `shutdown` is cancelled: campaigns for the Lease, and
/// while it holds it runs the controller. Returns [`Error::LostLeadership`] when the
/// Lease is lost: the process must exit (and restart as a candidate), as client-go's
/// leader election does, so no state of a former leader survives.
/// `client` should be built from [`leader::client_config`], so that no write is resent
/// by the client after its leadership check.
pub async fn run(config: Config, client: Client, shutdown: CancellationToken) -> Result<(), Error> {
    let leadership = leader::Leadership::new(config.lease.renew_deadline);
    let listener = match config.health_addr {
        Some(addr) => Some(health::bind(addr).await?),
        None => None,
    };
    let events = events::Events::new(client.clone(), &config.lease.identity, leadership.clone());
    let (caches, writers) = cache::new();
    let ctx =
        Arc::new(context::Context::new(client.clone(), caches, events, config.metrics.clone(), leadership.clone()));

    let lease_name = config.lease.name.clone();
    let elector_stop = CancellationToken::new();
    let health_stop = CancellationToken::new();
    let leases: Api<Lease> = Api::namespaced(client.clone(), &config.lease.namespace);
    let elector = leader::run(leases, config.lease.clone(), leadership.clone(), elector_stop.clone());
    let health = async {
        if let Some(l) = listener {
            let state = health::HealthState {
                leadership: leadership.clone(),
                metrics: config.metrics.clone(),
                contact_within: config.lease.lease_duration.max(Duration::from_secs(5)) * 2,
            };
            health::serve(l, state, health_stop.clone()).await;
        }
    };
    let lost = leadership.lost();
    let work = async {
        let result = async {
            tokio::select! {
                _ = shutdown.cancelled() => return Ok(()),
                _ = lost.cancelled() => return Err(Error::LostLeadership(lease_name.clone())),
                _ = leadership.acquired() => {}
            }
            config.metrics.set_leader(true);
            tracing::info!(identity = %config.lease.identity, "leading; starting the controller");
            let stop = CancellationToken::new();
            let controller =
                controller::run(ctx.clone(), writers, config.namespace.clone(), config.concurrency, stop.clone());
            let trigger = async {
                tokio::select! {
                    _ = shutdown.cancelled() => {}
                    _ = lost.cancelled() => {}
                }
                stop.cancel();
            };
            tokio::pin!(controller);
            tokio::select! {
                _ = &mut controller => {}
                _ = trigger => controller.await,
            }
            config.metrics.set_leader(false);
            if lost.is_cancelled() && !shutdown.is_cancelled() {
                return Err(Error::LostLeadership(lease_name.clone()));
            }
            Ok(())
        }
        .await;
        // The controller has stopped writing: now the Lease may be released.
        elector_stop.cancel();
        health_stop.cancel();
        result
    };
    let (result, (), ()) = tokio::join!(work, elector, health);
    result
}
