//! Read caches of the owned kinds. One label-selected watch per kind both fills the
//! cache and triggers reconciles of the owning project, so a reconcile reads what it
//! owns from memory instead of GETting it.
//!
//! A cache only moves forward, but it may lag behind our own latest write; every
//! reader that could act on a lagging view (create twice, flap a status) confirms a
//! miss with one GET (see `apply`), or, for a generated Secret, with a create that
//! fails rather than overwrite (see `secrets`).
//!
//! Each cache holds only what a reconcile reads from it: of a Service or a ConfigMap
//! its metadata (the applied hash, resourceVersion, generation), watched by metadata
//! only so the apiserver sends no more; of a Deployment a small view (see
//! `deployment_view`) decoded straight from the watch, never the pod template; of
//! any other Secret only its name and version. Pod templates and ConfigMap data are
//! most of each object and only matter when an object is verified, which reads it
//! whole from the apiserver (see `skip`). Managed fields and the last-applied
//! annotation are dropped everywhere.

use std::fmt::Debug;
use std::sync::Arc;

use futures::StreamExt;
use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{ConfigMap, PersistentVolumeClaim, PodTemplateSpec, Secret, Service};
use k8s_openapi::api::networking::v1::Ingress;
use kube::Resource;
use kube::api::Api;
use kube::core::PartialObjectMeta;
use kube::runtime::reflector::{self, ObjectRef, Store, store::Writer};
use kube::runtime::{WatchStreamExt, watcher};
use serde::de::DeserializeOwned;
use tokio::sync::OnceCell;

use crate::deployment_view::DeploymentView;
use crate::http_route::HttpRoute;
use crate::scaling_api::{Hpa, Pdb};

/// `kubectl apply`'s copy of the whole object: never read, often as large as the object.
const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// Readers of the owned-object caches.
#[derive(Clone, Debug)]
pub struct Caches {
    /// Generated Secrets.
    pub secrets: Store<Secret>,
    /// Component ConfigMaps and the db-init script, metadata only.
    pub config_maps: Store<PartialObjectMeta<ConfigMap>>,
    /// Component Services, metadata only.
    pub services: Store<PartialObjectMeta<Service>>,
    /// Component Deployments, as status and readiness read them.
    pub deployments: Store<DeploymentView>,
    /// The db-init Job.
    pub jobs: Store<Job>,
    /// Storage's volume claims, metadata only (a retained claim has no owner).
    pub claims: Store<PartialObjectMeta<PersistentVolumeClaim>>,
    /// Every Secret, metadata only: which referenced user Secret changed.
    pub all_secrets: Store<PartialObjectMeta<Secret>>,
    /// Every ConfigMap, name and version only: which Edge Functions code ConfigMap changed.
    pub all_config_maps: Store<PartialObjectMeta<ConfigMap>>,
    /// Components' PodDisruptionBudgets, metadata only.
    pub disruption_budgets: Store<PartialObjectMeta<Pdb>>,
    /// Components' HorizontalPodAutoscalers, metadata only.
    pub autoscalers: Store<PartialObjectMeta<Hpa>>,
    /// The projects' Ingresses (`spec.gateway.ingress`), metadata only.
    pub ingresses: Store<PartialObjectMeta<Ingress>>,
    /// The projects' HTTPRoutes, metadata only. Not part of [`Caches::ready`]: it fills
    /// only once the cluster serves HTTPRoutes (see `route_watch`), which may be never.
    pub http_routes: Store<PartialObjectMeta<HttpRoute>>,
    /// Whether `http_routes` holds its initial list.
    http_routes_listed: Arc<std::sync::atomic::AtomicBool>,
    /// Set once every store above holds its initial list. `Store::wait_until_ready`
    /// wakes only the last task that polled it (kube-runtime 5.0.0's `DelayedInit`
    /// keeps a single `futures` oneshot receiver, whose waker each poll replaces), so
    /// concurrent reconciles must not wait on the stores themselves: one waits, the
    /// others wait on this cell, which wakes them all.
    initialized: Arc<OnceCell<()>>,
}

