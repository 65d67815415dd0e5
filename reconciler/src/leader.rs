//! Leader election through a `coordination.k8s.io/v1` Lease, the way client-go's
//! `leaderelection` does it: one loop that acquires or renews every retry period,
//! optimistic concurrency on the Lease's resourceVersion, and expiry judged by the
//! local clock since this replica last saw the Lease change (so clock skew between
//! replicas does not matter).
//!
//! Fencing: [`Leadership::is_leader`] is true only while the last successful renewal
//! is younger than the renew deadline, which is shorter than the lease duration. So
//! a leader that cannot reach the apiserver stops acting before anyone else may take
//! over, even if this loop itself is stuck.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, ObjectMeta, PostParams};
use tokio_util::sync::CancellationToken;

/// Lease settings.
#[derive(Clone, Debug)]
pub struct LeaseConfig {
    /// Lease name.
    pub name: String,
    /// Lease namespace.
    pub namespace: String,
    /// This replica's identity (the Lease's `holderIdentity`).
    pub identity: String,
    /// How long others wait after the last renewal they saw before taking over.
    pub lease_duration: Duration,
    /// How long the leader keeps acting without a successful renewal. Must be shorter
    /// than `lease_duration`.
    pub renew_deadline: Duration,
    /// Time between attempts to acquire or renew.
    pub retry_period: Duration,
}

/// What this replica knows about its leadership; shared with the reconciler.
#[derive(Debug)]
pub struct Leadership {
    renew_deadline: Duration,
    last_renew: Mutex<Option<Instant>>,
    last_contact: Mutex<Option<Instant>>,
    lost: CancellationToken,
    acquired: tokio::sync::Notify,
}

impl Leadership {
    /// A replica that is not (yet) the leader.
    pub fn new(renew_deadline: Duration) -> Arc<Leadership> {
        Arc::new(Leadership {
            renew_deadline,
            last_renew: Mutex::new(None),
            last_contact: Mutex::new(None),
            lost: CancellationToken::new(),
            acquired: tokio::sync::Notify::new(),
        })
    }

    /// Whether this replica may write now.
    pub fn is_leader(&self) -> bool {
        let last = self.last_renew.lock().map(|g| *g).unwrap_or(None);
        last.is_some_and(|t| t.elapsed() < self.renew_deadline) && !self.lost.is_cancelled()
    }

    /// Whether the Lease loop talked to the apiserver within `within` (for `/readyz`).
    pub fn in_contact(&self, within: Duration) -> bool {
        self.last_contact.lock().map(|g| *g).unwrap_or(None).is_some_and(|t| t.elapsed() < within)
    }

    /// Resolves once this replica holds the Lease.
    pub async fn acquired(&self) {
        loop {
            let notified = self.acquired.notified();
            if self.is_leader() {
                return;
            }
            notified.await;
        }
    }

    /// Cancelled when leadership, once held, is lost.
    pub fn lost(&self) -> CancellationToken {
        self.lost.clone()
    }

    fn renewed(&self) {
        if let Ok(mut g) = self.last_renew.lock() {
            *g = Some(Instant::now());
        }
        self.acquired.notify_waiters();
    }

    fn contact(&self) {
        if let Ok(mut g) = self.last_contact.lock() {
            *g = Some(Instant::now());
        }
    }

    fn held(&self) -> bool {
        self.last_renew.lock().map(|g| g.is_some()).unwrap_or(false)
    }
}

/// The client configuration the reconciler's writes need: `config` without kube's default
/// retry layer. That layer resends a request answered 429, 503 or 504 up to 15 times with
/// a backoff growing to minutes, below the caller: a write checked against the renew
/// deadline could leave long after it. Failed requests fail the reconcile instead, which
/// is retried with its own backoff and checks leadership again.
pub fn client_config(mut config: kube::Config) -> kube::Config {
    config.default_retry = false;
    config
}

/// The part of a Lease record whose change means its holder is alive.
#[derive(Clone, Debug, PartialEq)]
struct Record {
    holder: Option<String>,
    renew: Option<Timestamp>,
    transitions: Option<i32>,
}

/// How one acquire-or-renew round ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Attempt {
    /// We hold the Lease (acquired or renewed).
    Held,
    /// Another replica holds an unexpired Lease.
    Other,
    /// Our write lost a race (409); the next round reads again.
    Conflict,
}

