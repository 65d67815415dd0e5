//! PostgREST, the REST API over the database.

use super::{Component, Consumes, DatabaseLogin, Entry, Probe, REST_ADMIN_PORT, Resources};
use crate::refs::Value::*;

pub(super) const ENTRY: Entry = Entry {
    component: Component::Rest,
    name: "rest",
    condition_prefix: "PostgREST",
    port: 3000,
    // PostgREST answers readiness on its admin server, not on the API port.
    readiness: Probe::Http { path: "/ready", port: REST_ADMIN_PORT },
    limits: Resources { memory: "256Mi", cpu: "200m" },
    requests: Resources { memory: "128Mi", cpu: "50m" },
    enabled_by_default: true,
    // The image's `USER 1000` (reconciler/contracts/rest.toml).
    user: 1000,
    env: &[
        "PGDATABASE",
        "PGHOST",
        "PGPASSWORD",
        "PGPORT",
        "PGRST_ADMIN_SERVER_PORT",
        "PGRST_APP_SETTINGS_JWT_EXP",
        "PGRST_DB_ANON_ROLE",
        "PGRST_DB_EXTRA_SEARCH_PATH",
        "PGRST_DB_MAX_ROWS",
        "PGRST_DB_SCHEMAS",
        "PGRST_DB_URI",
        "PGRST_DB_USE_LEGACY_GUCS",
        "PGRST_JWT_SECRET",
        "PGRST_SERVER_PORT",
    ],
    // With the new keys PostgREST verifies with the JWKS alone (it holds the legacy secret as its oct key).
    consumes: Consumes {
        always: &[DbHost, DbPort, DbName, DbPassword],
        legacy_keys: &[JwtSecret],
        new_keys: &[PublicKeys],
    },
    database: Some(DatabaseLogin { role: "authenticator", member_of: &["anon", "authenticated", "service_role"] }),
};