/// The writing halves, consumed by [`Writers::streams`] when the controller starts.
#[derive(Debug)]
pub struct Writers {
    secrets: Writer<Secret>,
    config_maps: Writer<PartialObjectMeta<ConfigMap>>,
    services: Writer<PartialObjectMeta<Service>>,
    deployments: Writer<DeploymentView>,
    jobs: Writer<Job>,
    claims: Writer<PartialObjectMeta<PersistentVolumeClaim>>,
    all_secrets: Writer<PartialObjectMeta<Secret>>,
    all_config_maps: Writer<PartialObjectMeta<ConfigMap>>,
    disruption_budgets: Writer<PartialObjectMeta<Pdb>>,
    autoscalers: Writer<PartialObjectMeta<Hpa>>,
    ingresses: Writer<PartialObjectMeta<Ingress>>,
    http_routes: Writer<PartialObjectMeta<HttpRoute>>,
    http_routes_listed: Arc<std::sync::atomic::AtomicBool>,
}

/// Empty caches and their writers.
pub fn new() -> (Caches, Writers) {
    let (secrets, ws) = reflector::store();
    let (config_maps, wc) = reflector::store();
    let (services, wsv) = reflector::store();
    let (deployments, wd) = reflector::store();
    let (jobs, wj) = reflector::store();
    let (claims, wpvc) = reflector::store();
    let (all_secrets, wa) = reflector::store();
    let (all_config_maps, wacm) = reflector::store();
    let (disruption_budgets, wpdb) = reflector::store();
    let (autoscalers, whpa) = reflector::store();
    let (ingresses, wi) = reflector::store();
    let (http_routes, wr) = reflector::store();
    let listed = Arc::new(std::sync::atomic::AtomicBool::new(false));
    (
        Caches {
            secrets,
            config_maps,
            services,
            deployments,
            jobs,
            claims,
            all_secrets,
            all_config_maps,
            disruption_budgets,
            autoscalers,
            ingresses,
            http_routes,
            http_routes_listed: listed.clone(),
            initialized: Arc::new(OnceCell::new()),
        },
        Writers {
            secrets: ws,
            config_maps: wc,
            services: wsv,
            deployments: wd,
            jobs: wj,
            claims: wpvc,
            all_secrets: wa,
            all_config_maps: wacm,
            disruption_budgets: wpdb,
            autoscalers: whpa,
            ingresses: wi,
            http_routes: wr,
            http_routes_listed: listed,
        },
    )
}

/// A boxed stream of touched objects, as `Controller::owns_stream` takes it.
pub type Touched<K> = futures::stream::BoxStream<'static, Result<K, watcher::Error>>;

/// The trigger streams that keep the caches filled, one per kind.
#[allow(missing_debug_implementations)] // boxed streams have nothing to show
pub struct Streams {
    /// Secrets.
    pub secrets: Touched<Secret>,
    /// ConfigMaps' metadata.
    pub config_maps: Touched<PartialObjectMeta<ConfigMap>>,
    /// Services' metadata.
    pub services: Touched<PartialObjectMeta<Service>>,
    /// Deployments' views.
    pub deployments: Touched<DeploymentView>,
    /// Jobs.
    pub jobs: Touched<Job>,
    /// Volume claims' metadata.
    pub claims: Touched<PartialObjectMeta<PersistentVolumeClaim>>,
    /// Every Secret's metadata.
    pub all_secrets: Touched<PartialObjectMeta<Secret>>,
    /// Every ConfigMap's metadata.
    pub all_config_maps: Touched<PartialObjectMeta<ConfigMap>>,
    /// PodDisruptionBudgets' metadata.
    pub disruption_budgets: Touched<PartialObjectMeta<Pdb>>,
    /// HorizontalPodAutoscalers' metadata.
    pub autoscalers: Touched<PartialObjectMeta<Hpa>>,
    /// Ingresses' metadata.
    pub ingresses: Touched<PartialObjectMeta<Ingress>>,
    /// HTTPRoutes' metadata, once the cluster serves them.
    pub http_routes: Touched<PartialObjectMeta<HttpRoute>>,
}

