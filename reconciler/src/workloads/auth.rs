//! Auth (GoTrue), configured as upstream's `docker-compose.yml` does.

use crds::Component;
use crds::refs::Value;

use super::env::{Env, UrlClient};
use super::{Ctx, Rendered};
use crate::Error;

/// The role Auth connects as; it owns the `auth` schema and runs its own migrations there.
pub(super) const DB_ROLE: &str = "supabase_auth_admin";

/// Paths of the links in Auth's mails: through the gateway to `/verify`.
const MAILER_VERIFY_PATH: &str = "/auth/v1/verify";

pub(super) fn render(ctx: &Ctx<'_>) -> Result<Rendered, Error> {
    let spec = &ctx.spec;
    let auth = spec.auth;

    let mut env = Env::new(ctx);
    env.lit("GOTRUE_API_HOST", "0.0.0.0")
        .lit("GOTRUE_API_PORT", Component::Auth.entry().port.to_string())
        .lit("API_EXTERNAL_URL", spec.api_external_url)
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
        .lit("GOTRUE_EXTERNAL_EMAIL_ENABLED", auth.enable_email_signup.to_string())
        .lit("GOTRUE_EXTERNAL_ANONYMOUS_USERS_ENABLED", auth.enable_anonymous_users.to_string())
        .lit("GOTRUE_MAILER_AUTOCONFIRM", auth.enable_email_autoconfirm.to_string())
        .lit("GOTRUE_MAILER_URLPATHS_INVITE", MAILER_VERIFY_PATH)
        .lit("GOTRUE_MAILER_URLPATHS_CONFIRMATION", MAILER_VERIFY_PATH)
        .lit("GOTRUE_MAILER_URLPATHS_RECOVERY", MAILER_VERIFY_PATH)
        .lit("GOTRUE_MAILER_URLPATHS_EMAIL_CHANGE", MAILER_VERIFY_PATH);
    if let Some(smtp) = &spec.smtp {
        env.lit("GOTRUE_SMTP_ADMIN_EMAIL", smtp.sender)
            .lit("GOTRUE_SMTP_HOST", smtp.host)
            .lit("GOTRUE_SMTP_PORT", smtp.port.to_string())
            .from("GOTRUE_SMTP_USER", Value::SmtpUsername)?
            .from("GOTRUE_SMTP_PASS", Value::SmtpPassword)?
            .lit("GOTRUE_SMTP_SENDER_NAME", smtp.sender_name);
    }
    Ok(Rendered { env: env.finish(), ..Default::default() })
}
