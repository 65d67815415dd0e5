//! postgres-meta, configured as upstream's `docker-compose.yml` does.

use crds::Component;
use crds::refs::Value;

use super::env::Env;
use super::{Ctx, Rendered};
use crate::Error;

/// postgres-meta administers the whole database, as the Supabase superuser role.
pub(super) const DB_ROLE: &str = "supabase_admin";

pub(super) fn render(ctx: &Ctx<'_>) -> Result<Rendered, Error> {
    let mut env = Env::new(ctx);
    env.lit("PG_META_HOST", "0.0.0.0")
        .lit("PG_META_PORT", Component::Meta.entry().port.to_string())
        .from("PG_META_DB_HOST", Value::DbHost)?
        .from("PG_META_DB_PORT", Value::DbPort)?
        .from("PG_META_DB_NAME", Value::DbName)?
        .lit("PG_META_DB_USER", DB_ROLE)
        .from("PG_META_DB_PASSWORD", Value::DbPassword)?;
    // postgres-meta puts this into a node-postgres URL: no plain-text fallback there, and
    // `require` verifies the certificate (stricter than libpq). `allow`/`prefer` connect plain.
    let mode = if env.tls_required() { ctx.spec.database.ssl_mode.as_str() } else { "disable" };
    env.lit("PG_META_DB_SSL_MODE", mode).from("CRYPTO_KEY", Value::MetaCryptoKey)?;
    Ok(Rendered { env: env.finish(), ..Default::default() })
}
