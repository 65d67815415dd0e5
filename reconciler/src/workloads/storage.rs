//! The Storage API, configured as upstream's `docker-compose.yml` (and its S3 variant) does.

use crds::Component;
use std::collections::BTreeMap;

use crds::project::{StorageBackend, VolumeRetention};
use crds::refs::Value;
use k8s_openapi::api::apps::v1::{DeploymentStrategy, RollingUpdateDeployment};
use k8s_openapi::api::core::v1::{
    EmptyDirVolumeSource, PersistentVolumeClaim, PersistentVolumeClaimSpec, PersistentVolumeClaimVolumeSource, Volume,
    VolumeMount, VolumeResourceRequirements,
};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::container::scratch;
use super::env::{Env, UrlClient};
use super::{Ctx, Rendered};
use crate::Error;

/// The role Storage connects as; it owns the `storage` schema and runs its migrations there.
pub(super) const DB_ROLE: &str = super::db_role(Component::Storage);

/// Where the `file` backend keeps objects.
pub(super) const FILE_PATH: &str = "/var/lib/storage";

/// The components whose pods mount Storage's claim: on a ReadWriteOnce claim they stay on
/// one node (a second node cannot attach the volume).
pub(super) const SHARED_CLAIM: &[&str] = &[Component::Imgproxy.entry().name, Component::Storage.entry().name];

pub(super) fn render(ctx: &Ctx<'_>) -> Result<Rendered, Error> {
    let spec = &ctx.spec;
    let storage = spec.storage;
    let backend = storage.backend;

    let mut env = Env::new(ctx);
    env.from("ANON_KEY", Value::AnonKey)?
        .from("SERVICE_KEY", Value::ServiceKey)?
        .lit("POSTGREST_URL", ctx.url(Component::Rest))
        // compose @ 1f37f2a9d82d names it AUTH_JWT_SECRET; older composes (and images
        // before the rename) PGRST_JWT_SECRET, still an alias at v1.70.6 (src/config.ts).
        // Both carry the same secret, so a project kept on an older image works too.
        .from("AUTH_JWT_SECRET", Value::JwtSecret)?
        .from("PGRST_JWT_SECRET", Value::JwtSecret)?
        // The public set (src/config.ts @ v1.70.6 4fa61fba: `JWT_JWKS`, parsed as JSON;
        // compose @ 1f37f2a9d82d has it commented out for Podman's sake).
        .new_key("JWT_JWKS", Value::PublicKeys)?
        .db_url("DATABASE_URL", DB_ROLE, UrlClient::NodePostgres)?
        .lit("STORAGE_PUBLIC_URL", spec.api_external_url)
        // Kong strips `/storage/v1`; Storage rebuilds its public URLs from X-Forwarded-Path.
        .lit("REQUEST_ALLOW_X_FORWARDED_PATH", "true")
        .lit("FILE_SIZE_LIMIT", storage.file_size_limit.to_string())
        .lit("STORAGE_BACKEND", backend.as_str())
        // The project's name prefixes every object key, so projects may share one bucket.
        .lit("TENANT_ID", ctx.name.clone())
        // Upstream's compose @ 1f37f2a9d82d turns it on with its imgproxy; here imgproxy
        // is opt-in (below), and without it Storage keeps transformations off.
        .lit("ENABLE_IMAGE_TRANSFORMATION", spec.enabled(Component::Imgproxy).to_string())
        // The S3-protocol endpoint's credentials, generated once into the internal Secret.
        .from("S3_PROTOCOL_ACCESS_KEY_ID", Value::StorageS3ProtocolKeyId)?
        .from("S3_PROTOCOL_ACCESS_KEY_SECRET", Value::StorageS3ProtocolKeySecret)?;

    if spec.enabled(Component::Imgproxy) {
        // Upstream: IMGPROXY_URL http://imgproxy:5001 (same compose); here its Service.
        env.lit("IMGPROXY_URL", ctx.url(Component::Imgproxy));
    }

    // Upload hashing uses os.tmpdir() (src/internal/streams/hash-stream.ts @ v1.70.6).
    let mut volumes = vec![scratch("tmp", "/tmp")];
    match (backend, storage.s3) {
        (StorageBackend::S3, Some(s3)) => {
            env.lit("GLOBAL_S3_BUCKET", s3.bucket).lit("REGION", s3.region);
            if let Some(endpoint) = s3.endpoint {
                env.lit("GLOBAL_S3_ENDPOINT", endpoint);
            }
            env.lit("GLOBAL_S3_FORCE_PATH_STYLE", s3.force_path_style.to_string())
                .from("AWS_ACCESS_KEY_ID", Value::S3AccessKeyId)?
                .from("AWS_SECRET_ACCESS_KEY", Value::S3SecretAccessKey)?;
        }
        (StorageBackend::S3, None) => {
            return Err(Error::Render(format!("project {}: storage backend s3 without spec.storage.s3", ctx.name)));
        }
        (StorageBackend::File, _) => {
            // With the file backend the "bucket" is a directory under the backend path.
            env.lit("GLOBAL_S3_BUCKET", "stub").lit("REGION", "local").lit("FILE_STORAGE_BACKEND_PATH", FILE_PATH);
        }
    }
    // Kubernetes' own rolling update, written out: the field manager then owns
    // `rollingUpdate` and drops it when the Deployment switches to Recreate (a leftover
    // defaulted `rollingUpdate` would make the apiserver refuse `type: Recreate`).
    let percent = |p: &str| Some(IntOrString::String(p.to_string()));
    let mut shares_node: &[&str] = &[];
    let mut strategy = DeploymentStrategy {
        type_: Some("RollingUpdate".into()),
        rolling_update: Some(RollingUpdateDeployment { max_surge: percent("25%"), max_unavailable: percent("25%") }),
    };
    match (backend, storage.volume) {
        (StorageBackend::File, Some(v)) => {
            // Upstream's compose bind-mounts ./volumes/storage at this path
            // (supabase/supabase docker/docker-compose.yml @ 1f37f2a9d82d); the community
            // chart mounts its claim there (supabase-community/supabase-kubernetes
            // charts/supabase/templates/storage/deployment.yaml @ e88d61f8).
            let source = PersistentVolumeClaimVolumeSource {
                claim_name: crds::names::storage_claim(&ctx.name),
                read_only: None,
            };
            // Not `data`, the emptyDir's name: server-side apply merges volumes by name, and
            // the 1.20 apiserver keeps the old entry's `emptyDir: {}` beside the claim (two
            // sources, refused). Under another name the emptyDir entry goes as a whole.
            // `storage-data` is the chart's name for it.
            volumes.push((
                Volume { name: "storage-data".into(), persistent_volume_claim: Some(source), ..Default::default() },
                VolumeMount { name: "storage-data".into(), mount_path: FILE_PATH.into(), ..Default::default() },
            ));
            // A rolling update starts the new pod before the old one stops; on another node
            // it cannot attach a ReadWriteOnce volume the old pod holds (Multi-Attach), and
            // the rollout stalls. The community chart documents the same trap and its fix,
            // `strategy: {type: Recreate}` (charts/supabase/values.yaml @ e88d61f8, Studio's
            // snippets claim); its Storage Deployment sets no strategy.
            if !v.shared() {
                strategy = DeploymentStrategy { type_: Some("Recreate".into()), rolling_update: None };
                // imgproxy mounts the same claim (imgproxy.rs): both stay on one node.
                if spec.enabled(Component::Imgproxy) {
                    shares_node = SHARED_CLAIM;
                }
            }
        }
        (StorageBackend::File, None) => {
            // A project stored before claims existed: an emptyDir, objects live as long as
            // the pod, until its owner sets `spec.storage.volume` (admission warns).
            volumes.push((
                Volume { name: "data".into(), empty_dir: Some(EmptyDirVolumeSource::default()), ..Default::default() },
                VolumeMount { name: "data".into(), mount_path: FILE_PATH.into(), ..Default::default() },
            ));
        }
        (StorageBackend::S3, _) => {}
    }
    Ok(Rendered {
        env: env.finish(),
        volumes,
        read_only_root: true,
        strategy: Some(strategy),
        shares_node,
        ..Default::default()
    })
}

