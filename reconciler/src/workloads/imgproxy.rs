//! imgproxy, configured as upstream's `docker-compose.yml` runs it beside Storage
//! (supabase/supabase docker/docker-compose.yml @ 1f37f2a9d82d, service `imgproxy`).
//!
//! Storage sends it either a `local:///<path>` source, for the file backend (the path
//! under FILE_STORAGE_BACKEND_PATH; supabase/storage src/storage/backend/file.ts
//! `privateAssetUrl` @ v1.70.6), or a presigned S3 GET URL valid for 600 s, for the S3
//! backend (src/storage/backend/s3/adapter.ts `privateAssetUrl`; the image renderer
//! passes it as a `plain` source, src/storage/renderer/image.ts). So with the file backend
//! imgproxy reads Storage's claim, read-only, at the same path; with S3 it needs no
//! credentials, only a route to the S3 endpoint, as upstream's docker-compose.s3.yml
//! has it (its imgproxy is the base one, without IMGPROXY_USE_S3).

use crds::Component;
use crds::project::StorageBackend;
use k8s_openapi::api::core::v1::{PersistentVolumeClaimVolumeSource, Volume, VolumeMount};

use super::container::scratch;
use super::env::Env;
use super::storage::{FILE_PATH, SHARED_CLAIM};
use super::{Ctx, Rendered};
use crate::Error;

pub(super) fn render(ctx: &Ctx<'_>) -> Result<Rendered, Error> {
    let mut env = Env::new(ctx);
    env.lit("IMGPROXY_BIND", format!(":{}", Component::Imgproxy.entry().port))
        // `local://` paths are absolute: Storage sends `local:///var/lib/storage/...`.
        .lit("IMGPROXY_LOCAL_FILESYSTEM_ROOT", "/")
        .lit("IMGPROXY_USE_ETAG", "true")
        // ${IMGPROXY_AUTO_WEBP} in the compose, `true` in its .env.example (which named it
        // IMGPROXY_ENABLE_WEBP_DETECTION before; both releases' images read the new name,
        // imgproxy config/config.go @ v3.30.1 and v3.31.4).
        .lit("IMGPROXY_AUTO_WEBP", "true")
        .lit("IMGPROXY_MAX_SRC_RESOLUTION", "16.8");

    // libvips' fontconfig cache (the Dockerfile makes /var/cache/fontconfig writable for
    // it, imgproxy docker/Dockerfile @ v3.31.4) and its temporary files.
    let mut volumes = vec![scratch("fontconfig", "/var/cache/fontconfig"), scratch("tmp", "/tmp")];
    let storage = ctx.spec.storage;
    let mut rendered = Rendered::default();
    if let (StorageBackend::File, Some(v)) = (storage.backend, storage.volume) {
        // Storage's own claim, read-only: imgproxy never writes an object. Admission refuses
        // imgproxy with the file backend and no claim (an emptyDir cannot be shared).
        let source = PersistentVolumeClaimVolumeSource {
            claim_name: crds::names::storage_claim(&ctx.name),
            read_only: Some(true),
        };
        volumes.push((
            Volume { name: "storage-data".into(), persistent_volume_claim: Some(source), ..Default::default() },
            VolumeMount {
                name: "storage-data".into(),
                mount_path: FILE_PATH.into(),
                read_only: Some(true),
                ..Default::default()
            },
        ));
        // Files Storage writes belong to its uid and group (its pod's fsGroup); imgproxy
        // joins that group, so a kubelet that sets a volume's group does not change it.
        rendered.fs_group = Some(Component::Storage.entry().user);
        if !v.shared() {
            rendered.shares_node = SHARED_CLAIM;
        }
    }
    Ok(Rendered { env: env.finish(), volumes, read_only_root: true, ..rendered })
}
