//! Realtime: broadcast, presence and database changes over WebSockets.

use super::{Component, Consumes, DatabaseLogin, Entry, Probe, Resources};
use crate::refs::Value::*;

pub(super) const ENTRY: Entry = Entry {
    component: Component::Realtime,
    name: "realtime",
    condition_prefix: "Realtime",
    port: 4000,
    // Realtime's unauthenticated health route (lib/realtime_web/router.ex, supabase/realtime
    // @ v2.129.8 2aa99787): the tenant's `/api/tenants/<t>/health`, which upstream's compose
    // asks, needs a bearer key that a kubelet probe cannot carry without putting it in the
    // pod spec; `/healthcheck` answers once the endpoint serves.
    readiness: Probe::Http { path: "/healthcheck", port: 4000 },
    limits: Resources { memory: "256Mi", cpu: "200m" },
    requests: Resources { memory: "128Mi", cpu: "50m" },
    enabled_by_default: true,
    // The image has no `USER` (root) and its `run.sh` drops to `nobody` for the migrations and
    // seeds; the operator runs the same steps itself as `nobody` (65534), which owns `/app` in
    // the image (reconciler/src/workloads/realtime.rs, reconciler/contracts/realtime.toml).
    user: 65534,
    env: &[
        "API_JWT_JWKS",
        "API_JWT_SECRET",
        "APP_NAME",
        "DB_AFTER_CONNECT_QUERY",
        "DB_ENC_KEY",
        "DB_HOST",
        "DB_NAME",
        "DB_PASSWORD",
        "DB_PORT",
        "DB_SSL",
        "DB_USER",
        "ERL_AFLAGS",
        "METRICS_JWT_SECRET",
        "PORT",
        "RUN_JANITOR",
        "SECRET_KEY_BASE",
        "SEED_SELF_HOST",
        "CLUSTER_STRATEGIES",
        "DISABLE_HEALTHCHECK_LOGGING",
        "DNS_NODES",
        "POD_IP",
        "RELEASE_COOKIE",
        "RLIMIT_NOFILE",
        "SELF_HOST_TENANT_NAME",
    ],
    consumes: Consumes {
        always: &[
            DbHost,
            DbPort,
            DbName,
            DbPassword,
            JwtSecret,
            RealtimeSecretKeyBase,
            RealtimeDbEncKey,
            RealtimeReleaseCookie,
        ],
        legacy_keys: &[],
        new_keys: &[PublicKeys],
    },
    database: Some(DatabaseLogin { role: "supabase_admin", member_of: &[] }),
};
