//! Reading the Secrets a project references. Two ways, measured against each other
//! (see the README): one GET per Secret per review, or (the default) a watch-fed cache
//! of the Secrets in namespaces that hold a SupabaseProject, with a GET on a miss (a
//! Secret created a moment before its project, or a namespace's first project) and
//! before any denial.
//!
//! Nothing here logs or returns a value outside [`Lookup::Found`].

mod projects;
mod watches;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use k8s_openapi::api::core::v1::Secret;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Api, Client, ResourceExt};
use tokio_util::sync::CancellationToken;

use crate::config::SecretLookupMode;
use crate::metrics::Metrics;
use crate::validate::{Lookup, SecretData};
use projects::Progress;
use watches::Watches;

/// How long one Secret read may take.
const READ_TIMEOUT: Duration = Duration::from_secs(3);

/// Reads referenced Secrets.
#[derive(Clone)]
pub struct Secrets {
    client: Client,
    cache: Option<Cache>,
    metrics: Arc<Metrics>,
}

#[derive(Clone)]
enum Cache {
    /// A Secret watch per namespace holding a project.
    Watched { watches: Arc<Watches>, progress: Arc<Progress> },
    /// One store for every namespace, taken as synced: for tests and tools.
    Fixed(Store<Secret>),
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Secrets").field("cached", &self.cache.is_some()).finish()
    }
}

fn found(secret: Arc<Secret>) -> Lookup {
    Lookup::Found(SecretData::new(secret))
}

/// Describes a client error without anything from a response body that might echo input.
pub fn describe(e: &kube::Error) -> String {
    match e {
        kube::Error::Api(status) => format!("apiserver answered {} {}", status.code, status.reason),
        other => {
            let s = other.to_string();
            s.chars().take(160).collect()
        }
    }
}

impl Secrets {
    /// Direct reads only.
    pub fn direct(client: Client) -> Secrets {
        Secrets { client, cache: None, metrics: Arc::new(Metrics::new()) }
    }

    /// A watch-fed cache of the Secrets in namespaces that hold a SupabaseProject, kept
    /// in the background until `stop`.
    pub fn cached(client: Client, stop: CancellationToken, metrics: Arc<Metrics>) -> Secrets {
        let watches = Arc::new(Watches::new(client.clone(), metrics.clone(), stop.clone()));
        let progress = Arc::new(Progress::default());
        projects::follow(client.clone(), watches.clone(), progress.clone(), stop);
        Secrets { client, cache: Some(Cache::Watched { watches, progress }), metrics }
    }

    /// A cache over an existing store covering every namespace, considered synced: for
    /// tests and tools that control what the cache holds.
    pub fn from_store(client: Client, store: Store<Secret>) -> Secrets {
        Secrets { client, cache: Some(Cache::Fixed(store)), metrics: Arc::new(Metrics::new()) }
    }

    /// Builds the lookup `mode` asks for.
    pub fn new(mode: SecretLookupMode, client: Client, stop: CancellationToken, metrics: Arc<Metrics>) -> Secrets {
        match mode {
            SecretLookupMode::Direct => Secrets { metrics, ..Secrets::direct(client) },
            SecretLookupMode::Cache => Secrets::cached(client, stop, metrics),
        }
    }

    /// Reads one Secret directly.
    pub async fn read(&self, namespace: &str, name: &str) -> Lookup {
        self.metrics.secret_read(false);
        let api: Api<Secret> = Api::namespaced(self.client.clone(), namespace);
        match tokio::time::timeout(READ_TIMEOUT, api.get_opt(name)).await {
            Ok(Ok(Some(secret))) => found(Arc::new(secret)),
            Ok(Ok(None)) => Lookup::Missing,
            Ok(Err(e)) => Lookup::Unavailable(describe(&e)),
            Err(_) => Lookup::Unavailable(format!("no answer within {} s", READ_TIMEOUT.as_secs())),
        }
    }

