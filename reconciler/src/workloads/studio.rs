//! Studio, the dashboard, configured as upstream's `docker-compose.yml` does (without the
//! analytics stack, which this operator does not deploy).

use crds::Component;
use crds::refs::Value;

use super::env::Env;
use super::{Ctx, Rendered};
use crate::Error;

pub(super) fn render(ctx: &Ctx<'_>) -> Result<Rendered, Error> {
    let spec = &ctx.spec;

    let mut env = Env::new(ctx);
    // Next.js binds to $HOSTNAME, which the runtime sets to the pod name otherwise.
    env.lit("HOSTNAME", "0.0.0.0")
        .lit("STUDIO_PG_META_URL", ctx.url(Component::Meta))
        .from("POSTGRES_HOST", Value::DbHost)?
        .from("POSTGRES_PORT", Value::DbPort)?
        .from("POSTGRES_DB", Value::DbName)?
        .from("POSTGRES_PASSWORD", Value::DbPassword)?
        .from("PG_META_CRYPTO_KEY", Value::MetaCryptoKey)?
        .lit("PGRST_DB_SCHEMAS", spec.rest.schemas.join(","))
        .lit("DEFAULT_ORGANIZATION_NAME", spec.studio.organization)
        .lit("DEFAULT_PROJECT_NAME", spec.studio.project)
        .lit("SUPABASE_URL", ctx.url(Component::Kong))
        .lit("SUPABASE_PUBLIC_URL", spec.api_external_url)
        .from("SUPABASE_ANON_KEY", Value::AnonKey)?
        .from("SUPABASE_SERVICE_KEY", Value::ServiceKey)?
        .from("AUTH_JWT_SECRET", Value::JwtSecret)?
        // No analytics (Logflare) is deployed.
        .lit("NEXT_PUBLIC_ENABLE_LOGS", "false");
    Ok(Rendered { env: env.finish(), ..Default::default() })
}
