//! The ordered rollout: components in catalog order, each applied only once the one
//! before it is ready. A component whose objects are unchanged is passed over without
//! a write (see `skip`), so a spec change rolls the first changed component, waits
//! for it, and moves on in the same order. Readiness is read from the Deployment as
//! just applied, or from the cache.

use std::collections::BTreeSet;

use crds::{CATALOG, Component, SupabaseProject};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Service};
use kube::ResourceExt;
use kube::api::{Api, DeleteParams, ListParams};

use crate::Error;
use crate::apply::{apply, read};
use crate::cache;
use crate::context::Context;
use crate::hash;
use crate::observation::Observed;
use crate::readiness;
use crate::secret_data::SecretData;
use crate::workloads;

fn enabled(project: &SupabaseProject) -> impl Iterator<Item = Component> + '_ {
    CATALOG.iter().map(|e| e.component).filter(|c| project.spec.enabled(*c))
}

/// Reads the Deployments of the enabled components without writing anything.
pub async fn observe(ctx: &Context, project: &SupabaseProject) -> Result<Vec<Observed>, Error> {
    let mut out = Vec::new();
    for c in enabled(project) {
        let deployment = read::<Deployment>(ctx, project, &crds::names::component(&project.name_any(), c)).await?;
        out.push(Observed { component: c, deployment });
    }
    Ok(out)
}

/// Applies components in order up to the first one that is not ready, and observes
/// the rest. A component in `held` (its database lacks a hard prerequisite) is passed
/// over untouched and does not stop the ones after it. Removes the objects of
/// components that were disabled.
pub async fn roll(
    ctx: &Context,
    project: &SupabaseProject,
    secrets: &SecretData,
    held: &BTreeSet<Component>,
) -> Result<Vec<Observed>, Error> {
    let name = project.name_any();
    // Only a component the last status listed can have objects to remove; this spares
    // a disabled Studio three API calls on every reconcile.
    let listed = |c: Component| project.status.as_ref().is_some_and(|s| s.components.contains_key(c.name()));
    for e in CATALOG.iter().filter(|e| !project.spec.enabled(e.component) && listed(e.component)) {
        remove(ctx, project, e.component).await?;
    }
    let mut out = Vec::new();
    let mut blocked = false;
    for c in enabled(project) {
        if blocked || held.contains(&c) {
            let deployment = read::<Deployment>(ctx, project, &crds::names::component(&name, c)).await?;
            out.push(Observed { component: c, deployment });
            continue;
        }
        // The ConfigMaps feed the hash that goes into the pod template: render once to
        // learn them, then again with the hash.
        let draft = workloads::component(project, c, "")?;
        let mut maps = draft.config_maps.clone();
        // Edge Functions roll when their code ConfigMap changes (a missing one hashes as
        // absent, so its creation rolls them too; the pods wait for it meanwhile).
        if let Some(code) = crds::functions_rules::code_config_map(&project.spec).filter(|_| c == Component::Functions)
        {
            maps.extend(read_user_config_map(ctx, project, code).await?);
        }
        let digest = hash::config_hash(project, c, secrets, &maps);
        let objects = workloads::component(project, c, &digest)?;
        for cm in objects.config_maps {
            apply(ctx, project, c.name(), cm).await?;
        }
        apply(ctx, project, c.name(), objects.service).await?;
        // The claim first: a pod whose claim does not exist yet is not scheduled.
        if let Some(claim) = &objects.claim {
            crate::claim::ensure(ctx, project, claim).await?;
        }
        crate::scaling::before_deployment(ctx, project, c, &objects.deployment).await?;
        let deployment = apply(ctx, project, c.name(), objects.deployment).await?;
        crate::scaling::after_deployment(ctx, project, c).await?;
        blocked = !readiness::rollout(&deployment).ready;
        out.push(Observed { component: c, deployment: Some(deployment) });
    }
    Ok(out)
}

/// The user's ConfigMap `name`, as the metadata cache of every ConfigMap knows it: absent
/// there is absent, and its data is read from the apiserver once per resourceVersion (the
/// mechanism that spares the Secrets' reads, `secret_data::ByVersion`), not per reconcile.
async fn read_user_config_map(
    ctx: &Context,
    project: &SupabaseProject,
    name: &str,
) -> Result<Option<ConfigMap>, Error> {
    let namespace = project.namespace().unwrap_or_default();
    let key = format!("{namespace}/{name}");
    let Some(version) = cache::get(&ctx.caches.all_config_maps, &namespace, name).and_then(|m| m.resource_version())
    else {
        ctx.user_config_maps.put(key, None);
        return Ok(None);
    };
    if let Some(held) = ctx.user_config_maps.get(&key, &version) {
        return Ok(Some(held));
    }
    let api: Api<ConfigMap> = Api::namespaced(ctx.client.clone(), &namespace);
    let read = api.get_opt(name).await?;
    let version_read = read.as_ref().and_then(|m| m.resource_version());
    ctx.user_config_maps.put(key, read.clone().zip(version_read).map(|(m, v)| (v, m)));
    Ok(read)
}

/// Deletes a disabled component's Deployment, Service and ConfigMaps, if this project owns them.
async fn remove(ctx: &Context, project: &SupabaseProject, component: Component) -> Result<(), Error> {
    let namespace = project.namespace().unwrap_or_default();
    let object = crds::names::component(&project.name_any(), component);
    let uid = project.uid().unwrap_or_default();
    let owned = |refs: &[k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference]| {
        refs.iter().any(|r| r.uid == uid && r.controller == Some(true))
    };
    let deployments: Api<Deployment> = Api::namespaced(ctx.client.clone(), &namespace);
    let services: Api<Service> = Api::namespaced(ctx.client.clone(), &namespace);
    let maps: Api<ConfigMap> = Api::namespaced(ctx.client.clone(), &namespace);
    let selector =
        format!("app.kubernetes.io/instance={},app.kubernetes.io/component={}", project.name_any(), component.name());
    let dp = DeleteParams::background();
    if let Some(d) = deployments.get_opt(&object).await?
        && owned(d.owner_references())
    {
        ctx.may_write()?;
        deployments.delete(&object, &dp).await?;
    }
    if let Some(s) = services.get_opt(&object).await?
        && owned(s.owner_references())
    {
        ctx.may_write()?;
        services.delete(&object, &dp).await?;
    }
    for cm in maps.list(&ListParams::default().labels(&selector)).await? {
        if owned(cm.owner_references()) {
            ctx.may_write()?;
            maps.delete(&cm.name_any(), &dp).await?;
        }
    }
    crate::scaling::remove(ctx, project, component).await
}