    /// One Secret: from the cache when its namespace is watched, synced and holds it,
    /// else read directly.
    pub async fn get(&self, namespace: &str, name: &str) -> Lookup {
        match self.cached_copy(namespace, name) {
            Some(secret) => found(secret),
            None => self.read(namespace, name).await,
        }
    }

    fn cached_copy(&self, namespace: &str, name: &str) -> Option<Arc<Secret>> {
        let copy = match self.cache.as_ref()? {
            Cache::Watched { watches, .. } => watches.get(namespace, name),
            Cache::Fixed(store) => store.get(&ObjectRef::new(name).within(namespace)),
        };
        if copy.is_some() {
            self.metrics.secret_read(true);
        }
        copy
    }

    /// Every Secret in `names`, from the cache where possible, the rest read concurrently.
    pub async fn get_all(&self, namespace: &str, names: &[String]) -> BTreeMap<String, Lookup> {
        let mut out = BTreeMap::new();
        let mut misses = Vec::new();
        for name in names {
            match self.cached_copy(namespace, name) {
                Some(secret) => {
                    out.insert(name.clone(), found(secret));
                }
                None => misses.push(name.clone()),
            }
        }
        // Usually none: no futures to build and poll when every Secret is cached.
        if !misses.is_empty() {
            out.extend(self.read_all(namespace, &misses).await);
        }
        out
    }

    /// Every Secret in `names`, read directly, concurrently.
    pub async fn read_all(&self, namespace: &str, names: &[String]) -> BTreeMap<String, Lookup> {
        let reads = names.iter().map(|n| async move { (n.clone(), self.read(namespace, n).await) });
        futures::future::join_all(reads).await.into_iter().collect()
    }

    /// Whether lookups go through the watch cache.
    pub fn is_cached(&self) -> bool {
        self.cache.is_some()
    }

    /// Whether lookups work: the projects are listed and the Secrets of the namespaces
    /// holding one had synced, or (direct reads) a read reaches the apiserver (a Secret
    /// that does not exist is a working read). A namespace whose first project arrives
    /// later does not make the webhook unready: until its watch syncs, a miss is a read.
    pub async fn ready(&self) -> Result<(), String> {
        match &self.cache {
            Some(Cache::Fixed(_)) => Ok(()),
            Some(Cache::Watched { watches, progress }) => {
                if progress.ready.load(Ordering::Acquire) {
                    Ok(())
                } else if !progress.listed.load(Ordering::Acquire) {
                    Err("SupabaseProjects not listed yet (is the CRD installed?)".into())
                } else {
                    Err(format!("Secret cache of {} namespace(s) not synced yet", watches.unsynced()))
                }
            }
            None => match self.read("default", "supabase-webhook-readiness-probe").await {
                Lookup::Unavailable(reason) => Err(format!("Secret reads fail: {reason}")),
                _ => Ok(()),
            },
        }
    }

    /// Every Secret the cache holds.
    fn held(&self) -> Vec<Arc<Secret>> {
        match &self.cache {
            Some(Cache::Watched { watches, .. }) => watches.state(),
            Some(Cache::Fixed(store)) => store.state(),
            None => Vec::new(),
        }
    }

    /// The namespaces whose Secrets are watched (none for direct reads and a fixed store).
    pub fn watched_namespaces(&self) -> Vec<String> {
        match &self.cache {
            Some(Cache::Watched { watches, .. }) => watches.namespaces(),
            _ => Vec::new(),
        }
    }

    /// How many Secrets the cache holds (0 for direct reads).
    pub fn cached_len(&self) -> usize {
        match &self.cache {
            Some(Cache::Watched { watches, .. }) => watches.len(),
            Some(Cache::Fixed(store)) => store.len(),
            None => 0,
        }
    }

    /// Approximate bytes of Secret data the cache holds.
    pub fn cached_bytes(&self) -> usize {
        self.held()
            .iter()
            .map(|s| {
                s.name_any().len()
                    + s.data.iter().flatten().map(|(k, v)| k.len() + v.0.len()).sum::<usize>()
                    + s.labels().iter().map(|(k, v)| k.len() + v.len()).sum::<usize>()
            })
            .sum()
    }
}
