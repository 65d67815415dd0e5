//! Auth (GoTrue), configured as upstream's `docker-compose.yml` does.

use crds::Component;
use crds::refs::Value;

use super::env::{Env, UrlClient};
use super::{Ctx, Rendered};
use crate::Error;

/// The role Auth connects as; it owns the `auth` schema and runs its own migrations there.
pub(super) const DB_ROLE: &str = super::db_role(Component::Auth);

/// Paths of the links in Auth's mails: through the gateway to `/verify`.
const MAILER_VERIFY_PATH: &str = "/auth/v1/verify";

/// Auth's public URL: the gateway's (`spec.apiExternalUrl`) plus the `/auth/v1` prefix Kong
/// routes to Auth. Upstream's `API_EXTERNAL_URL` now includes it (compose @ 1f37f2a9d82d
/// builds provider callbacks as `${API_EXTERNAL_URL}/callback`), and Auth builds its own
/// callback and issuer from it; the mail links' absolute paths (`/auth/v1/verify`) replace
/// the path either way. A URL that already ends in `/auth/v1` is taken as it is.
pub(super) fn external_url(ctx: &Ctx<'_>) -> String {
    let base = ctx.spec.api_external_url.trim_end_matches('/');
    if base.ends_with(AUTH_PREFIX) { base.to_string() } else { format!("{base}{AUTH_PREFIX}") }
}

/// Where Kong routes Auth.
const AUTH_PREFIX: &str = "/auth/v1";

pub(super) fn render(ctx: &Ctx<'_>) -> Result<Rendered, Error> {
    let spec = &ctx.spec;
    let auth = spec.auth;

    let mut env = Env::new(ctx);
    env.lit("GOTRUE_API_HOST", "0.0.0.0")
        .lit("GOTRUE_API_PORT", Component::Auth.entry().port.to_string())
        .lit("API_EXTERNAL_URL", external_url(ctx))
        .lit("GOTRUE_DB_DRIVER", "postgres")
        .db_url("GOTRUE_DB_DATABASE_URL", DB_ROLE, UrlClient::Libpq)?
        .lit("GOTRUE_SITE_URL", spec.site_url)
        .lit("GOTRUE_URI_ALLOW_LIST", auth.additional_redirect_urls.join(","))
        .lit("GOTRUE_DISABLE_SIGNUP", auth.disable_signup.to_string())
        .lit("GOTRUE_JWT_ADMIN_ROLES", "service_role")
        .lit("GOTRUE_JWT_AUD", "authenticated")
        .lit("GOTRUE_JWT_DEFAULT_GROUP_NAME", "authenticated")
        .lit("GOTRUE_JWT_EXP", spec.jwt_expiry_seconds.to_string())
        .from("GOTRUE_JWT_SECRET", Value::JwtSecret)?
        // The signing keys, an array of JWKs with the signer alone marked `sign` (compose @
        // 1f37f2a9d82d: `GOTRUE_JWT_KEYS: ${JWT_KEYS}`, commented out there for Podman's
        // sake; Auth reads it as `JWTConfiguration.Keys`, internal/conf @ v2.196.0 0204331c).
        .new_key("GOTRUE_JWT_KEYS", Value::AuthSigningKeys)?
        // compose @ 1f37f2a9d82d: the issuer is API_EXTERNAL_URL (Kong's well-known route
        // is built from the same value, see `kong::well_known_oauth_path`).
        .lit("GOTRUE_JWT_ISSUER", external_url(ctx))
        .lit("GOTRUE_EXTERNAL_EMAIL_ENABLED", auth.enable_email_signup.to_string())
        .lit("GOTRUE_EXTERNAL_ANONYMOUS_USERS_ENABLED", auth.enable_anonymous_users.to_string())
        .lit("GOTRUE_MAILER_AUTOCONFIRM", auth.enable_email_autoconfirm.to_string())
        .lit("GOTRUE_MAILER_URLPATHS_INVITE", MAILER_VERIFY_PATH)
        .lit("GOTRUE_MAILER_URLPATHS_CONFIRMATION", MAILER_VERIFY_PATH)
        .lit("GOTRUE_MAILER_URLPATHS_RECOVERY", MAILER_VERIFY_PATH)
        .lit("GOTRUE_MAILER_URLPATHS_EMAIL_CHANGE", MAILER_VERIFY_PATH)
        // Upstream's .env enables phone sign-up with auto-confirmation; the spec configures
        // no SMS provider, so a phone sign-up could never receive its code: off here.
        .lit("GOTRUE_EXTERNAL_PHONE_ENABLED", "false");
    if let Some(smtp) = &spec.smtp {
        env.lit("GOTRUE_SMTP_ADMIN_EMAIL", smtp.sender)
            .lit("GOTRUE_SMTP_HOST", smtp.host)
            .lit("GOTRUE_SMTP_PORT", smtp.port.to_string())
            .from("GOTRUE_SMTP_USER", Value::SmtpUsername)?
            .from("GOTRUE_SMTP_PASS", Value::SmtpPassword)?
            .lit("GOTRUE_SMTP_SENDER_NAME", smtp.sender_name);
    }
    // A Go binary that writes nothing; its migrations are read from the image
    // (supabase/auth Dockerfile @ v2.196.0 0204331c).
    Ok(Rendered { env: env.finish(), read_only_root: true, ..Default::default() })
}
