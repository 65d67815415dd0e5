//! Events on the project for each transition and each failure.
//!
//! `kube::runtime::events::Recorder` writes `events.k8s.io/v1` Events, which every
//! apiserver since 1.19 serves (1.20 included). Where that group is missing, events
//! fall back to core `v1` Events, which `kubectl describe` shows the same way.
//! Publishing is best effort: a failed event is logged, never a failed reconcile.
//!
//! Only Warning events go through kube's `Recorder`, whose cache folds a repeated
//! warning (a reconcile error every backoff) into one Event's series. Normal events
//! mark one-off progress (a Secret generated, a component ready) and are created
//! directly: the Recorder keeps every event it published for six minutes, which for
//! a thousand projects rolling out is tens of thousands of cached Events (and a scan
//! of them all on each publish) for repeats that do not happen.
//! Notes are built by the reconciler from names and counts only, never from Secret data.

use k8s_openapi::api::core::v1::{Event as CoreEvent, EventSource, ObjectReference};
use k8s_openapi::api::events::v1::Event as NewEvent;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta, Time};
use k8s_openapi::jiff::Timestamp;
use kube::Client;
use kube::api::{Api, PostParams};
use kube::runtime::events::{Event, EventType, Recorder, Reporter};

/// Name the reconciler reports events under.
pub const CONTROLLER: &str = "supabase-reconciler";

/// Longest note an event may carry (the API's limit is 1 kB).
const MAX_NOTE: usize = 1000;

/// Publishes events, through whichever Event API the cluster serves.
#[derive(Clone)]
pub struct Events {
    client: Client,
    identity: String,
    recorder: Option<Recorder>,
}

impl std::fmt::Debug for Events {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Events").field("events_k8s_io", &self.recorder.is_some()).finish()
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
    /// Checks which Event API the cluster serves.
    pub async fn new(client: Client, identity: &str) -> Events {
        let served = client.list_api_group_resources("events.k8s.io/v1").await;
        let recorder = match served {
            Ok(list) if list.resources.iter().any(|r| r.name == "events") => {
                let reporter = Reporter { controller: CONTROLLER.into(), instance: Some(identity.to_string()) };
                Some(Recorder::new(client.clone(), reporter))
            }
            Ok(_) | Err(kube::Error::Api(_)) => {
                tracing::info!("events.k8s.io/v1 is not served; writing core v1 Events");
                None
            }
            // A transport error says nothing about the API: every apiserver since 1.19
            // serves events.k8s.io/v1, so assume it.
            Err(e) => {
                tracing::warn!(error = %e, "cannot discover events.k8s.io/v1; assuming it is served");
                let reporter = Reporter { controller: CONTROLLER.into(), instance: Some(identity.to_string()) };
                Some(Recorder::new(client.clone(), reporter))
            }
        };
        Events { client, identity: identity.to_string(), recorder }
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
        let note = truncate(note);
        let result = match &self.recorder {
            Some(_) if type_ == EventType::Normal => self.publish_new(regarding, related, reason, action, note).await,
            Some(r) => {
                let ev = Event {
                    type_,
                    reason: reason.into(),
                    note: Some(note),
                    action: action.into(),
                    secondary: related.clone(),
                };
                r.publish(&ev, regarding).await
            }
            None => self.publish_core(regarding, related, type_, reason, action, note).await,
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

    async fn publish_core(
        &self,
        regarding: &ObjectReference,
        related: Option<ObjectReference>,
        type_: EventType,
        reason: &str,
        action: &str,
        note: String,
    ) -> Result<(), kube::Error> {
        let (namespace, name, now) = placement(regarding);
        let ev = CoreEvent {
            metadata: ObjectMeta { name: Some(name), namespace: Some(namespace.clone()), ..Default::default() },
            involved_object: regarding.clone(),
            reason: Some(reason.into()),
            message: Some(note),
            action: Some(action.into()),
            type_: Some(if type_ == EventType::Normal { "Normal" } else { "Warning" }.into()),
            first_timestamp: Some(Time(now)),
            last_timestamp: Some(Time(now)),
            count: Some(1),
            source: Some(EventSource { component: Some(CONTROLLER.into()), host: None }),
            reporting_component: Some(CONTROLLER.into()),
            reporting_instance: Some(self.identity.clone()),
            related,
            ..Default::default()
        };
        Api::<CoreEvent>::namespaced(self.client.clone(), &namespace).create(&PostParams::default(), &ev).await?;
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