struct Elector {
    api: Api<Lease>,
    config: LeaseConfig,
    leadership: Arc<Leadership>,
    observed: Option<(Record, Instant)>,
}

fn now() -> MicroTime {
    MicroTime(Timestamp::now())
}

fn conflict_or_exists(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == 409)
}

impl Elector {
    fn duration_secs(&self) -> i32 {
        i32::try_from(self.config.lease_duration.as_secs().max(1)).unwrap_or(i32::MAX)
    }

    /// One round: acquire a free or expired Lease, renew our own.
    async fn try_acquire_or_renew(&mut self) -> Result<Attempt, kube::Error> {
        let name = &self.config.name;
        let Some(mut lease) = self.api.get_opt(name).await? else {
            let lease = Lease {
                metadata: ObjectMeta { name: Some(name.clone()), ..Default::default() },
                spec: Some(LeaseSpec {
                    holder_identity: Some(self.config.identity.clone()),
                    lease_duration_seconds: Some(self.duration_secs()),
                    acquire_time: Some(now()),
                    renew_time: Some(now()),
                    lease_transitions: Some(0),
                    ..Default::default()
                }),
            };
            return match self.api.create(&PostParams::default(), &lease).await {
                Ok(_) => Ok(Attempt::Held),
                Err(e) if conflict_or_exists(&e) => Ok(Attempt::Conflict),
                Err(e) => Err(e),
            };
        };
        self.leadership.contact();
        let spec = lease.spec.clone().unwrap_or_default();
        let record = Record {
            holder: spec.holder_identity.clone().filter(|h| !h.is_empty()),
            renew: spec.renew_time.as_ref().map(|t| t.0),
            transitions: spec.lease_transitions,
        };
        let ours = record.holder.as_deref() == Some(self.config.identity.as_str());
        if self.observed.as_ref().is_none_or(|(r, _)| *r != record) {
            self.observed = Some((record.clone(), Instant::now()));
        }
        if !ours && record.holder.is_some() {
            let held_for = Duration::from_secs(spec.lease_duration_seconds.unwrap_or(0).max(0).unsigned_abs().into());
            let seen = self.observed.as_ref().map(|(_, at)| at.elapsed()).unwrap_or_default();
            if seen < held_for {
                return Ok(Attempt::Other);
            }
        }
        let mut new = spec.clone();
        if !ours {
            new.holder_identity = Some(self.config.identity.clone());
            new.acquire_time = Some(now());
            new.lease_transitions = Some(spec.lease_transitions.unwrap_or(0) + 1);
        }
        new.renew_time = Some(now());
        new.lease_duration_seconds = Some(self.duration_secs());
        lease.spec = Some(new);
        // `replace` carries the resourceVersion we read: a concurrent writer makes it 409.
        match self.api.replace(name, &PostParams::default(), &lease).await {
            Ok(_) => Ok(Attempt::Held),
            Err(e) if conflict_or_exists(&e) => Ok(Attempt::Conflict),
            Err(e) => Err(e),
        }
    }

    /// Gives the Lease up so a standby takes over at once instead of after expiry.
    async fn release(&self) {
        let Ok(Some(mut lease)) = self.api.get_opt(&self.config.name).await else { return };
        let Some(spec) = lease.spec.as_mut() else { return };
        if spec.holder_identity.as_deref() != Some(self.config.identity.as_str()) {
            return;
        }
        spec.holder_identity = None;
        spec.lease_duration_seconds = Some(1);
        spec.renew_time = Some(now());
        match self.api.replace(&self.config.name, &PostParams::default(), &lease).await {
            Ok(_) => tracing::info!(lease = %self.config.name, "released the leader Lease"),
            Err(e) => tracing::warn!(lease = %self.config.name, error = %e, "cannot release the leader Lease"),
        }
    }
}