impl Writers {
    /// Watches each owned kind with `config` (every Secret's metadata unfiltered),
    /// storing every event before passing it on. An `Api<PartialObjectMeta<K>>`
    /// lists and watches by metadata only (kube sets the Accept header from the type).
    pub fn streams(self, client: &kube::Client, ns: Option<&str>, config: &watcher::Config) -> Streams {
        Streams {
            secrets: reflect(namespaced(client, ns), config, self.secrets, strip),
            config_maps: reflect(namespaced(client, ns), config, self.config_maps, strip),
            services: reflect(namespaced(client, ns), config, self.services, strip),
            deployments: reflect(namespaced(client, ns), config, self.deployments, strip),
            jobs: reflect(namespaced(client, ns), config, self.jobs, slim_job),
            claims: reflect(namespaced(client, ns), config, self.claims, strip),
            all_secrets: reflect(namespaced(client, ns), &watcher::Config::default(), self.all_secrets, slim_meta),
            all_config_maps: reflect(
                namespaced(client, ns),
                &watcher::Config::default(),
                self.all_config_maps,
                slim_meta,
            ),
            disruption_budgets: reflect(namespaced(client, ns), config, self.disruption_budgets, strip),
            autoscalers: reflect(namespaced(client, ns), config, self.autoscalers, strip),
            ingresses: reflect(namespaced(client, ns), config, self.ingresses, strip),
            http_routes: crate::route_watch::stream(
                client.clone(),
                ns.map(str::to_string),
                config.clone(),
                self.http_routes,
                self.http_routes_listed,
            ),
        }
    }
}

pub(crate) fn namespaced<K>(client: &kube::Client, namespace: Option<&str>) -> Api<K>
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

/// Any Secret or ConfigMap, as the triggers on referenced user objects (Secrets; Edge
/// Functions' code) read it: name and version. A cluster may hold thousands of them none
/// of which a project references.
pub fn slim_meta<K>(m: &mut PartialObjectMeta<K>) {
    let meta = &mut m.metadata;
    *meta = k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
        name: meta.name.take(),
        namespace: meta.namespace.take(),
        resource_version: meta.resource_version.take(),
        uid: meta.uid.take(),
        ..Default::default()
    };
}

/// A Job as database initialization reads it: its status.
pub fn slim_job(j: &mut Job) {
    strip(j);
    if let Some(spec) = j.spec.as_mut() {
        spec.template = PodTemplateSpec::default();
    }
}

pub(crate) fn reflect<K>(api: Api<K>, config: &watcher::Config, writer: Writer<K>, slim: fn(&mut K)) -> Touched<K>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
{
    // No backoff here: the controller's trigger backoff covers every trigger stream.
    watcher(api, config.clone()).modify(slim).reflect(writer).touched_objects().boxed()
}

impl Caches {
    /// Whether the HTTPRoute cache holds its initial list (the cluster serves HTTPRoutes
    /// and the watch has listed them); until then a miss in it means nothing.
    pub fn http_routes_ready(&self) -> bool {
        self.http_routes_listed.load(std::sync::atomic::Ordering::Acquire)
    }