/// The claim behind the file backend, when the project has one: everything it is
/// created with. [`claim_update`] is what is applied once it exists.
pub(super) fn claim(ctx: &Ctx<'_>) -> Option<PersistentVolumeClaim> {
    let storage = ctx.spec.storage;
    let v = storage.volume.filter(|_| storage.backend == StorageBackend::File)?;
    let mut metadata = ctx.meta(crds::names::storage_claim(&ctx.name), Component::Storage.name());
    // Owned (and garbage-collected with the project) only when the spec says so.
    if v.when_deleted == VolumeRetention::Retain {
        metadata.owner_references = None;
    }
    Some(PersistentVolumeClaim {
        metadata,
        spec: Some(PersistentVolumeClaimSpec {
            access_modes: Some(v.access_modes.iter().map(|m| m.as_str().to_string()).collect()),
            storage_class_name: v.storage_class_name.map(str::to_string),
            resources: Some(VolumeResourceRequirements {
                requests: Some(BTreeMap::from([("storage".to_string(), v.size.clone())])),
                ..Default::default()
            }),
            ..Default::default()
        }),
        status: None,
    })
}

/// What may change in an existing claim, as applied: its labels and owner reference,
/// and its size (the apiserver lets a bound claim grow where its class allows expansion).
/// The class and access modes are fixed once the claim exists, so they are set only when
/// it is created (admission refuses a change to them); applying them again would make
/// the reconciler a co-owner that could never drop them.
pub fn claim_update(full: &PersistentVolumeClaim) -> PersistentVolumeClaim {
    let requests = full.spec.as_ref().and_then(|s| s.resources.as_ref()).and_then(|r| r.requests.clone());
    PersistentVolumeClaim {
        metadata: full.metadata.clone(),
        spec: Some(PersistentVolumeClaimSpec {
            resources: Some(VolumeResourceRequirements { requests, ..Default::default() }),
            ..Default::default()
        }),
        status: None,
    }
}
