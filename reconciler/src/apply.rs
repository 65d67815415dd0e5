//! Server-side apply with the one field manager, an owner reference to the project
//! (controller=true, so the garbage collector removes the object with the project)
//! and the `app.kubernetes.io/*` labels, whatever the renderer set.

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
    ctx.may_write()?;
    let api: Api<K> = Api::namespaced(ctx.client.clone(), &namespace);
    Ok(api.patch(&name, &PatchParams::apply(MANAGER).force(), &Patch::Apply(&obj)).await?)
}
