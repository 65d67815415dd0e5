//! Server-side apply with the one field manager, an owner reference to the project
//! (controller=true, so the garbage collector removes the object with the project)
//! and the `app.kubernetes.io/*` labels, whatever the renderer set.
//!
//! Writes only what changes: the apply is first sent as a dry run, and when the
//! result equals the live object (managed-field timestamps aside) nothing is written.
//! Older apiservers (1.20 among them) bump the managed-fields timestamp on a no-op
//! apply, which changes the resourceVersion, wakes every watcher and would make a
//! restarted reconciler rewrite objects nobody changed.

use std::fmt::Debug;

use crds::{MANAGER, SupabaseProject};
use k8s_openapi::NamespaceResourceScope;
use kube::api::{Api, Patch, PatchParams};
use kube::{Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::Error;
use crate::context::Context;

/// Applies `obj` in the project's namespace and returns what the apiserver stored.
pub async fn apply<K>(ctx: &Context, project: &SupabaseProject, component: &str, mut obj: K) -> Result<K, Error>
where
    K: Resource<Scope = NamespaceResourceScope, DynamicType = ()> + Serialize + DeserializeOwned + Clone + Debug,
{
    let namespace = project.namespace().ok_or_else(|| Error::Render("a project without a namespace".into()))?;
    let owner = project
        .controller_owner_ref(&())
        .ok_or_else(|| Error::Render("an owner reference for a project without a uid".into()))?;
    let meta = obj.meta_mut();
    meta.namespace = Some(namespace.clone());
    meta.owner_references = Some(vec![owner]);
    meta.resource_version = None;
    meta.managed_fields = None;
    let labels = meta.labels.get_or_insert_with(Default::default);
    for (k, v) in crds::names::labels(&project.name_any(), component) {
        labels.entry(k).or_insert(v);
    }
    let name = meta.name.clone().ok_or_else(|| Error::Render(format!("a {} object without a name", K::kind(&()))))?;
    let api: Api<K> = Api::namespaced(ctx.client.clone(), &namespace);
    let params = PatchParams::apply(MANAGER).force();
    if let Some(live) = api.get_opt(&name).await? {
        let dry = api.patch(&name, &params.clone().dry_run(), &Patch::Apply(&obj)).await?;
        if same(&live, &dry)? {
            return Ok(live);
        }
    }
    ctx.may_write()?;
    Ok(api.patch(&name, &params, &Patch::Apply(&obj)).await?)
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
