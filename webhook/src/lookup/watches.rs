//! One Secret watch per namespace that holds a SupabaseProject. A namespace's watch
//! starts when its first project appears and stops when its last one goes, so the
//! webhook's memory follows the namespaces projects live in, not the cluster's Secrets.

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, PoisonError, RwLock};

use futures::StreamExt;
use k8s_openapi::api::core::v1::Secret;
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client};
use tokio_util::sync::CancellationToken;

use crate::metrics::Metrics;

/// Secret types left out: Helm releases and service-account tokens are most of a
/// namespace's Secret bytes and no project references them (a reference to one still
/// works: a miss is a read).
const UNCACHED_TYPES: &str = "type!=helm.sh/release.v1,type!=kubernetes.io/service-account-token";

/// The watched namespaces and their Secrets.
pub(crate) struct Watches {
    client: Client,
    metrics: Arc<Metrics>,
    stop: CancellationToken,
    namespaces: RwLock<HashMap<String, Watched>>,
}

struct Watched {
    store: Store<Secret>,
    synced: Arc<AtomicBool>,
    stop: CancellationToken,
}

impl Drop for Watched {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

impl Watches {
    /// No namespace watched yet; every watch started later ends with `stop`.
    pub(crate) fn new(client: Client, metrics: Arc<Metrics>, stop: CancellationToken) -> Watches {
        Watches { client, metrics, stop, namespaces: RwLock::new(HashMap::new()) }
    }

    /// The cached copy of a Secret, when its namespace is watched and synced.
    pub(crate) fn get(&self, namespace: &str, name: &str) -> Option<Arc<Secret>> {
        let namespaces = self.namespaces.read().unwrap_or_else(PoisonError::into_inner);
        let watched = namespaces.get(namespace)?;
        if !watched.synced.load(Ordering::Acquire) {
            return None;
        }
        watched.store.get(&ObjectRef::new(name).within(namespace))
    }

    /// Watches exactly `wanted`: starts the missing watches, stops the others.
    pub(crate) fn follow(&self, wanted: &BTreeSet<String>) {
        let mut namespaces = self.namespaces.write().unwrap_or_else(PoisonError::into_inner);
        namespaces.retain(|ns, _| {
            let keep = wanted.contains(ns);
            if !keep {
                tracing::info!(namespace = %ns, "no SupabaseProject left; Secret watch stopped");
            }
            keep
        });
        for ns in wanted {
            if !namespaces.contains_key(ns) {
                namespaces.insert(ns.clone(), self.watch(ns));
            }
        }
        self.metrics.secret_cache_namespaces().set(namespaces.len() as i64);
    }

    /// The stores of the namespaces watched now, to wait for their first sync.
    pub(crate) fn stores(&self) -> Vec<Store<Secret>> {
        let namespaces = self.namespaces.read().unwrap_or_else(PoisonError::into_inner);
        namespaces.values().map(|w| w.store.clone()).collect()
    }

    /// The namespaces watched, sorted.
    pub(crate) fn namespaces(&self) -> Vec<String> {
        let namespaces = self.namespaces.read().unwrap_or_else(PoisonError::into_inner);
        let mut names: Vec<String> = namespaces.keys().cloned().collect();
        names.sort();
        names
    }

    /// Namespaces watched but not synced yet.
    pub(crate) fn unsynced(&self) -> usize {
        let namespaces = self.namespaces.read().unwrap_or_else(PoisonError::into_inner);
        namespaces.values().filter(|w| !w.synced.load(Ordering::Acquire)).count()
    }

    /// Secrets held, over every namespace.
    pub(crate) fn len(&self) -> usize {
        let namespaces = self.namespaces.read().unwrap_or_else(PoisonError::into_inner);
        namespaces.values().map(|w| w.store.len()).sum()
    }

    /// Every Secret held.
    pub(crate) fn state(&self) -> Vec<Arc<Secret>> {
        let namespaces = self.namespaces.read().unwrap_or_else(PoisonError::into_inner);
        namespaces.values().flat_map(|w| w.store.state()).collect()
    }

    fn watch(&self, namespace: &str) -> Watched {
        let (store, writer) = reflector::store();
        let synced = Arc::new(AtomicBool::new(false));
        let stop = self.stop.child_token();
        let api: Api<Secret> = Api::namespaced(self.client.clone(), namespace);
        // Only data is read: annotations may hold a full copy of the Secret (kubectl's
        // last-applied-configuration) and managed fields are large.
        let stream = watcher(api, watcher::Config::default().fields(UNCACHED_TYPES)).default_backoff().modify(
            |s: &mut Secret| {
                s.metadata.managed_fields = None;
                s.metadata.annotations = None;
                s.string_data = None;
            },
        );
        let stream = reflector::reflector(writer, stream);
        let (held, flag, done) = (store.clone(), synced.clone(), stop.clone());
        let gauge = self.metrics.secret_cache_secrets().clone();
        let namespace = namespace.to_string();
        tracing::info!(%namespace, "SupabaseProject seen; Secret watch started");
        tokio::spawn(async move {
            let mut stream = std::pin::pin!(stream);
            // This namespace's share of the gauge, taken back when the watch stops.
            let mut counted = 0i64;
            loop {
                let event = tokio::select! {
                    _ = done.cancelled() => break,
                    event = stream.next() => event,
                };
                match event {
                    None => break,
                    Some(Err(e)) => tracing::warn!(%namespace, error = %e, "Secret watch interrupted; retrying"),
                    Some(Ok(watcher::Event::InitDone)) if !flag.load(Ordering::Acquire) => {
                        flag.store(true, Ordering::Release);
                        tracing::info!(%namespace, secrets = held.len(), "Secret cache synced");
                    }
                    Some(Ok(_)) => {}
                }
                let now = held.len() as i64;
                gauge.inc_by(now - counted);
                counted = now;
            }
            gauge.dec_by(counted);
        });
        Watched { store, synced, stop }
    }
}
