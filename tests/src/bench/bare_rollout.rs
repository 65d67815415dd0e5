//! The two bare clients a reconciler's rollout is measured against. Both apply the
//! objects the reconciler's own builders (`reconciler::workloads`) render for each
//! project, with server-side apply and nothing else: no status, no events, no caches.
//!
//! - [`unordered`]: every object at once, waiting for nothing. No ordered rollout can
//!   match it; it is the cost of the objects alone.
//! - [`ordered`]: per project, the generated Secrets, then each enabled component in
//!   catalog order, waiting for its Deployment to be ready (as the stand-in kubelet
//!   marks it) before the next. The floor of any ordered rollout against the same
//!   stand-in kubelet.

use std::collections::HashSet;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use crds::{CATALOG, SupabaseProject};
use futures::StreamExt;
use k8s_openapi::api::apps::v1::Deployment;
use kube::api::{Api, ApiResource, DynamicObject, Patch, PatchParams};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Client, Resource, ResourceExt};
use serde::Serialize;
use tokio::sync::{Notify, Semaphore};
use tokio_util::sync::CancellationToken;

use crate::{deployments, fixtures};

/// Field manager of both bare clients.
const MANAGER: &str = "bench-bare";

/// One object to apply.
#[derive(Clone, Debug)]
pub struct Object {
    resource: ApiResource,
    namespace: String,
    name: String,
    body: serde_json::Value,
}

/// The reconciler's annotation of what it applied (`reconciler::skip`, private there):
/// the bare objects carry one of the same size, so both send the same bytes.
const APPLIED_HASH_ANNOTATION: &str = "supabase-operator.io/applied-hash";

impl Object {
    /// `object` as the reconciler's apply sends it: namespaced, owned by `project`
    /// (controller), with its labels and an applied-hash annotation.
    fn of<K>(project: &SupabaseProject, component: &str, mut object: K) -> Object
    where
        K: Resource<DynamicType = ()> + Serialize,
    {
        let namespace = project.namespace().unwrap_or_default();
        let meta = object.meta_mut();
        meta.namespace = Some(namespace.clone());
        meta.owner_references = project.controller_owner_ref(&()).map(|o| vec![o]);
        let labels = meta.labels.get_or_insert_with(Default::default);
        for (k, v) in crds::names::labels(&project.name_any(), component) {
            labels.entry(k).or_insert(v);
        }
        meta.annotations.get_or_insert_with(Default::default).insert(APPLIED_HASH_ANNOTATION.into(), "0".repeat(64));
        let mut body = serde_json::to_value(&object).unwrap_or_default();
        // Server-side apply needs the type in the body; typed objects leave it out.
        body["apiVersion"] = K::api_version(&()).into();
        body["kind"] = K::kind(&()).into();
        Object {
            resource: ApiResource::erase::<K>(&()),
            namespace,
            name: object.meta().name.clone().unwrap_or_default(),
            body,
        }
    }

    async fn apply(&self, client: &Client) -> Result<(), kube::Error> {
        let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), &self.namespace, &self.resource);
        api.patch(&self.name, &PatchParams::apply(MANAGER).force(), &Patch::Apply(&self.body)).await.map(|_| ())
    }
}

/// One step of a project's rollout: objects to apply, then the Deployment to wait for.
#[derive(Clone, Debug)]
pub struct Step {
    /// In the order to apply them.
    pub objects: Vec<Object>,
    /// The Deployment that must be ready before the next step, if any.
    pub deployment: Option<String>,
}

