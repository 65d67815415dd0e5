//! postgres-meta, configured as upstream's `docker-compose.yml` does.

use crds::Component;
use crds::refs::Value;

use super::container::scratch;
use super::env::Env;
use super::{Ctx, Rendered};
use crate::Error;

/// postgres-meta administers the whole database, as the Supabase superuser role. Upstream's
/// compose @ 1f37f2a9d82d now connects as `postgres`, which in the supabase/postgres image
/// is a privileged non-superuser role. On a database the operator initializes, `postgres`
/// is the administrator the Job connects as, whose password is the cluster's own business,
/// while `supabase_admin` is the role db-init creates with the project password, and the
/// role whose new objects get the API roles' default grants (dbinit.sql); so meta (and
/// Studio's `POSTGRES_USER_READ_WRITE`) keep `supabase_admin`.
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
    // Nothing but /tmp is written (Dockerfile @ v0.98.0 641831e0; node may spill there).
    Ok(Rendered {
        env: env.finish(),
        volumes: vec![scratch("tmp", "/tmp")],
        read_only_root: true,
        ..Default::default()
    })
}
