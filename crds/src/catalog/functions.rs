//! Edge Functions: `supabase/edge-runtime` running the user's functions behind the operator's
//! "main" service (opt-in, rolled out last).

use super::{Component, Consumes, DatabaseLogin, Entry, Probe, Resources};
use crate::refs::Value::*;

pub(super) const ENTRY: Entry = Entry {
    component: Component::Functions,
    name: "functions",
    condition_prefix: "Functions",
    // The runtime's default `--port` (supabase/edge-runtime cli/src/flags.rs @ v1.74.0), which
    // upstream's compose and gateway use (supabase/supabase docker/docker-compose.yml and
    // docker/volumes/api/kong.yml @ 1f37f2a9d82d: `http://functions:9000/`).
    port: 9000,
    // Upstream's healthcheck opens a TCP connection to 9000 (docker-compose.yml @ 1f37f2a9d82d);
    // the main service answers every path with a function call, so there is no health path.
    readiness: Probe::Tcp { port: 9000 },
    // The operator's own choice (upstream sets none): the main service and a few user
    // workers of upstream's 150 MB each.
    limits: Resources { memory: "1Gi", cpu: "1" },
    requests: Resources { memory: "128Mi", cpu: "50m" },
    enabled_by_default: false,
    // The image has no `USER` (root; supabase/edge-runtime Dockerfile @ v1.74.0, debian
    // bookworm-slim) and its entrypoint is the `edge-runtime` binary itself: any uid works
    // once its cache (DENO_DIR) and /tmp are writable (reconciler/contracts/functions.toml).
    user: 1000,
    env: &[
        "DENO_DIR",
        "JWT_SECRET",
        "SUPABASE_URL",
        "SUPABASE_PUBLIC_URL",
        "SUPABASE_ANON_KEY",
        "SUPABASE_SERVICE_ROLE_KEY",
        "PGHOST",
        "PGPORT",
        "PGDATABASE",
        "PGPASSWORD",
        "SUPABASE_DB_URL",
        "VERIFY_JWT",
        // With spec.jwt.keys: both.
        "SUPABASE_JWKS",
        "SUPABASE_PUBLISHABLE_KEY",
        "SUPABASE_SECRET_KEY",
        "SUPABASE_PUBLISHABLE_KEYS",
        "SUPABASE_SECRET_KEYS",
    ],
    consumes: Consumes {
        always: &[DbHost, DbPort, DbName, DbPassword, JwtSecret, AnonKey, ServiceKey],
        legacy_keys: &[],
        new_keys: &[PublicKeys, PublishableKey, SecretApiKey],
    },
    // Upstream's SUPABASE_DB_URL logs in as `postgres`; here as `supabase_admin`, for
    // postgres-meta's reason (see reconciler/src/workloads/meta.rs, `DB_ROLE`).
    database: Some(DatabaseLogin { role: "supabase_admin", member_of: &[] }),
};
