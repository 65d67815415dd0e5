//! Studio, the dashboard (opt-in).

use super::{Component, Consumes, Entry, Probe, Resources};
use crate::refs::Value::*;

pub(super) const ENTRY: Entry = Entry {
    component: Component::Studio,
    name: "studio",
    condition_prefix: "Studio",
    port: 3000,
    readiness: Probe::Http { path: "/api/platform/profile", port: 3000 },
    limits: Resources { memory: "256Mi", cpu: "100m" },
    requests: Resources { memory: "128Mi", cpu: "50m" },
    enabled_by_default: false,
    // A node image without `USER` (root) whose entrypoint needs no root: it runs as the node
    // image's `node` user (reconciler/contracts/studio.toml).
    user: 1000,
    env: &[
        "AUTH_JWT_SECRET",
        "DEFAULT_ORGANIZATION_NAME",
        "DEFAULT_PROJECT_NAME",
        "EDGE_FUNCTIONS_MANAGEMENT_FOLDER",
        "ENABLED_FEATURES_LOGS_ALL",
        "HOSTNAME",
        "NEXT_PUBLIC_ENABLE_LOGS",
        "OPENAI_API_KEY",
        "PGRST_DB_EXTRA_SEARCH_PATH",
        "PGRST_DB_MAX_ROWS",
        "PGRST_DB_SCHEMAS",
        "PG_META_CRYPTO_KEY",
        "POSTGRES_DB",
        "POSTGRES_HOST",
        "POSTGRES_PASSWORD",
        "POSTGRES_PORT",
        "POSTGRES_USER_READ_WRITE",
        "SNIPPETS_MANAGEMENT_FOLDER",
        "STUDIO_PG_META_URL",
        "SUPABASE_ANON_KEY",
        "SUPABASE_PUBLIC_URL",
        "SUPABASE_PUBLISHABLE_KEY",
        "SUPABASE_SECRET_KEY",
        "SUPABASE_SERVICE_KEY",
        "SUPABASE_URL",
    ],
    // Studio's password is the derived, percent-encoded copy (it changes with the database
    // password, so the hash still follows that). Studio reaches the database through meta.
    consumes: Consumes {
        always: &[
            DbHost,
            DbPort,
            DbName,
            StudioDbPassword,
            JwtSecret,
            AnonKey,
            ServiceKey,
            MetaCryptoKey,
            StudioOpenAiKey,
        ],
        legacy_keys: &[],
        new_keys: &[PublishableKey, SecretApiKey],
    },
    database: None,
};
