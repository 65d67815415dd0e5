//! Rule 5: extra `env` entries have valid names, are not repeated, and do not override
//! a variable the operator sets (that would silently disconnect a component from its
//! database or keys).

use std::collections::BTreeSet;

use crds::{CATALOG, Component, SupabaseProjectSpec};

use super::field::{Cause, Rule, quoted};

/// The variables the operator sets on each component's container (upstream's
/// docker-compose wiring). Extra `env` may add variables, never replace these.
pub fn managed(component: Component) -> &'static [&'static str] {
    match component {
        Component::Kong => &[
            "KONG_DATABASE",
            "KONG_DECLARATIVE_CONFIG",
            "KONG_DNS_ORDER",
            "KONG_PLUGINS",
            "KONG_NGINX_PROXY_PROXY_BUFFER_SIZE",
            "KONG_NGINX_PROXY_PROXY_BUFFERS",
            "SUPABASE_ANON_KEY",
            "SUPABASE_SERVICE_KEY",
            "DASHBOARD_USERNAME",
            "DASHBOARD_PASSWORD",
        ],
        Component::Auth => &[
            "API_EXTERNAL_URL",
            "GOTRUE_API_HOST",
            "GOTRUE_API_PORT",
            "GOTRUE_DB_DRIVER",
            "GOTRUE_DB_DATABASE_URL",
            "GOTRUE_SITE_URL",
            "GOTRUE_URI_ALLOW_LIST",
            "GOTRUE_DISABLE_SIGNUP",
            "GOTRUE_JWT_ADMIN_ROLES",
            "GOTRUE_JWT_AUD",
            "GOTRUE_JWT_DEFAULT_GROUP_NAME",
            "GOTRUE_JWT_EXP",
            "GOTRUE_JWT_SECRET",
            "GOTRUE_EXTERNAL_EMAIL_ENABLED",
            "GOTRUE_EXTERNAL_ANONYMOUS_USERS_ENABLED",
            "GOTRUE_MAILER_AUTOCONFIRM",
            "GOTRUE_SMTP_ADMIN_EMAIL",
            "GOTRUE_SMTP_HOST",
            "GOTRUE_SMTP_PORT",
            "GOTRUE_SMTP_USER",
            "GOTRUE_SMTP_PASS",
            "GOTRUE_SMTP_SENDER_NAME",
        ],
        Component::Rest => &[
            "PGRST_DB_URI",
            "PGRST_DB_SCHEMAS",
            "PGRST_DB_ANON_ROLE",
            "PGRST_DB_MAX_ROWS",
            "PGRST_JWT_SECRET",
            "PGRST_DB_USE_LEGACY_GUCS",
            "PGRST_APP_SETTINGS_JWT_SECRET",
            "PGRST_APP_SETTINGS_JWT_EXP",
            "PGRST_ADMIN_SERVER_PORT",
        ],
        Component::Realtime => &[
            "PORT",
            "DB_HOST",
            "DB_PORT",
            "DB_USER",
            "DB_PASSWORD",
            "DB_NAME",
            "DB_AFTER_CONNECT_QUERY",
            "DB_ENC_KEY",
            "API_JWT_SECRET",
            "SECRET_KEY_BASE",
            "ERL_AFLAGS",
            "DNS_NODES",
            "RLIMIT_NOFILE",
            "APP_NAME",
            "SEED_SELF_HOST",
            "RUN_JANITOR",
        ],
        Component::Storage => &[
            "ANON_KEY",
            "SERVICE_KEY",
            "POSTGREST_URL",
            "PGRST_JWT_SECRET",
            "AUTH_JWT_SECRET",
            "DATABASE_URL",
            "FILE_SIZE_LIMIT",
            "STORAGE_BACKEND",
            "FILE_STORAGE_BACKEND_PATH",
            "TENANT_ID",
            "REGION",
            "GLOBAL_S3_BUCKET",
            "GLOBAL_S3_ENDPOINT",
            "GLOBAL_S3_FORCE_PATH_STYLE",
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
        ],
        Component::Meta => &[
            "PG_META_PORT",
            "PG_META_DB_HOST",
            "PG_META_DB_PORT",
            "PG_META_DB_NAME",
            "PG_META_DB_USER",
            "PG_META_DB_PASSWORD",
            "PG_META_DB_SSL_MODE",
            "CRYPTO_KEY",
            "PG_META_CRYPTO_KEY",
        ],
        Component::Studio => &[
            "STUDIO_PG_META_URL",
            "POSTGRES_PASSWORD",
            "DEFAULT_ORGANIZATION_NAME",
            "DEFAULT_PROJECT_NAME",
            "SUPABASE_URL",
            "SUPABASE_PUBLIC_URL",
            "SUPABASE_ANON_KEY",
            "SUPABASE_SERVICE_KEY",
            "AUTH_JWT_SECRET",
            "PG_META_CRYPTO_KEY",
        ],
    }
}

/// Kubernetes' environment variable name rule (`[-._a-zA-Z][-._a-zA-Z0-9]*`).
fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || "-._".contains(c))
        && chars.all(|c| c.is_ascii_alphanumeric() || "-._".contains(c))
}

pub(super) fn check(spec: &SupabaseProjectSpec, causes: &mut Vec<Cause>) {
    let Some(components) = &spec.components else { return };
    for entry in &CATALOG {
        let Some(env) = components.workload(entry.component).and_then(|w| w.env.as_ref()) else { continue };
        let mut seen = BTreeSet::new();
        for (i, var) in env.iter().enumerate() {
            let field = format!("spec.components.{}.env[{i}].name", entry.name);
            if !valid_name(&var.name) {
                causes.push(Cause::invalid(
                    Rule::Env,
                    &field,
                    quoted(&var.name),
                    "a valid environment variable name must consist of alphabetic characters, digits, '_', '-', or \
                     '.', and must not start with a digit",
                ));
            } else if managed(entry.component).contains(&var.name.as_str()) {
                causes.push(Cause::forbidden(
                    Rule::Env,
                    &field,
                    format!(
                        "{} is set by the operator for {}; configure it through the spec instead",
                        var.name, entry.name
                    ),
                ));
            } else if !seen.insert(var.name.as_str()) {
                causes.push(Cause::duplicate(Rule::Env, &field, quoted(&var.name)));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::Case;
    use k8s_openapi::api::core::v1::EnvVar;

    fn auth_env(names: &[&str]) -> Case {
        Case::valid().with(|s| {
            s.components.as_mut().unwrap().auth.as_mut().unwrap().workload.env =
                Some(names.iter().map(|n| EnvVar { name: n.to_string(), ..Default::default() }).collect());
        })
    }

    #[test]
    fn extra_variables_pass() {
        assert!(auth_env(&["GOTRUE_EXTERNAL_GITHUB_ENABLED", "my.var", "_X"]).fields().is_empty());
    }

    #[test]
    fn bad_repeated_and_managed_names_are_refused() {
        let case = auth_env(&["OK", "1BAD", "GOTRUE_JWT_SECRET", "OK", "has space"]);
        assert_eq!(
            case.fields(),
            [
                "spec.components.auth.env[1].name",
                "spec.components.auth.env[2].name",
                "spec.components.auth.env[3].name",
                "spec.components.auth.env[4].name"
            ]
        );
        assert!(case.messages().contains("GOTRUE_JWT_SECRET is set by the operator"), "{}", case.messages());
    }
}
