//! Server-side apply with the one field manager, an owner reference to the project
//! (controller=true, so the garbage collector removes the object with the project)
//! and the `app.kubernetes.io/*` labels, whatever the renderer set.
//!
//! Writes only what changes, and in the common case without any API call: see
//! `skip` for the decision from the cached live object, the applied-hash annotation
//! and what this process last wrote. Older apiservers (1.20 among them) bump the managed-fields timestamp
//! on a no-op apply, which changes the resourceVersion, wakes every watcher and would
//! make a restarted reconciler rewrite objects nobody changed.

use std::fmt::Debug;

use crds::{MANAGER, SupabaseProject};
use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{ConfigMap, PersistentVolumeClaim, Secret, Service};
use k8s_openapi::api::networking::v1::Ingress;
use kube::api::{Api, Patch, PatchParams};
use kube::core::{PartialObjectMeta, PartialObjectMetaExt};
use kube::runtime::reflector::Store;
use kube::{Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::Error;
use crate::cache::{self, Caches};
use crate::context::Context;
use crate::deployment_view::DeploymentView;
use crate::http_route::HttpRoute;
use crate::key;
use crate::skip::{self, APPLIED_HASH_ANNOTATION, Live, Seen, Step};

/// A kind the reconciler owns, with its cache.
pub trait Owned:
    Resource<Scope = NamespaceResourceScope, DynamicType = ()> + Serialize + DeserializeOwned + Clone + Debug + 'static
{
    /// What the cache holds of this kind: all a reconcile reads of it (see `cache`).
    type Cached: Resource<Scope = NamespaceResourceScope, DynamicType = ()> + DeserializeOwned + Clone + Debug + 'static;
    /// This kind's cache.
    fn store(caches: &Caches) -> &Store<Self::Cached>;
    /// The cached form of a whole object, as read or written.
    fn cached(self) -> Self::Cached;
}

impl Owned for Secret {
    type Cached = Self;
    fn store(c: &Caches) -> &Store<Self> {
        &c.secrets
    }
    fn cached(self) -> Self {
        self
    }
}
impl Owned for ConfigMap {
    type Cached = PartialObjectMeta<Self>;
    fn store(c: &Caches) -> &Store<Self::Cached> {
        &c.config_maps
    }
    fn cached(self) -> Self::Cached {
        self.metadata.into_response_partial()
    }
}
impl Owned for Service {
    type Cached = PartialObjectMeta<Self>;
    fn store(c: &Caches) -> &Store<Self::Cached> {
        &c.services
    }
    fn cached(self) -> Self::Cached {
        self.metadata.into_response_partial()
    }
}
impl Owned for Deployment {
    type Cached = DeploymentView;
    fn store(c: &Caches) -> &Store<Self::Cached> {
        &c.deployments
    }
    fn cached(self) -> Self::Cached {
        DeploymentView::from(&self)
    }
}
impl Owned for PersistentVolumeClaim {
    type Cached = PartialObjectMeta<Self>;
    fn store(c: &Caches) -> &Store<Self::Cached> {
        &c.claims
    }
    fn cached(self) -> Self::Cached {
        self.metadata.into_response_partial()
    }
}
impl Owned for Job {
    type Cached = Self;
    fn store(c: &Caches) -> &Store<Self> {
        &c.jobs
    }
    fn cached(self) -> Self {
        self
    }
}

impl Owned for Ingress {
    type Cached = PartialObjectMeta<Self>;
    fn store(c: &Caches) -> &Store<Self::Cached> {
        &c.ingresses
    }
    fn cached(self) -> Self::Cached {
        self.metadata.into_response_partial()
    }
}
impl Owned for HttpRoute {
    type Cached = PartialObjectMeta<Self>;
    fn store(c: &Caches) -> &Store<Self::Cached> {
        &c.http_routes
    }
    fn cached(self) -> Self::Cached {
        self.metadata.into_response_partial()
    }
}

fn memo_key<K: Owned>(name: &str) -> String {
    format!("{}/{name}", K::kind(&()))
}

fn seen_of<K: Resource>(obj: &K, hash: &str) -> Seen {
    Seen { hash: hash.to_string(), resource_version: obj.resource_version(), generation: obj.meta().generation }
}

fn live_of<K: Resource>(obj: &K) -> Live<'_> {
    let meta = obj.meta();
    Live {
        hash: meta.annotations.as_ref().and_then(|a| a.get(APPLIED_HASH_ANNOTATION)).map(String::as_str),
        resource_version: meta.resource_version.as_deref(),
        generation: meta.generation,
    }
}

