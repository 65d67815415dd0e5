//! Storage's volume claim. Kubernetes keeps a claim's class and access modes fixed once
//! it exists, so the claim is created whole once (a plain create under the one field
//! manager) and afterwards only what may change is server-side applied: labels, the
//! owner reference (`whenDeleted: delete` only) and the size. Had the first write been
//! an apply of the whole claim, the applier would own the fixed fields and a later
//! apply without them would ask the apiserver to remove them, which it refuses.
//!
//! A claim that already exists (left by a deleted project of the same name, or made by
//! the user beforehand, e.g. restored from a snapshot) is adopted as it is.

use crds::{MANAGER, SupabaseProject};
use k8s_openapi::api::core::v1::PersistentVolumeClaim;
use kube::ResourceExt;
use kube::api::{Api, PostParams};

use crate::Error;
use crate::apply::{Ownership, apply_as, read};
use crate::context::Context;
use crate::workloads;

/// Makes the claim exist before the Deployment that mounts it, as rendered.
pub async fn ensure(ctx: &Context, project: &SupabaseProject, claim: &PersistentVolumeClaim) -> Result<(), Error> {
    let name = claim.name_any();
    let ownership = if claim.owner_references().is_empty() { Ownership::Unowned } else { Ownership::Owned };
    if read::<PersistentVolumeClaim>(ctx, project, &name).await?.is_none() {
        ctx.may_write()?;
        let namespace = project.namespace().unwrap_or_default();
        let api: Api<PersistentVolumeClaim> = Api::namespaced(ctx.client.clone(), &namespace);
        // The owner reference comes with the apply below, whose manager then owns it
        // alone and can drop it if `whenDeleted` becomes `retain`.
        let mut created = claim.clone();
        created.metadata.owner_references = None;
        created.metadata.namespace = Some(namespace);
        let params = PostParams { field_manager: Some(MANAGER.to_string()), ..Default::default() };
        match api.create(&params, &created).await {
            // 409: it exists after all (the cache lagged, or the claim is not labelled
            // ours yet): adopt it.
            Ok(_) => {}
            Err(kube::Error::Api(s)) if s.code == 409 => {}
            Err(e) => return Err(e.into()),
        }
    }
    apply_as(ctx, project, crds::Component::Storage.name(), workloads::claim_update(claim), ownership).await?;
    Ok(())
}