    /// Waits until every cache holds its initial list: before that a miss means nothing.
    pub async fn ready(&self) {
        // Only the task running the initializer polls the stores (see `initialized`);
        // should it be cancelled, the next waiter runs it and polls them itself.
        self.initialized
            .get_or_init(|| async {
                // A dropped writer means the controller is stopping; the reconcile then
                // fails on its API calls or is cancelled, so there is nothing to report.
                let _ = futures::join!(
                    self.secrets.wait_until_ready(),
                    self.config_maps.wait_until_ready(),
                    self.services.wait_until_ready(),
                    self.deployments.wait_until_ready(),
                    self.jobs.wait_until_ready(),
                    self.claims.wait_until_ready(),
                    self.all_secrets.wait_until_ready(),
                    self.all_config_maps.wait_until_ready(),
                    self.disruption_budgets.wait_until_ready(),
                    self.autoscalers.wait_until_ready(),
                    self.ingresses.wait_until_ready(),
                );
            })
            .await;
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
    use k8s_openapi::api::apps::v1::Deployment;
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

    /// Several reconciles (one per project of the controller's first list) wait at once;
    /// every one of them goes on once the caches hold their lists.
    #[tokio::test]
    async fn every_concurrent_waiter_is_woken_when_the_caches_are_ready() {
        let (caches, mut writers) = new();
        let waiters: Vec<_> = (0..3)
            .map(|_| {
                let c = caches.clone();
                tokio::spawn(async move { c.ready().await })
            })
            .collect();
        // Each waiter polls (and parks) before the lists arrive.
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        assert!(waiters.iter().all(|w| !w.is_finished()));
        writers.secrets.apply_watcher_event(&watcher::Event::InitDone);
        writers.config_maps.apply_watcher_event(&watcher::Event::InitDone);
        writers.services.apply_watcher_event(&watcher::Event::InitDone);
        writers.deployments.apply_watcher_event(&watcher::Event::InitDone);
        writers.jobs.apply_watcher_event(&watcher::Event::InitDone);
        writers.claims.apply_watcher_event(&watcher::Event::InitDone);
        writers.all_secrets.apply_watcher_event(&watcher::Event::InitDone);
        assert!(waiters.iter().all(|w| !w.is_finished()), "the ConfigMaps' list is still missing");
        writers.all_config_maps.apply_watcher_event(&watcher::Event::InitDone);
        writers.disruption_budgets.apply_watcher_event(&watcher::Event::InitDone);
        writers.autoscalers.apply_watcher_event(&watcher::Event::InitDone);
        writers.ingresses.apply_watcher_event(&watcher::Event::InitDone);
        for w in waiters {
            tokio::time::timeout(std::time::Duration::from_secs(5), w)
                .await
                .expect("a waiter was never woken")
                .unwrap();
        }
    }

    fn meta() -> k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
        k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
            name: Some("demo-kong".into()),
            namespace: Some("ns".into()),
            resource_version: Some("42".into()),
            generation: Some(3),
            annotations: Some(BTreeMap::from([(crate::skip::APPLIED_HASH_ANNOTATION.into(), "h".into())])),
            labels: Some(BTreeMap::from([("a".into(), "b".into())])),
            ..Default::default()
        }
    }

    /// `meta()` as the apiserver sends it, with managed fields and kubectl's copy.
    fn sent_meta() -> serde_json::Value {
        let mut m = serde_json::to_value(meta()).unwrap();
        m["managedFields"] = serde_json::json!([{"manager": "supabase-operator", "operation": "Apply"}]);
        m["annotations"][LAST_APPLIED] = serde_json::json!("{}");
        m
    }

    #[test]
    fn metadata_caches_keep_what_skip_and_triggers_read() {
        // What a metadata-only watch of Services or ConfigMaps delivers.
        let sent = serde_json::json!({"apiVersion": "meta.k8s.io/v1", "kind": "PartialObjectMetadata",
                                      "metadata": sent_meta()});
        let mut svc: PartialObjectMeta<Service> = serde_json::from_value(sent.clone()).unwrap();
        strip(&mut svc);
        assert_eq!(svc.metadata, meta());
        let mut cm: PartialObjectMeta<ConfigMap> = serde_json::from_value(sent).unwrap();
        strip(&mut cm);
        assert_eq!(cm.metadata, meta());

        let mut secret = PartialObjectMeta::<Secret> { metadata: meta(), ..Default::default() };
        slim_meta(&mut secret);
        assert_eq!(secret.metadata.name, meta().name);
        assert_eq!(secret.metadata.namespace, meta().namespace);
        assert_eq!(secret.metadata.resource_version, meta().resource_version);
        assert!(secret.metadata.labels.is_none() && secret.metadata.annotations.is_none());
    }

    #[test]
    fn a_cached_deployment_reads_the_same_for_status_and_readiness_as_the_whole_one() {
        let sent = serde_json::json!({
            "metadata": sent_meta(),
            "spec": {"replicas": 2, "selector": {"matchLabels": {"a": "b"}}, "template": {
                "metadata": {"labels": {"a": "b"}},
                "spec": {"containers": [{"name": "kong", "image": "kong:3", "env": [{"name": "X", "value": "y"}]}],
                         "volumes": [{"name": "v", "emptyDir": {}}]}}},
            "status": {"observedGeneration": 3, "updatedReplicas": 2, "readyReplicas": 1, "availableReplicas": 1}
        });
        let full: Deployment = serde_json::from_value(sent.clone()).unwrap();
        let mut cached: DeploymentView = serde_json::from_value(sent).unwrap();
        strip(&mut cached);
        assert_eq!(cached.metadata, meta());
        assert_eq!(crate::readiness::rollout(&cached), crate::readiness::rollout(&DeploymentView::from(&full)));
        assert!(!crate::readiness::rollout(&cached).ready);
        assert_eq!((cached.replicas, cached.image.as_deref()), (Some(2), Some("kong:3")));
    }
}
