//! Kong, the API gateway: every route of the project goes through it.

use super::{Component, Consumes, Entry, Probe, Resources};
use crate::refs::Value::*;

pub(super) const ENTRY: Entry = Entry {
    component: Component::Kong,
    name: "kong",
    condition_prefix: "Kong",
    port: 8000,
    readiness: Probe::Exec(&["kong", "health"]),
    limits: Resources { memory: "2.5Gi", cpu: "500m" },
    requests: Resources { memory: "256Mi", cpu: "100m" },
    enabled_by_default: true,
    // The user of `kong/kong` images: `USER kong` (Kong/kong build/dockerfiles/deb.Dockerfile
    // @3.9.3), created by the package's postinstall on an `ubuntu:24.04` base, whose own `ubuntu`
    // user holds uid 1000, so `kong` is 1001 (Kong/kong scripts/explain_manifest/config.py
    // @3.9.3, suite `docker-image-ubuntu-24.04`: `kong_uid` 1001; the plain version tag is the
    // ubuntu build, .github/workflows/release.yml). The same holds for 3.9.1. The image's
    // `/entrypoint.sh` never changes user (build/dockerfiles/entrypoint.sh @3.9.1 and @3.9.3).
    user: 1001,
    env: &[
        "DASHBOARD_PASSWORD",
        "DASHBOARD_USERNAME",
        "KONG_DATABASE",
        "KONG_DECLARATIVE_CONFIG",
        "KONG_DNS_ORDER",
        "KONG_NGINX_PROXY_PROXY_BUFFERS",
        "KONG_NGINX_PROXY_PROXY_BUFFER_SIZE",
        "KONG_NGINX_WORKER_PROCESSES",
        "KONG_DNS_NOT_FOUND_TTL",
        "KONG_DNS_VALID_TTL",
        "KONG_PREFIX",
        "KONG_PROXY_ACCESS_LOG",
        "KONG_ROUTER_FLAVOR",
        "KONG_PLUGINS",
        "SUPABASE_ANON_KEY",
        "SUPABASE_KONG_TEMPLATE",
        "SUPABASE_SERVICE_KEY",
        // With spec.jwt.keys: both.
        "ANON_KEY_ASYMMETRIC",
        "SERVICE_ROLE_KEY_ASYMMETRIC",
        "SUPABASE_PUBLISHABLE_KEY",
        "SUPABASE_SECRET_KEY",
    ],
    // The dashboard credentials count although Kong reads them only while Studio is
    // enabled: a superset costs at most a needless restart, a missing value a stale pod.
    consumes: Consumes {
        always: &[AnonKey, ServiceKey, DashboardUsername, DashboardPassword],
        legacy_keys: &[],
        new_keys: &[PublishableKey, SecretApiKey, AnonJwt, ServiceJwt],
    },
    database: None,
};
