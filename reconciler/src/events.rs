//! Events on the project for each transition and each failure.
//!
//! Events are `events.k8s.io/v1`, which every apiserver since 1.19 serves (1.20 included).
//! Publishing is best effort: a failed event is logged, never a failed reconcile.
//! Events are writes: like every other write, one is published only while this replica
//! holds the Lease (see `leader`), so a deposed leader adds nothing to the record.
//!
//! Only Warning events go through kube's `Recorder`, whose cache folds a repeated
//! warning (a reconcile error every backoff) into one Event's series. Normal events
//! mark one-off progress (a Secret generated, a component ready) and are created
//! directly: the Recorder keeps every event it published for six minutes, which for
//! a thousand projects rolling out is tens of thousands of cached Events (and a scan
//! of them all on each publish) for repeats that do not happen.
//! Notes are built by the reconciler from names and counts only, never from Secret data.

use std::sync::Arc;

use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::api::events::v1::Event as NewEvent;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::Timestamp;
use kube::Client;
use kube::api::{Api, PostParams};
use kube::runtime::events::{Event, EventType, Recorder, Reporter};

use crate::leader::Leadership;

/// Name the reconciler reports events under.
pub const CONTROLLER: &str = "supabase-reconciler";

/// Longest note an event may carry (the API's limit is 1 kB).
const MAX_NOTE: usize = 1000;

/// Publishes events while this replica leads.
#[derive(Clone)]
pub struct Events {
    client: Client,
    identity: String,
    recorder: Recorder,
    leadership: Arc<Leadership>,
}

impl std::fmt::Debug for Events {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Events").field("identity", &self.identity).finish_non_exhaustive()
    }
}

fn truncate(note: &str) -> String {
    if note.len() <= MAX_NOTE {
        return note.to_string();
    }
    let mut end = MAX_NOTE;
    while !note.is_char_boundary(end) {
        end -= 1;
    }
    note[..end].to_string()
}

impl Events {
    /// A publisher reporting as `identity`, fenced by `leadership`.
    pub fn new(client: Client, identity: &str, leadership: Arc<Leadership>) -> Events {
        let reporter = Reporter { controller: CONTROLLER.into(), instance: Some(identity.to_string()) };
        let recorder = Recorder::new(client.clone(), reporter);
        Events { client, identity: identity.to_string(), recorder, leadership }
    }

    /// Publishes one event about `regarding`.
    pub async fn publish(&self, regarding: &ObjectReference, type_: EventType, reason: &str, action: &str, note: &str) {
        self.publish_related(regarding, None, type_, reason, action, note).await;
    }

    /// Publishes one event about `regarding` that concerns `related` too. The recorder
    /// folds repeats of the same (reason, action, related) into one Event's series, so
    /// naming the related object keeps, e.g., each component's readiness its own Event.
    pub async fn publish_related(
        &self,
        regarding: &ObjectReference,
        related: Option<ObjectReference>,
        type_: EventType,
        reason: &str,
        action: &str,
        note: &str,
    ) {
        // The same fence as every other write: checked right before the request.
        if !self.leadership.is_leader() {
            tracing::debug!(reason, object = ?regarding.name, "not the leader; event not published");
            return;
        }
        let note = truncate(note);
        let result = if type_ == EventType::Normal {
            self.publish_new(regarding, related, reason, action, note).await
        } else {
            let ev =
                Event { type_, reason: reason.into(), note: Some(note), action: action.into(), secondary: related };
            self.recorder.publish(&ev, regarding).await
        };
        if let Err(e) = result {
            tracing::warn!(reason, object = ?regarding.name, error = %e, "cannot publish event");
        }
    }

    /// An `events.k8s.io/v1` Event as kube's Recorder writes it, without its cache.
    async fn publish_new(
        &self,
        regarding: &ObjectReference,
        related: Option<ObjectReference>,
        reason: &str,
        action: &str,
        note: String,
    ) -> Result<(), kube::Error> {
        let (namespace, name, now) = placement(regarding);
        let ev = NewEvent {
            metadata: ObjectMeta { name: Some(name), namespace: Some(namespace.clone()), ..Default::default() },
            action: Some(action.into()),
            reason: Some(reason.into()),
            note: Some(note),
            event_time: Some(MicroTime(now)),
            regarding: Some(regarding.clone()),
            related,
            reporting_controller: Some(CONTROLLER.into()),
            reporting_instance: Some(self.identity.clone()),
            type_: Some("Normal".into()),
            ..Default::default()
        };
        Api::<NewEvent>::namespaced(self.client.clone(), &namespace).create(&PostParams::default(), &ev).await?;
        Ok(())
    }
}

/// Where a new Event about `regarding` goes, its unique name, and its time.
fn placement(regarding: &ObjectReference) -> (String, String, Timestamp) {
    let namespace = regarding.namespace.clone().unwrap_or_else(|| "default".into());
    let now = Timestamp::now();
    let name = format!("{}.{:x}", regarding.name.as_deref().unwrap_or(CONTROLLER), now.as_nanosecond());
    (namespace, name, now)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::convert::Infallible;
    use std::sync::Mutex;
    use std::time::Duration;

    use http_body_util::{BodyExt, Full};
    use hyper::{Request, Response};

    use super::*;

    /// A client whose apiserver records each request line and answers with the body sent.
    fn recording_client() -> (Client, Arc<Mutex<Vec<String>>>) {
        let log = Arc::new(Mutex::new(Vec::new()));
        let seen = log.clone();
        let service = tower::service_fn(move |req: Request<kube::client::Body>| {
            let seen = seen.clone();
            async move {
                seen.lock().unwrap().push(format!("{} {}", req.method(), req.uri().path()));
                let body = req.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
                Ok::<_, Infallible>(Response::builder().status(201).body(Full::new(body)).unwrap())
            }
        });
        (Client::new(service, "ns"), log)
    }

    fn project() -> ObjectReference {
        ObjectReference {
            api_version: Some("supabase-operator.io/v1alpha1".into()),
            kind: Some("SupabaseProject".into()),
            name: Some("demo".into()),
            namespace: Some("ns".into()),
            ..Default::default()
        }
    }

    async fn publish_both(events: &Events) {
        events.publish(&project(), EventType::Normal, "ComponentReady", "Reconcile", "kong is ready").await;
        events.publish(&project(), EventType::Warning, "ReconcileFailed", "Reconcile", "it broke").await;
    }

    #[tokio::test]
    async fn the_leader_publishes_events_k8s_io_events() {
        let (client, log) = recording_client();
        publish_both(&Events::new(client, "a", Leadership::leading())).await;
        let log = log.lock().unwrap().clone();
        assert_eq!(log.len(), 2, "{log:?}");
        assert!(log.iter().all(|l| l == "POST /apis/events.k8s.io/v1/namespaces/ns/events"), "{log:?}");
    }

    #[tokio::test]
    async fn a_replica_that_does_not_lead_publishes_nothing() {
        let (client, log) = recording_client();
        // Never leading, and leading once but past its renew deadline: both are fenced.
        publish_both(&Events::new(client.clone(), "a", Leadership::new(Duration::from_secs(10)))).await;
        let lapsed = Leadership::renewed_now(Duration::from_millis(1));
        std::thread::sleep(Duration::from_millis(5));
        publish_both(&Events::new(client, "a", lapsed)).await;
        assert_eq!(log.lock().unwrap().clone(), Vec::<String>::new());
    }
}