/// A project's rollout as the reconciler does it: its two generated Secrets (with
/// values of the generated ones' sizes), then each enabled component's ConfigMaps,
/// Service and Deployment, in catalog order.
pub fn plan(project: &SupabaseProject) -> Vec<Step> {
    let name = project.name_any();
    let (anon, service) = fixtures::jwt_keys(fixtures::JWT_SECRET);
    let secret_data = [
        (
            crds::names::jwt_secret(&name),
            vec![("secret", fixtures::JWT_SECRET), ("anonKey", anon.as_str()), ("serviceKey", service.as_str())],
        ),
        (
            crds::names::internal_secret(&name),
            vec![
                ("secretKeyBase", fixtures::SECRET_KEY_BASE),
                ("dbEncKey", fixtures::DB_ENC_KEY),
                ("cryptoKey", fixtures::CRYPTO_KEY),
            ],
        ),
    ];
    let secrets = secret_data
        .iter()
        .map(|(secret_name, data)| Object::of(project, "secrets", fixtures::secret(secret_name, data)))
        .collect();
    let mut steps = vec![Step { objects: secrets, deployment: None }];
    for entry in CATALOG.iter().filter(|e| project.spec.enabled(e.component)) {
        // The same builder the reconciler uses; the hash only has to be stable.
        let Ok(rendered) = reconciler::workloads::component(project, entry.component, "bench") else {
            panic!("cannot render {} of {name}", entry.name);
        };
        let deployment = rendered.deployment.metadata.name.clone();
        let mut objects: Vec<Object> =
            rendered.config_maps.into_iter().map(|cm| Object::of(project, entry.name, cm)).collect();
        objects.push(Object::of(project, entry.name, rendered.service));
        objects.push(Object::of(project, entry.name, rendered.deployment));
        steps.push(Step { objects, deployment });
    }
    steps
}

/// What a bare run did.
#[derive(Clone, Copy, Debug)]
pub struct Outcome {
    /// From the first write until the last project was done.
    pub elapsed: Duration,
    /// Objects applied.
    pub objects: usize,
}

/// Every object of every project at once (`concurrency` requests in flight), waiting
/// for nothing.
pub async fn unordered(client: &Client, projects: &[SupabaseProject], concurrency: usize) -> Outcome {
    let objects: Vec<Object> = projects.iter().flat_map(plan).flat_map(|s| s.objects).collect();
    let count = objects.len();
    let started = Instant::now();
    futures::stream::iter(objects)
        .for_each_concurrent(concurrency, |o| async move {
            if let Err(e) = o.apply(client).await {
                panic!("bare apply of {}/{}: {e}", o.resource.plural, o.name);
            }
        })
        .await;
    Outcome { elapsed: started.elapsed(), objects: count }
}

/// Deployments of a namespace that the watch has seen ready.
#[derive(Default)]
struct Ready {
    names: Mutex<HashSet<String>>,
    changed: Notify,
}

impl Ready {
    fn contains(&self, name: &str) -> bool {
        self.names.lock().unwrap_or_else(PoisonError::into_inner).contains(name)
    }

    /// Follows every Deployment of `namespace` until `stop`: one watch for all
    /// projects, as a controller has, rather than one per wait.
    async fn follow(&self, client: Client, namespace: &str, stop: CancellationToken) {
        let api: Api<Deployment> = Api::namespaced(client, namespace);
        let stream = watcher(api, watcher::Config::default()).applied_objects().take_until(stop.cancelled_owned());
        tokio::pin!(stream);
        while let Some(next) = stream.next().await {
            let Ok(d) = next else { continue };
            if deployments::rolled_out(&d) {
                self.names.lock().unwrap_or_else(PoisonError::into_inner).insert(d.name_any());
                self.changed.notify_waiters();
            }
        }
    }

    async fn wait(&self, name: &str) {
        loop {
            // Registered before looking, so a change between the look and the wait is not missed.
            let changed = self.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            if self.contains(name) {
                return;
            }
            changed.await;
        }
    }
}

