//! What every reconcile shares: the client, the owned-object caches, the memo of our
//! own writes, events, metrics, leadership and the per-project failure counts behind
//! the backoff.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use k8s_openapi::api::core::v1::ConfigMap;
use kube::Client;

use crate::Error;
use crate::cache::Caches;
use crate::events::Events;
use crate::leader::Leadership;
use crate::memo::Memo;
use crate::metrics::Metrics;
use crate::secret_data::{ByVersion, UserSecrets};

/// Shortest wait after a failure.
const BACKOFF_MIN: Duration = Duration::from_secs(2);
/// Longest wait after repeated failures.
const BACKOFF_MAX: Duration = Duration::from_secs(300);

/// The controller's context.
pub struct Context {
    /// Client for every API call.
    pub client: Client,
    /// Caches of the owned kinds.
    pub caches: Caches,
    /// What this process last wrote, per project.
    pub memo: Memo,
    /// Data of the referenced user Secrets, by resourceVersion.
    pub user_secrets: UserSecrets,
    /// Edge Functions' code ConfigMaps, by resourceVersion.
    pub user_config_maps: ByVersion<ConfigMap>,
    /// Event publisher.
    pub events: Events,
    /// Metrics.
    pub metrics: Arc<Metrics>,
    /// This replica's leadership; every write checks it.
    pub leadership: Arc<Leadership>,
    failures: Mutex<HashMap<String, u32>>,
}

impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context").field("leader", &self.leadership.is_leader()).finish_non_exhaustive()
    }
}

impl Context {
    /// A context.
    pub fn new(
        client: Client,
        caches: Caches,
        events: Events,
        metrics: Arc<Metrics>,
        leadership: Arc<Leadership>,
    ) -> Context {
        Context {
            client,
            caches,
            memo: Memo::default(),
            user_secrets: UserSecrets::default(),
            user_config_maps: ByVersion::default(),
            events,
            metrics,
            leadership,
            failures: Mutex::new(HashMap::new()),
        }
    }

    /// Refuses a write unless this replica holds the Lease right now.
    pub fn may_write(&self) -> Result<(), Error> {
        if self.leadership.is_leader() { Ok(()) } else { Err(Error::NotLeader) }
    }

    /// Records one more consecutive failure of `key` and returns how long to wait:
    /// 2 s, 4 s, 8 s, ... up to 5 minutes.
    pub fn failed(&self, key: &str) -> Duration {
        let Ok(mut f) = self.failures.lock() else { return BACKOFF_MAX };
        let n = f.entry(key.to_string()).or_insert(0);
        let wait = BACKOFF_MIN.saturating_mul(1u32 << (*n).min(16));
        *n = n.saturating_add(1);
        wait.min(BACKOFF_MAX)
    }

    /// Forgets `key`'s failures after a reconcile that could act.
    pub fn succeeded(&self, key: &str) {
        if let Ok(mut f) = self.failures.lock() {
            f.remove(key);
        }
    }
}
