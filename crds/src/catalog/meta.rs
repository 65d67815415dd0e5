//! postgres-meta: the database management API Studio uses.

use super::{Component, Consumes, DatabaseLogin, Entry, Probe, Resources};
use crate::refs::Value::*;

pub(super) const ENTRY: Entry = Entry {
    component: Component::Meta,
    name: "meta",
    condition_prefix: "Meta",
    port: 8080,
    readiness: Probe::Http { path: "/health", port: 8080 },
    limits: Resources { memory: "128Mi", cpu: "100m" },
    requests: Resources { memory: "64Mi", cpu: "50m" },
    enabled_by_default: true,
    // A node image without `USER` (root) whose entrypoint needs no root: it runs as the node
    // image's `node` user (reconciler/contracts/meta.toml).
    user: 1000,
    env: &[
        "CRYPTO_KEY",
        "PGDATABASE",
        "PGHOST",
        "PGPASSWORD",
        "PGPORT",
        "PG_META_DB_URL",
        "PG_META_HOST",
        "PG_META_PORT",
    ],
    consumes: Consumes {
        always: &[DbHost, DbPort, DbName, DbPassword, MetaCryptoKey],
        legacy_keys: &[],
        new_keys: &[],
    },
    database: Some(DatabaseLogin { role: "supabase_admin", member_of: &[] }),
};