/// Every project at once, each rolled out step by step: a step's objects applied in
/// order, then its Deployment waited for (through one shared watch of `namespace`).
///
/// At most `concurrency` projects are applying at any moment; a project waiting for
/// readiness holds no slot. That is what the reconciler's concurrency bounds too (the
/// reconciles running, not the projects waiting), so this stays a floor for it.
pub async fn ordered(client: &Client, namespace: &str, projects: &[SupabaseProject], concurrency: usize) -> Outcome {
    let plans: Vec<Vec<Step>> = projects.iter().map(plan).collect();
    let count = plans.iter().flatten().map(|s| s.objects.len()).sum();
    let ready = Ready::default();
    let stop = CancellationToken::new();
    let slots = Semaphore::new(concurrency.max(1));
    let started = Instant::now();
    let rollout = async {
        let (slots, ready) = (&slots, &ready);
        futures::future::join_all(plans.iter().map(|steps| async move {
            for step in steps {
                {
                    let Ok(_slot) = slots.acquire().await else { return };
                    for o in &step.objects {
                        if let Err(e) = o.apply(client).await {
                            panic!("bare apply of {}/{}: {e}", o.resource.plural, o.name);
                        }
                    }
                }
                if let Some(d) = &step.deployment {
                    ready.wait(d).await;
                }
            }
        }))
        .await;
        let elapsed = started.elapsed();
        stop.cancel();
        elapsed
    };
    let (elapsed, ()) = tokio::join!(rollout, ready.follow(client.clone(), namespace, stop.clone()));
    Outcome { elapsed, objects: count }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn project(studio: bool) -> SupabaseProject {
        let text = std::fs::read_to_string(crate::repo_path("config/samples/minimal.yaml")).expect("sample");
        let mut p: SupabaseProject = serde_yaml::from_str(&text).expect("sample parses");
        p.metadata.namespace = Some("ns".into());
        p.metadata.uid = Some("uid-1".into());
        p.spec = crds::defaults(p.spec);
        if let Some(s) = p.spec.components.as_mut().and_then(|c| c.studio.as_mut()) {
            s.enabled = Some(studio);
        }
        p
    }

    fn kinds(step: &Step) -> Vec<String> {
        step.objects.iter().map(|o| o.resource.kind.clone()).collect()
    }

    #[test]
    fn secrets_first_then_each_enabled_component_in_catalog_order_ending_with_its_deployment() {
        let steps = plan(&project(false));
        assert_eq!(steps.len(), 1 + 6);
        assert_eq!(kinds(&steps[0]), ["Secret", "Secret"]);
        assert_eq!(steps[0].deployment, None);
        let waited: Vec<_> = steps[1..].iter().map(|s| s.deployment.clone().unwrap_or_default()).collect();
        assert_eq!(waited, ["demo-kong", "demo-auth", "demo-rest", "demo-realtime", "demo-storage", "demo-meta"]);
        for s in &steps[1..] {
            let k = kinds(s);
            assert_eq!(k[k.len() - 2..], ["Service", "Deployment"]);
            assert!(k[..k.len() - 2].iter().all(|k| k == "ConfigMap"), "{k:?}");
            assert_eq!(s.objects.last().map(|o| &o.name), s.deployment.as_ref());
        }
        assert_eq!(steps.iter().map(|s| s.objects.len()).sum::<usize>(), 2 + 6 * 2 + 1);
        assert_eq!(plan(&project(true)).last().and_then(|s| s.deployment.clone()).as_deref(), Some("demo-studio"));
    }

    #[test]
    fn every_object_is_typed_namespaced_and_owned_by_the_project() {
        for o in plan(&project(false)).iter().flat_map(|s| &s.objects) {
            assert_eq!(o.namespace, "ns");
            assert_eq!(o.body["kind"], o.resource.kind.as_str());
            assert_eq!(o.body["apiVersion"], o.resource.api_version.as_str());
            assert_eq!(o.body["metadata"]["ownerReferences"][0]["uid"], "uid-1", "{}", o.name);
            assert_eq!(o.body["metadata"]["namespace"], "ns", "{}", o.name);
            assert_eq!(o.body["metadata"]["labels"]["app.kubernetes.io/instance"], "demo", "{}", o.name);
        }
    }
}
