//! Reading the Secrets a project references. Two ways, measured against each other
//! (see the README): one GET per Secret per review, or (the default) a watch-fed cache
//! of the cluster's Secrets with a GET on a miss (a Secret created a moment before its
//! project may not have reached the cache yet) and before any denial.
//!
//! Nothing here logs or returns a value outside [`Lookup::Found`].

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::Secret;
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client, ResourceExt};
use tokio_util::sync::CancellationToken;

use crate::config::SecretLookupMode;
use crate::validate::{Lookup, SecretData};

/// Secret types the cache leaves out.
const UNCACHED_TYPES: &str = "type!=helm.sh/release.v1,type!=kubernetes.io/service-account-token";

/// How long one Secret read may take.
const READ_TIMEOUT: Duration = Duration::from_secs(3);

/// Reads referenced Secrets.
#[derive(Clone)]
pub struct Secrets {
    client: Client,
    cache: Option<Cache>,
}

#[derive(Clone)]
struct Cache {
    store: Store<Secret>,
    synced: Arc<AtomicBool>,
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
        Secrets { client, cache: None }
    }

    /// A watch-fed cache, filled in the background until `stop`.
    pub fn cached(client: Client, stop: CancellationToken) -> Secrets {
        let (store, writer) = reflector::store();
        let synced = Arc::new(AtomicBool::new(false));
        let api: Api<Secret> = Api::all(client.clone());
        // The cache keeps only what admission reads: data. Annotations may hold a full
        // copy of the Secret (kubectl's last-applied-configuration) and managed fields
        // are large; dropping them halves memory on a typical cluster.
        // Helm releases and service-account tokens are most of a cluster's Secret bytes
        // and no project references them; a reference to one still works (a GET on a miss).
        let config = watcher::Config::default().fields(UNCACHED_TYPES);
        let stream = watcher(api, config).default_backoff().modify(|s: &mut Secret| {
            s.metadata.managed_fields = None;
            s.metadata.annotations = None;
            s.string_data = None;
        });
        let stream = reflector::reflector(writer, stream).applied_objects();
        let ready_store = store.clone();
        let ready_flag = synced.clone();
        tokio::spawn(async move {
            let mut stream = std::pin::pin!(stream);
            let run = async {
                while let Some(event) = stream.next().await {
                    if let Err(e) = event {
                        tracing::warn!(error = %e, "Secret watch interrupted; retrying");
                    }
                }
            };
            let ready = async {
                if ready_store.wait_until_ready().await.is_ok() {
                    ready_flag.store(true, Ordering::SeqCst);
                    tracing::info!(secrets = ready_store.len(), "Secret cache synced");
                }
                std::future::pending::<()>().await;
            };
            tokio::select! {
                _ = stop.cancelled() => {}
                _ = run => {}
                _ = ready => {}
            }
        });
        Secrets { client, cache: Some(Cache { store, synced }) }
    }

    /// A cache over an existing store, considered synced: for tests and tools that
    /// control what the cache holds.
    pub fn from_store(client: Client, store: Store<Secret>) -> Secrets {
        Secrets { client, cache: Some(Cache { store, synced: Arc::new(AtomicBool::new(true)) }) }
    }

    /// Builds the lookup `mode` asks for.
    pub fn new(mode: SecretLookupMode, client: Client, stop: CancellationToken) -> Secrets {
        match mode {
            SecretLookupMode::Direct => Secrets::direct(client),
            SecretLookupMode::Cache => Secrets::cached(client, stop),
        }
    }

    /// Reads one Secret directly.
    pub async fn read(&self, namespace: &str, name: &str) -> Lookup {
        let api: Api<Secret> = Api::namespaced(self.client.clone(), namespace);
        match tokio::time::timeout(READ_TIMEOUT, api.get_opt(name)).await {
            Ok(Ok(Some(secret))) => found(Arc::new(secret)),
            Ok(Ok(None)) => Lookup::Missing,
            Ok(Err(e)) => Lookup::Unavailable(describe(&e)),
            Err(_) => Lookup::Unavailable(format!("no answer within {} s", READ_TIMEOUT.as_secs())),
        }
    }

    /// One Secret: from the cache when it is synced and holds it, else read directly.
    pub async fn get(&self, namespace: &str, name: &str) -> Lookup {
        match self.cached_copy(namespace, name) {
            Some(secret) => found(secret),
            None => self.read(namespace, name).await,
        }
    }

    fn cached_copy(&self, namespace: &str, name: &str) -> Option<Arc<Secret>> {
        let cache = self.cache.as_ref().filter(|c| c.synced.load(Ordering::SeqCst))?;
        cache.store.get(&ObjectRef::new(name).within(namespace))
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

    /// Whether lookups work: the cache has synced, or a read reaches the apiserver (a
    /// Secret that does not exist is a working read).
    pub async fn ready(&self) -> Result<(), String> {
        if let Some(cache) = &self.cache {
            return if cache.synced.load(Ordering::SeqCst) {
                Ok(())
            } else {
                Err("Secret cache not synced yet".into())
            };
        }
        match self.read("default", "supabase-webhook-readiness-probe").await {
            Lookup::Unavailable(reason) => Err(format!("Secret reads fail: {reason}")),
            _ => Ok(()),
        }
    }

    /// How many Secrets the cache holds (0 for direct reads).
    pub fn cached_len(&self) -> usize {
        self.cache.as_ref().map(|c| c.store.len()).unwrap_or(0)
    }

    /// Approximate bytes of Secret data the cache holds.
    pub fn cached_bytes(&self) -> usize {
        self.cache
            .as_ref()
            .map(|c| {
                c.store
                    .state()
                    .iter()
                    .map(|s| {
                        s.name_any().len()
                            + s.data.iter().flatten().map(|(k, v)| k.len() + v.0.len()).sum::<usize>()
                            + s.labels().iter().map(|(k, v)| k.len() + v.len()).sum::<usize>()
                    })
                    .sum()
            })
            .unwrap_or(0)
    }
}
