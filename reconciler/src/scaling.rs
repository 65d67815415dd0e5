//! A component's scaling objects in the rollout: its PodDisruptionBudget and
//! HorizontalPodAutoscaler (rendered in `workloads::scaling`), and the hand-over of
//! the Deployment's `replicas` to the autoscaler.
//!
//! The hand-over. With an autoscaler the reconciler applies the Deployment without
//! `replicas`. A field left out of an apply is removed (and `replicas` reset to its
//! default, 1) when the applier was its only owner, which the reconciler is after
//! applying fixed replicas: the autoscaler's writes through the scale subresource do not
//! always take ownership over (not on 1.20). Kubernetes' documented transfer ("Transferring
//! ownership", Server-Side Apply, kubernetes.io/docs/reference/using-api/server-side-apply/)
//! is for a second applier to apply `replicas` alone with its current value first, and
//! only then to drop it from the main configuration; the second applier owns nothing else
//! and its entry disappears once the autoscaler changes the value. So before the first
//! apply without `replicas`, when the reconciler's field manager owns `spec.replicas`,
//! [`HANDOVER_MANAGER`] applies the current value. The Deployment an apply without
//! `replicas` leaves carries `supabase-operator.io/replicas: autoscaler`, so this is
//! looked at once per switch, not on every reconcile.

use crds::{Component, MANAGER, SupabaseProject};
use k8s_openapi::api::apps::v1::Deployment;
use kube::api::{Api, DeleteParams, Patch, PatchParams};
use kube::{Resource, ResourceExt};
use serde_json::json;

use crate::Error;
use crate::apply::{Owned, apply, read};
use crate::cache;
use crate::context::Context;
use crate::scaling_api::{Hpa, Pdb};
use crate::workloads::{self, AUTOSCALER, REPLICAS_ANNOTATION};

/// Field manager of the one-off apply that keeps `replicas` while the reconciler lets go
/// of it.
pub const HANDOVER_MANAGER: &str = "supabase-operator-handover";

/// Before the component's Deployment is applied: hands `replicas` over when the
/// Deployment is about to leave it to an autoscaler, and removes an autoscaler the spec
/// no longer has (before `replicas` is set again, so the two do not take turns).
pub async fn before_deployment(
    ctx: &Context,
    project: &SupabaseProject,
    component: Component,
    desired: &Deployment,
) -> Result<(), Error> {
    let name = crds::names::component(&project.name_any(), component);
    let autoscaled = desired.spec.as_ref().is_some_and(|s| s.replicas.is_none());
    if !autoscaled {
        return delete::<Hpa>(ctx, project, &name).await;
    }
    let Some(live) = read::<Deployment>(ctx, project, &name).await? else { return Ok(()) };
    let handed = live.metadata.annotations.as_ref().and_then(|a| a.get(REPLICAS_ANNOTATION));
    if handed.is_some_and(|v| v == AUTOSCALER) {
        return Ok(());
    }
    // The cached view has no managed fields: read the whole object, once per switch.
    let api: Api<Deployment> = Api::namespaced(ctx.client.clone(), &project.namespace().unwrap_or_default());
    let Some(whole) = api.get_opt(&name).await? else { return Ok(()) };
    if !applies_replicas(&whole) {
        return Ok(());
    }
    let replicas = whole.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
    let keep = json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {"replicas": replicas},
    });
    ctx.may_write()?;
    // No force: a conflict means someone changed `replicas` since the read (the
    // autoscaler); the reconcile fails and the next one reads again.
    api.patch(&name, &PatchParams::apply(HANDOVER_MANAGER), &Patch::Apply(&keep)).await?;
    Ok(())
}

/// After the component's Deployment is applied: its autoscaler, and its disruption
/// budget from two pods on (removed below that).
pub async fn after_deployment(ctx: &Context, project: &SupabaseProject, component: Component) -> Result<(), Error> {
    let scaling = workloads::scaling(project, component)?;
    let name = crds::names::component(&project.name_any(), component);
    if let Some(hpa) = scaling.autoscaler {
        apply(ctx, project, component.name(), hpa).await?;
    }
    match scaling.disruption_budget {
        Some(pdb) => {
            apply(ctx, project, component.name(), pdb).await?;
        }
        None => delete::<Pdb>(ctx, project, &name).await?,
    }
    Ok(())
}

/// A disabled component's scaling objects go with its Deployment.
pub async fn remove(ctx: &Context, project: &SupabaseProject, component: Component) -> Result<(), Error> {
    let name = crds::names::component(&project.name_any(), component);
    delete::<Hpa>(ctx, project, &name).await?;
    delete::<Pdb>(ctx, project, &name).await
}

/// Whether the reconciler's own apply owns `spec.replicas`.
fn applies_replicas(d: &Deployment) -> bool {
    d.metadata.managed_fields.iter().flatten().any(|m| {
        m.manager.as_deref() == Some(MANAGER)
            && m.operation.as_deref() == Some("Apply")
            && m.fields_v1.as_ref().is_some_and(|f| f.0.pointer("/f:spec/f:replicas").is_some())
    })
}

/// Deletes the project's object `name` of kind `K` when the cache shows one it owns:
/// nothing is asked of the apiserver for the common case of no such object.
async fn delete<K: Owned>(ctx: &Context, project: &SupabaseProject, name: &str) -> Result<(), Error> {
    let namespace = project.namespace().unwrap_or_default();
    let Some(live) = cache::get(K::store(&ctx.caches), &namespace, name) else { return Ok(()) };
    let uid = project.uid().unwrap_or_default();
    if !live.meta().owner_references.iter().flatten().any(|r| r.uid == uid && r.controller == Some(true)) {
        return Ok(());
    }
    ctx.may_write()?;
    let api: Api<K> = Api::namespaced(ctx.client.clone(), &namespace);
    match api.delete(name, &DeleteParams::background()).await {
        // The cache lags a deletion already done.
        Err(kube::Error::Api(e)) if e.code == 404 => Ok(()),
        Err(e) => Err(e.into()),
        Ok(_) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::applies_replicas;
    use k8s_openapi::api::apps::v1::Deployment;
    use serde_json::json;

    fn with(managed: serde_json::Value) -> Deployment {
        serde_json::from_value(json!({"metadata": {"name": "d", "managedFields": managed}})).unwrap()
    }

    #[test]
    fn only_the_reconcilers_own_apply_of_replicas_counts() {
        let entry = |manager: &str, operation: &str, fields: serde_json::Value| json!({"manager": manager, "operation": operation, "fieldsType": "FieldsV1", "fieldsV1": fields});
        let replicas = json!({"f:spec": {"f:replicas": {}, "f:template": {}}});
        let template = json!({"f:spec": {"f:template": {}}});
        assert!(applies_replicas(&with(json!([entry("supabase-operator", "Apply", replicas.clone())]))));
        assert!(!applies_replicas(&with(json!([entry("supabase-operator", "Apply", template)]))));
        assert!(!applies_replicas(&with(json!([entry("hpa", "Update", replicas.clone())]))));
        assert!(!applies_replicas(&with(json!([entry("supabase-operator", "Update", replicas)]))));
        assert!(!applies_replicas(&with(json!(null))));
    }
}
