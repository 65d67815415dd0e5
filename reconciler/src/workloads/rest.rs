//! PostgREST, configured as upstream's `docker-compose.yml` does, plus the admin server
//! the readiness probe asks.

use crds::Component;
use crds::catalog::REST_ADMIN_PORT;
use crds::refs::Value;

use super::env::{Env, UrlClient};
use super::{Ctx, Rendered};
use crate::Error;

/// The role PostgREST connects as; it switches to `anon`/`authenticated`/`service_role`
/// per request.
pub(super) const DB_ROLE: &str = super::db_role(Component::Rest);

/// PostgREST's extra search path (compose @ 1f37f2a9d82d's default), which Studio reads too.
pub(super) const EXTRA_SEARCH_PATH: &str = "public";

pub(super) fn render(ctx: &Ctx<'_>) -> Result<Rendered, Error> {
    let rest = ctx.spec.rest;
    let mut env = Env::new(ctx);
    env.db_url("PGRST_DB_URI", DB_ROLE, UrlClient::Libpq)?
        .lit("PGRST_DB_SCHEMAS", rest.schemas.join(","))
        .lit("PGRST_DB_MAX_ROWS", rest.max_rows.to_string())
        .lit("PGRST_DB_EXTRA_SEARCH_PATH", EXTRA_SEARCH_PATH)
        .lit("PGRST_DB_ANON_ROLE", "anon")
        // compose @ 1f37f2a9d82d: `${JWT_JWKS:-${JWT_SECRET}}`. PostgREST takes a JWKS in
        // PGRST_JWT_SECRET (v14.17 docs, jwt-secret); the set holds the legacy secret as
        // its oct key, so the legacy keys and HS256 sessions keep verifying.
        .from("PGRST_JWT_SECRET", if ctx.new_keys() { Value::PublicKeys } else { Value::JwtSecret })?
        .lit("PGRST_DB_USE_LEGACY_GUCS", "false")
        .lit("PGRST_APP_SETTINGS_JWT_EXP", ctx.spec.jwt_expiry_seconds.to_string())
        .lit("PGRST_SERVER_PORT", Component::Rest.entry().port.to_string())
        // `/ready` and `/live` are served on the admin port only. Upstream (compose @
        // 1f37f2a9d82d) binds it to localhost for its `postgrest --ready` exec check; the
        // kubelet's httpGet probe comes from outside the pod, so here it keeps PostgREST's
        // default host (all interfaces, Config.hs @ v14.17 064e5fea).
        .lit("PGRST_ADMIN_SERVER_PORT", REST_ADMIN_PORT.to_string());
    // A single static binary that writes nothing (nix/tools/docker/default.nix @ v14.17).
    Ok(Rendered {
        env: env.finish(),
        extra_ports: vec![("admin", REST_ADMIN_PORT)],
        read_only_root: true,
        ..Default::default()
    })
}
