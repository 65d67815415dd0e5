//! Read caches of the owned kinds. One label-selected watch per kind both fills the
//! cache and triggers reconciles of the owning project, so a reconcile reads what it
//! owns from memory instead of GETting it.
//!
//! A cache only moves forward, but it may lag behind our own latest write; every
//! reader that could act on a lagging view (create twice, flap a status) confirms a
//! miss with one GET (see `apply` and `secrets`). Managed fields and the
//! last-applied annotation are dropped before storing: nothing reads them and they
//! are a large share of each object.

use std::fmt::Debug;

use futures::StreamExt;
use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{ConfigMap, Secret, Service};
use kube::Resource;
use kube::api::Api;
use kube::runtime::reflector::{self, ObjectRef, Store, store::Writer};
use kube::runtime::{WatchStreamExt, watcher};
use serde::de::DeserializeOwned;

/// `kubectl apply`'s copy of the whole object: never read, often as large as the object.
const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// Readers of the owned-object caches.
#[derive(Clone, Debug)]
pub struct Caches {
    /// Generated Secrets.
    pub secrets: Store<Secret>,
    /// Component ConfigMaps and the db-init script.
    pub config_maps: Store<ConfigMap>,
    /// Component Services.
    pub services: Store<Service>,
    /// Component Deployments.
    pub deployments: Store<Deployment>,
    /// The db-init Job.
    pub jobs: Store<Job>,
}

/// The writing halves, consumed by [`Writers::streams`] when the controller starts.
#[derive(Debug)]
pub struct Writers {
    secrets: Writer<Secret>,
    config_maps: Writer<ConfigMap>,
    services: Writer<Service>,
    deployments: Writer<Deployment>,
    jobs: Writer<Job>,
}

/// Empty caches and their writers.
pub fn new() -> (Caches, Writers) {
    let (secrets, ws) = reflector::store();
    let (config_maps, wc) = reflector::store();
    let (services, wsv) = reflector::store();
    let (deployments, wd) = reflector::store();
    let (jobs, wj) = reflector::store();
    (
        Caches { secrets, config_maps, services, deployments, jobs },
        Writers { secrets: ws, config_maps: wc, services: wsv, deployments: wd, jobs: wj },
    )
}

/// A boxed stream of touched objects, as `Controller::owns_stream` takes it.
pub type Touched<K> = futures::stream::BoxStream<'static, Result<K, watcher::Error>>;

/// The trigger streams that keep the caches filled, one per kind.
#[allow(missing_debug_implementations)] // boxed streams have nothing to show
pub struct Streams {
    /// Secrets.
    pub secrets: Touched<Secret>,
    /// ConfigMaps.
    pub config_maps: Touched<ConfigMap>,
    /// Services.
    pub services: Touched<Service>,
    /// Deployments.
    pub deployments: Touched<Deployment>,
    /// Jobs.
    pub jobs: Touched<Job>,
}

impl Writers {
    /// Watches each kind with `config`, storing every event before passing it on.
    pub fn streams(self, client: &kube::Client, ns: Option<&str>, config: &watcher::Config) -> Streams {
        Streams {
            secrets: reflect(namespaced(client, ns), config, self.secrets),
            config_maps: reflect(namespaced(client, ns), config, self.config_maps),
            services: reflect(namespaced(client, ns), config, self.services),
            deployments: reflect(namespaced(client, ns), config, self.deployments),
            jobs: reflect(namespaced(client, ns), config, self.jobs),
        }
    }
}

fn namespaced<K>(client: &kube::Client, namespace: Option<&str>) -> Api<K>
where
    K: Resource<DynamicType = (), Scope = NamespaceResourceScope>,
{
    match namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    }
}

/// Drops what no reader needs from an object before it is cached.
pub fn strip<K: Resource>(obj: &mut K) {
    let meta = obj.meta_mut();
    meta.managed_fields = None;
    if let Some(a) = meta.annotations.as_mut() {
        a.remove(LAST_APPLIED);
    }
}

fn reflect<K>(api: Api<K>, config: &watcher::Config, writer: Writer<K>) -> Touched<K>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
{
    // No backoff here: the controller's trigger backoff covers every trigger stream.
    watcher(api, config.clone()).modify(strip).reflect(writer).touched_objects().boxed()
}

impl Caches {
    /// Waits until every cache holds its initial list: before that a miss means nothing.
    pub async fn ready(&self) {
        // A dropped writer means the controller is stopping; the reconcile then fails on
        // its API calls or is cancelled, so there is nothing to report here.
        let _ = futures::join!(
            self.secrets.wait_until_ready(),
            self.config_maps.wait_until_ready(),
            self.services.wait_until_ready(),
            self.deployments.wait_until_ready(),
            self.jobs.wait_until_ready(),
        );
    }
}

/// The cached object `name` in `namespace`, if any.
pub fn get<K>(store: &Store<K>, namespace: &str, name: &str) -> Option<std::sync::Arc<K>>
where
    K: Resource<DynamicType = ()> + Clone,
{
    store.get(&ObjectRef::new(name).within(namespace))
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ManagedFieldsEntry;
    use std::collections::BTreeMap;

    #[test]
    fn strip_drops_managed_fields_and_the_last_applied_copy_only() {
        let mut cm = ConfigMap::default();
        cm.metadata.managed_fields = Some(vec![ManagedFieldsEntry::default()]);
        cm.metadata.annotations =
            Some(BTreeMap::from([(LAST_APPLIED.to_string(), "{}".to_string()), ("keep".to_string(), "x".to_string())]));
        strip(&mut cm);
        assert!(cm.metadata.managed_fields.is_none());
        assert_eq!(cm.metadata.annotations, Some(BTreeMap::from([("keep".to_string(), "x".to_string())])));
    }
}