/// Runs the election until `shutdown` (then releases the Lease if held) or until
/// leadership, once held, is lost (then cancels [`Leadership::lost`] and returns).
pub async fn run(api: Api<Lease>, config: LeaseConfig, leadership: Arc<Leadership>, shutdown: CancellationToken) {
    let mut elector = Elector { api, config, leadership: leadership.clone(), observed: None };
    loop {
        let attempt = tokio::time::timeout(elector.config.renew_deadline, elector.try_acquire_or_renew()).await;
        match attempt {
            Ok(Ok(Attempt::Held)) => {
                leadership.contact();
                if !leadership.is_leader() {
                    tracing::info!(lease = %elector.config.name, identity = %elector.config.identity, "became leader");
                }
                leadership.renewed();
            }
            // A lost write race is retried until the renew deadline, as client-go does.
            Ok(Ok(Attempt::Conflict)) => tracing::debug!(lease = %elector.config.name, "Lease write conflict"),
            Ok(Ok(Attempt::Other)) => {
                if leadership.held() {
                    tracing::error!(lease = %elector.config.name, "another replica holds the Lease; stopping");
                    leadership.lost.cancel();
                    return;
                }
            }
            Ok(Err(e)) => tracing::warn!(lease = %elector.config.name, error = %e, "cannot acquire or renew the Lease"),
            Err(_) => tracing::warn!(lease = %elector.config.name, "Lease request timed out"),
        }
        if leadership.held() && !leadership.is_leader() {
            tracing::error!(lease = %elector.config.name, "could not renew the Lease before the deadline; stopping");
            leadership.lost.cancel();
            return;
        }
        tokio::select! {
            _ = shutdown.cancelled() => {
                if leadership.is_leader() {
                    elector.release().await;
                }
                return;
            }
            _ = tokio::time::sleep(elector.config.retry_period) => {}
        }
    }
}

#[cfg(test)]
impl Leadership {
    /// A replica holding the Lease, for unit tests of code that writes.
    pub(crate) fn leading() -> Arc<Leadership> {
        Leadership::renewed_now(Duration::from_secs(600))
    }

    /// A replica that renewed the Lease just now, with `renew_deadline`.
    pub(crate) fn renewed_now(renew_deadline: Duration) -> Arc<Leadership> {
        let l = Leadership::new(renew_deadline);
        l.renewed();
        l
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    /// An apiserver that answers every request 503 with `Retry-After: 0`; returns its
    /// URL and how many requests it got.
    async fn unavailable() -> (String, Arc<AtomicUsize>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let count = Arc::new(AtomicUsize::new(0));
        let seen = count.clone();
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let seen = seen.clone();
                let service = hyper::service::service_fn(move |_req| {
                    seen.fetch_add(1, Ordering::SeqCst);
                    let body = r#"{"kind":"Status","apiVersion":"v1","status":"Failure","code":503}"#;
                    let answer = hyper::Response::builder()
                        .status(503)
                        .header("Retry-After", "0")
                        .body(http_body_util::Full::new(bytes::Bytes::from_static(body.as_bytes())));
                    async move { answer }
                });
                let io = hyper_util::rt::TokioIo::new(tcp);
                tokio::spawn(hyper::server::conn::http1::Builder::new().serve_connection(io, service));
            }
        });
        (url, count)
    }

    async fn writes_sent(config: impl Fn(kube::Config) -> kube::Config) -> usize {
        let (url, count) = unavailable().await;
        let client = kube::Client::try_from(config(kube::Config::new(url.parse().unwrap()))).unwrap();
        let api: Api<Lease> = Api::namespaced(client, "ns");
        let lease = Lease { metadata: ObjectMeta { name: Some("l".into()), ..Default::default() }, spec: None };
        // kube's default retries go on for minutes: stop at the first resend.
        let resent = async {
            while count.load(Ordering::SeqCst) < 2 {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        };
        let pp = PostParams::default();
        tokio::select! {
            sent = api.create(&pp, &lease) => assert!(sent.is_err()),
            () = resent => {}
        }
        count.load(Ordering::SeqCst)
    }

    #[tokio::test]
    async fn a_write_leaves_once_however_the_apiserver_answers() {
        // The reason for `client_config`: kube's default stack sends the same write again.
        assert!(writes_sent(|c| c).await > 1, "kube no longer retries by default; client_config may go");
        assert_eq!(writes_sent(client_config).await, 1);
    }

    #[test]
    fn leadership_lapses_at_the_renew_deadline_without_renewals() {
        // Long enough that a busy machine does not stall between a renewal and the check
        // right after it for the whole deadline.
        let deadline = Duration::from_secs(1);
        let l = Leadership::new(deadline);
        assert!(!l.is_leader());
        l.renewed();
        assert!(l.is_leader());
        std::thread::sleep(deadline);
        assert!(!l.is_leader(), "still acting after the renew deadline");
        l.renewed();
        assert!(l.is_leader());
        l.lost.cancel();
        assert!(!l.is_leader());
    }
}
