//! Studio, the dashboard, configured as upstream's `docker-compose.yml` (supabase/supabase
//! @ 1f37f2a9d82d) does, without the analytics stack, which this operator does not deploy.

use crds::Component;
use crds::refs::Value;

use super::container::scratch;
use super::env::Env;
use super::{Ctx, Rendered};
use crate::Error;

/// Where Studio keeps saved SQL snippets (SNIPPETS_MANAGEMENT_FOLDER) and reads edge
/// functions (EDGE_FUNCTIONS_MANAGEMENT_FOLDER), as upstream mounts them.
const SNIPPETS: &str = "/app/snippets";
const FUNCTIONS: &str = "/app/edge-functions";

pub(super) fn render(ctx: &Ctx<'_>) -> Result<Rendered, Error> {
    let spec = &ctx.spec;

    let mut env = Env::new(ctx);
    // Next.js binds to $HOSTNAME, which the runtime sets to the pod name otherwise. Upstream
    // went from "::" to "0.0.0.0" (IPv4 only); "::" is a dual-stack socket, so it answers
    // on IPv4-only, dual-stack and IPv6-only clusters alike (the helm chart keeps it too).
    env.lit("HOSTNAME", "::")
        .lit("STUDIO_PG_META_URL", ctx.url(Component::Meta))
        .from("POSTGRES_HOST", Value::DbHost)?
        .from("POSTGRES_PORT", Value::DbPort)?
        .from("POSTGRES_DB", Value::DbName)?
        // Percent-encoded: Studio splices it into a connection URL and nowhere else (see
        // `crate::studio_password`; supabase/supabase apps/studio/lib/api/self-hosted/util.ts
        // and constants.ts @ 123dc6bf0007ba46550ade46ba1a871cbce4839c).
        .from("POSTGRES_PASSWORD", Value::StudioDbPassword)?
        // The role postgres-meta connects as (see `meta::DB_ROLE` for why not `postgres`).
        .lit("POSTGRES_USER_READ_WRITE", super::meta::DB_ROLE)
        .from("PG_META_CRYPTO_KEY", Value::MetaCryptoKey)?
        .lit("PGRST_DB_SCHEMAS", spec.rest.schemas.join(","))
        .lit("PGRST_DB_MAX_ROWS", spec.rest.max_rows.to_string())
        .lit("PGRST_DB_EXTRA_SEARCH_PATH", super::rest::EXTRA_SEARCH_PATH)
        .lit("DEFAULT_ORGANIZATION_NAME", spec.studio.organization)
        .lit("DEFAULT_PROJECT_NAME", spec.studio.project)
        .lit("SUPABASE_URL", ctx.url(Component::Kong))
        .lit("SUPABASE_PUBLIC_URL", spec.api_external_url)
        .from("SUPABASE_ANON_KEY", Value::AnonKey)?
        .from("SUPABASE_SERVICE_KEY", Value::ServiceKey)?
        .from("AUTH_JWT_SECRET", Value::JwtSecret)?
        // compose @ 1f37f2a9d82d passes the new API keys to Studio.
        .new_key("SUPABASE_PUBLISHABLE_KEY", Value::PublishableKey)?
        .new_key("SUPABASE_SECRET_KEY", Value::SecretApiKey)?
        // No analytics (Logflare) is deployed: the logs pages off, under the flag's current
        // name and the one images before 2026.09 read.
        .lit("ENABLED_FEATURES_LOGS_ALL", "false")
        .lit("NEXT_PUBLIC_ENABLE_LOGS", "false")
        .lit("SNIPPETS_MANAGEMENT_FOLDER", SNIPPETS)
        .lit("EDGE_FUNCTIONS_MANAGEMENT_FOLDER", FUNCTIONS);
    // The AI assistant's key, only when the spec references one (compose @ 1f37f2a9d82d
    // sets OPENAI_API_KEY from .env).
    if spec.spec().components.as_ref().and_then(|c| c.studio.as_ref()).is_some_and(|s| s.ai_secret_ref.is_some()) {
        env.from("OPENAI_API_KEY", Value::StudioOpenAiKey)?;
    }
    // Snippets are writable but live as long as the pod; no functions are deployed, so the
    // functions folder is an empty directory.
    Ok(Rendered {
        env: env.finish(),
        volumes: vec![scratch("snippets", SNIPPETS), scratch("functions", FUNCTIONS)],
        ..Default::default()
    })
}
