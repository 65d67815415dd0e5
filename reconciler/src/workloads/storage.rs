//! The Storage API, configured as upstream's `docker-compose.yml` (and its S3 variant) does.

use crds::Component;
use crds::project::StorageBackend;
use crds::refs::Value;
use k8s_openapi::api::core::v1::{EmptyDirVolumeSource, Volume, VolumeMount};

use super::container::scratch;
use super::env::{Env, UrlClient};
use super::{Ctx, Rendered};
use crate::Error;

/// The role Storage connects as; it owns the `storage` schema and runs its migrations there.
pub(super) const DB_ROLE: &str = "supabase_storage_admin";

/// Where the `file` backend keeps objects.
pub(super) const FILE_PATH: &str = "/var/lib/storage";

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
        // No imgproxy is deployed.
        .lit("ENABLE_IMAGE_TRANSFORMATION", "false")
        // The S3-protocol endpoint's credentials, generated once into the internal Secret.
        .from("S3_PROTOCOL_ACCESS_KEY_ID", Value::StorageS3ProtocolKeyId)?
        .from("S3_PROTOCOL_ACCESS_KEY_SECRET", Value::StorageS3ProtocolKeySecret)?;

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
            // An emptyDir: objects live as long as the pod. The API has no volume claim for
            // Storage yet; use the s3 backend for data that must survive a restart.
            volumes.push((
                Volume { name: "data".into(), empty_dir: Some(EmptyDirVolumeSource::default()), ..Default::default() },
                VolumeMount { name: "data".into(), mount_path: FILE_PATH.into(), ..Default::default() },
            ));
        }
    }
    Ok(Rendered { env: env.finish(), volumes, read_only_root: true, ..Default::default() })
}
