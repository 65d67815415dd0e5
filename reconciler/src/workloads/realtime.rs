//! Realtime, configured as upstream's `docker-compose.yml` does. Realtime is multi-tenant
//! even self-hosted and takes the tenant from the first label of the Host header; Kong
//! proxies to `http://<project>-realtime:4000`, so that Host label is the tenant the pod
//! seeds (`SELF_HOST_TENANT_NAME`).

use crds::Component;
use crds::refs::Value;

use super::env::Env;
use super::{Ctx, Rendered};
use crate::Error;

/// Realtime and postgres-meta connect as the Supabase superuser role.
pub(super) const DB_ROLE: &str = "supabase_admin";

/// The tenant Realtime seeds: the first label of the host Kong sends, i.e. the Service name.
pub(super) fn tenant(ctx: &Ctx<'_>) -> String {
    ctx.object_name(Component::Realtime)
}

pub(super) fn render(ctx: &Ctx<'_>) -> Result<Rendered, Error> {
    let mut env = Env::new(ctx);
    env.lit("PORT", Component::Realtime.entry().port.to_string())
        .from("DB_HOST", Value::DbHost)?
        .from("DB_PORT", Value::DbPort)?
        .from("DB_NAME", Value::DbName)?
        .lit("DB_USER", DB_ROLE)
        .from("DB_PASSWORD", Value::DbPassword)?;
    // Realtime (Postgrex) has TLS on or off, without fallback; on, it encrypts without
    // verifying the certificate (libpq's `require`), whatever stricter mode the spec asks.
    let tls = env.tls_required();
    env.lit("DB_SSL", tls.to_string())
        // Realtime's own tables live in `_realtime`, apart from the `realtime` schema it serves.
        .lit("DB_AFTER_CONNECT_QUERY", "SET search_path TO _realtime")
        .from("DB_ENC_KEY", Value::RealtimeDbEncKey)?
        .from("API_JWT_SECRET", Value::JwtSecret)?
        .from("METRICS_JWT_SECRET", Value::JwtSecret)?
        .from("SECRET_KEY_BASE", Value::RealtimeSecretKeyBase)?
        // Erlang distribution over IPv4 (the default would try IPv6 name resolution).
        .lit("ERL_AFLAGS", "-proto_dist inet_tcp")
        .lit("APP_NAME", "realtime")
        .lit("SEED_SELF_HOST", "true")
        .lit("SELF_HOST_TENANT_NAME", tenant(ctx))
        .lit("RUN_JANITOR", "true");
    Ok(Rendered { env: env.finish(), ..Default::default() })
}
