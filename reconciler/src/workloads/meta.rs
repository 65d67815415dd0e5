//! postgres-meta, configured as upstream's `docker-compose.yml` does.

use crds::Component;
use crds::refs::Value;

use super::container::scratch;
use super::env::{Env, UrlClient};
use super::{Ctx, Rendered};
use crate::Error;

/// postgres-meta administers the whole database, as the Supabase superuser role. Upstream's
/// compose @ 1f37f2a9d82d now connects as `postgres`, which in the supabase/postgres image
/// is a privileged non-superuser role. On a database the operator initializes, `postgres`
/// is the administrator the Job connects as, whose password is the cluster's own business,
/// while `supabase_admin` is the role db-init creates with the project password, and the
/// role whose new objects get the API roles' default grants (dbinit.sql); so meta (and
/// Studio's `POSTGRES_USER_READ_WRITE`) keep `supabase_admin`.
pub(super) const DB_ROLE: &str = super::db_role(Component::Meta);

pub(super) fn render(ctx: &Ctx<'_>) -> Result<Rendered, Error> {
    let mut env = Env::new(ctx);
    env.lit("PG_META_HOST", "0.0.0.0").lit("PG_META_PORT", Component::Meta.entry().port.to_string());
    // A URL without the password, and the password in PGPASSWORD: postgres-meta 0.99.0
    // builds its URL from PG_META_DB_PASSWORD with the WHATWG URL setter, which leaves `%`
    // as it is, so node-postgres then decodes `%20` in a password to a space and the login
    // fails (src/server/constants.ts @ 641831e0, shipped in the npm package 0.99.0 as
    // dist/server/constants.js). PG_META_DB_URL, when set, is used as it is; node-postgres
    // (@supabase/pg 8.21.1, lib/connection-parameters.js `val`) takes PGPASSWORD when the
    // URL has none. `allow`/`prefer` leave sslmode out (node-postgres has no fallback to
    // plain text), the rest ask for libpq's meaning (see `UrlClient::NodePostgres`).
    env.db_url("PG_META_DB_URL", DB_ROLE, UrlClient::NodePostgres)?.from("CRYPTO_KEY", Value::MetaCryptoKey)?;
    // Nothing but /tmp is written (Dockerfile @ v0.98.0 641831e0; node may spill there).
    Ok(Rendered {
        env: env.finish(),
        volumes: vec![scratch("tmp", "/tmp")],
        read_only_root: true,
        ..Default::default()
    })
}
