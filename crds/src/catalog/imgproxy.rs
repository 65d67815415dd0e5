//! imgproxy: resizes and converts the images Storage serves (opt-in). Internal: only
//! Storage calls it, so it has no gateway routes.

use super::{Component, Consumes, Entry, Probe, Resources};

pub(super) const ENTRY: Entry = Entry {
    component: Component::Imgproxy,
    name: "imgproxy",
    condition_prefix: "Imgproxy",
    // supabase/supabase docker/docker-compose.yml @ 1f37f2a9d82d: IMGPROXY_BIND ":5001",
    // and Storage's IMGPROXY_URL http://imgproxy:5001.
    port: 5001,
    // Upstream's health check is `imgproxy health` (same compose), which requests
    // `/health` on the bound address (imgproxy healthcheck.go @ v3.31.4); the kubelet asks
    // for it directly.
    readiness: Probe::Http { path: "/health", port: 5001 },
    // Image processing is memory-bound (libvips); the limit leaves room for one 16.8 MP
    // source (IMGPROXY_MAX_SRC_RESOLUTION, below) decoded at 4 bytes a pixel, twice.
    limits: Resources { memory: "256Mi", cpu: "500m" },
    requests: Resources { memory: "64Mi", cpu: "50m" },
    enabled_by_default: false,
    // The image's `USER 999` (imgproxy docker/Dockerfile @ v3.31.4; reconciler/contracts/imgproxy.toml).
    user: 999,
    env: &[
        "IMGPROXY_AUTO_WEBP",
        "IMGPROXY_BIND",
        "IMGPROXY_LOCAL_FILESYSTEM_ROOT",
        "IMGPROXY_MAX_SRC_RESOLUTION",
        "IMGPROXY_USE_ETAG",
    ],
    // It reads no Secret: Storage hands it a `local://` path or a presigned S3 URL.
    consumes: Consumes { always: &[], legacy_keys: &[], new_keys: &[] },
    database: None,
};
