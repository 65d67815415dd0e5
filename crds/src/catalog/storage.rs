//! The Storage API: files on a volume or in S3.

use super::{Component, Consumes, DatabaseLogin, Entry, Probe, Resources};
use crate::refs::Value::*;

pub(super) const ENTRY: Entry = Entry {
    component: Component::Storage,
    name: "storage",
    condition_prefix: "Storage",
    port: 5000,
    readiness: Probe::Http { path: "/status", port: 5000 },
    limits: Resources { memory: "128Mi", cpu: "100m" },
    requests: Resources { memory: "64Mi", cpu: "50m" },
    enabled_by_default: true,
    // A node image without `USER` (root) whose entrypoint needs no root: it runs as the node
    // image's `node` user (reconciler/contracts/storage.toml).
    user: 1000,
    env: &[
        "ANON_KEY",
        "AUTH_JWT_SECRET",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "DATABASE_URL",
        "ENABLE_IMAGE_TRANSFORMATION",
        "FILE_SIZE_LIMIT",
        "FILE_STORAGE_BACKEND_PATH",
        "GLOBAL_S3_BUCKET",
        "GLOBAL_S3_ENDPOINT",
        "GLOBAL_S3_FORCE_PATH_STYLE",
        "IMGPROXY_URL",
        "JWT_JWKS",
        "PGDATABASE",
        "PGHOST",
        "PGPASSWORD",
        "PGPORT",
        "PGRST_JWT_SECRET",
        "POSTGREST_URL",
        "REGION",
        "REQUEST_ALLOW_X_FORWARDED_PATH",
        "S3_PROTOCOL_ACCESS_KEY_ID",
        "S3_PROTOCOL_ACCESS_KEY_SECRET",
        "SERVICE_KEY",
        "STORAGE_BACKEND",
        "STORAGE_PUBLIC_URL",
        "TENANT_ID",
    ],
    consumes: Consumes {
        always: &[
            DbHost,
            DbPort,
            DbName,
            DbPassword,
            JwtSecret,
            AnonKey,
            ServiceKey,
            S3AccessKeyId,
            S3SecretAccessKey,
            StorageS3ProtocolKeyId,
            StorageS3ProtocolKeySecret,
        ],
        legacy_keys: &[],
        new_keys: &[PublicKeys],
    },
    database: Some(DatabaseLogin {
        role: "supabase_storage_admin",
        member_of: &["anon", "authenticated", "service_role"],
    }),
};