/// Reads an owned object from the cache; a miss is confirmed with a GET only when
/// this process wrote the object (the cache may not have seen it yet). The GET reads
/// the cached form too (a Deployment's view decodes from the whole object's JSON, a
/// Service's metadata is all the apiserver sends).
pub async fn read<K: Owned>(ctx: &Context, project: &SupabaseProject, name: &str) -> Result<Option<K::Cached>, Error> {
    let namespace = project.namespace().unwrap_or_default();
    if let Some(obj) = cache::get(K::store(&ctx.caches), &namespace, name) {
        return Ok(Some(obj.as_ref().clone()));
    }
    let (pk, uid) = (key::of(project), project.uid().unwrap_or_default());
    if ctx.memo.seen(&pk, &uid, &memo_key::<K>(name)).is_none() {
        return Ok(None);
    }
    let live = Api::<K::Cached>::namespaced(ctx.client.clone(), &namespace).get_opt(name).await?;
    if live.is_none() {
        ctx.memo.set_seen(&pk, &uid, &memo_key::<K>(name), None);
    }
    Ok(live)
}

/// Whether an applied object carries the project's owner reference.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ownership {
    /// Owned: garbage-collected with the project (everything but a retained claim).
    Owned,
    /// Not owned: it outlives the project. Applying it without the reference drops one
    /// an earlier apply set.
    Unowned,
}

/// Applies `obj` in the project's namespace when it differs from the live object,
/// and returns the live object in its cached form (as stored after the apply, if one
/// was needed).
pub async fn apply<K: Owned>(
    ctx: &Context,
    project: &SupabaseProject,
    component: &str,
    obj: K,
) -> Result<K::Cached, Error> {
    apply_as(ctx, project, component, obj, Ownership::Owned).await
}

/// [`apply`], with or without the owner reference.
pub async fn apply_as<K: Owned>(
    ctx: &Context,
    project: &SupabaseProject,
    component: &str,
    mut obj: K,
    ownership: Ownership,
) -> Result<K::Cached, Error> {
    let namespace = project.namespace().ok_or_else(|| Error::Render("a project without a namespace".into()))?;
    let owner = project
        .controller_owner_ref(&())
        .ok_or_else(|| Error::Render("an owner reference for a project without a uid".into()))?;
    let meta = obj.meta_mut();
    meta.namespace = Some(namespace.clone());
    meta.owner_references = (ownership == Ownership::Owned).then(|| vec![owner]);
    meta.resource_version = None;
    meta.managed_fields = None;
    let labels = meta.labels.get_or_insert_with(Default::default);
    for (k, v) in crds::names::labels(&project.name_any(), component) {
        labels.entry(k).or_insert(v);
    }
    if let Some(a) = meta.annotations.as_mut() {
        a.remove(APPLIED_HASH_ANNOTATION);
    }
    let name = meta.name.clone().ok_or_else(|| Error::Render(format!("a {} object without a name", K::kind(&()))))?;
    let serialized = serde_json::to_vec(&obj).map_err(|e| Error::Render(format!("cannot serialize {name}: {e}")))?;
    let hash = skip::digest(&serialized);
    obj.meta_mut()
        .annotations
        .get_or_insert_with(Default::default)
        .insert(APPLIED_HASH_ANNOTATION.into(), hash.clone());

    let (pk, uid, mk) = (key::of(project), project.uid().unwrap_or_default(), memo_key::<K>(&name));
    let api: Api<K> = Api::namespaced(ctx.client.clone(), &namespace);
    let seen = ctx.memo.seen(&pk, &uid, &mk);
    // What the cache shows decides; a whole object is read only to confirm or verify.
    let mut live = cache::get(K::store(&ctx.caches), &namespace, &name).map(|o| o.as_ref().clone());
    // The whole object just read from the apiserver, when `live` is its cached form.
    let mut fetched: Option<Option<K>> = None;
    loop {
        match skip::decide(&hash, live.as_ref().map(live_of), seen.as_ref(), fetched.is_some()) {
            Step::Skip => {
                if let Some(l) = live {
                    return Ok(l);
                }
            }
            Step::Confirm => {
                let whole = api.get_opt(&name).await?;
                live = whole.clone().map(K::cached);
                fetched = Some(whole);
                continue;
            }
            Step::Verify => {
                // The cached form leaves most of the object out: compare the whole one.
                let whole = match fetched.take() {
                    Some(whole) => whole,
                    None => api.get_opt(&name).await?,
                };
                if let Some(l) = whole {
                    let params = PatchParams::apply(MANAGER).force().dry_run();
                    let dry = api.patch(&name, &params, &Patch::Apply(&obj)).await?;
                    if same(&l, &dry)? {
                        ctx.memo.set_seen(&pk, &uid, &mk, Some(seen_of(&l, &hash)));
                        return Ok(l.cached());
                    }
                }
            }
            Step::Apply => {}
        }
        break;
    }
    ctx.may_write()?;
    let stored = api.patch(&name, &PatchParams::apply(MANAGER).force(), &Patch::Apply(&obj)).await?;
    ctx.memo.set_seen(&pk, &uid, &mk, Some(seen_of(&stored, &hash)));
    Ok(stored.cached())
}

/// Whether two versions of an object are equal but for their managed fields.
fn same<K: Resource + Serialize + Clone>(a: &K, b: &K) -> Result<bool, Error> {
    let strip = |o: &K| {
        let mut o = o.clone();
        o.meta_mut().managed_fields = None;
        serde_json::to_value(&o).map_err(|e| Error::Render(format!("cannot compare objects: {e}")))
    };
    Ok(strip(a)? == strip(b)?)
}
