//! Rule 5: extra `env` entries have valid names, are not repeated, and do not override
//! a variable the operator sets (that would silently disconnect a component from its
//! database or keys).

use std::collections::BTreeSet;

use crds::{CATALOG, Component, SupabaseProjectSpec};

use super::field::{Cause, Rule, quoted};

/// The variables the operator sets on each component's container (the reconciler's
/// renderer; `tests/tests/webhook_env_drift.rs` keeps the two in step). Extra `env` may
/// add variables, never replace these.
pub fn managed(component: Component) -> &'static [&'static str] {
    match component {
        Component::Kong => &[
            "DASHBOARD_PASSWORD",
            "DASHBOARD_USERNAME",
            "KONG_DATABASE",
            "KONG_DECLARATIVE_CONFIG",
            "KONG_DNS_ORDER",
            "KONG_NGINX_PROXY_PROXY_BUFFERS",
            "KONG_NGINX_PROXY_PROXY_BUFFER_SIZE",
            "KONG_NGINX_WORKER_PROCESSES",
            "KONG_DNS_NOT_FOUND_TTL",
            "KONG_DNS_VALID_TTL",
            "KONG_PREFIX",
            "KONG_PROXY_ACCESS_LOG",
            "KONG_ROUTER_FLAVOR",
            "KONG_PLUGINS",
            "SUPABASE_ANON_KEY",
            "SUPABASE_KONG_TEMPLATE",
            "SUPABASE_SERVICE_KEY",
            // With spec.jwt.keys: both.
            "ANON_KEY_ASYMMETRIC",
            "SERVICE_ROLE_KEY_ASYMMETRIC",
            "SUPABASE_PUBLISHABLE_KEY",
            "SUPABASE_SECRET_KEY",
        ],
        Component::Auth => &[
            "API_EXTERNAL_URL",
            "GOTRUE_API_HOST",
            "GOTRUE_API_PORT",
            "GOTRUE_DB_DATABASE_URL",
            "GOTRUE_DB_DRIVER",
            "GOTRUE_DISABLE_SIGNUP",
            "GOTRUE_EXTERNAL_ANONYMOUS_USERS_ENABLED",
            "GOTRUE_EXTERNAL_EMAIL_ENABLED",
            "GOTRUE_JWT_ADMIN_ROLES",
            "GOTRUE_JWT_AUD",
            "GOTRUE_JWT_DEFAULT_GROUP_NAME",
            "GOTRUE_JWT_EXP",
            "GOTRUE_EXTERNAL_PHONE_ENABLED",
            "GOTRUE_JWT_ISSUER",
            "GOTRUE_JWT_KEYS",
            "GOTRUE_JWT_SECRET",
            "GOTRUE_MAILER_AUTOCONFIRM",
            "GOTRUE_MAILER_URLPATHS_CONFIRMATION",
            "GOTRUE_MAILER_URLPATHS_EMAIL_CHANGE",
            "GOTRUE_MAILER_URLPATHS_INVITE",
            "GOTRUE_MAILER_URLPATHS_RECOVERY",
            "GOTRUE_SITE_URL",
            "GOTRUE_SMTP_ADMIN_EMAIL",
            "GOTRUE_SMTP_HOST",
            "GOTRUE_SMTP_PASS",
            "GOTRUE_SMTP_PORT",
            "GOTRUE_SMTP_SENDER_NAME",
            "GOTRUE_SMTP_USER",
            "GOTRUE_URI_ALLOW_LIST",
            "PGDATABASE",
            "PGHOST",
            "PGPASSWORD",
            "PGPORT",
        ],
        Component::Rest => &[
            "PGDATABASE",
            "PGHOST",
            "PGPASSWORD",
            "PGPORT",
            "PGRST_ADMIN_SERVER_PORT",
            "PGRST_APP_SETTINGS_JWT_EXP",
            "PGRST_DB_ANON_ROLE",
            "PGRST_DB_EXTRA_SEARCH_PATH",
            "PGRST_DB_MAX_ROWS",
            "PGRST_DB_SCHEMAS",
            "PGRST_DB_URI",
            "PGRST_DB_USE_LEGACY_GUCS",
            "PGRST_JWT_SECRET",
            "PGRST_SERVER_PORT",
        ],
        Component::Realtime => &[
            "API_JWT_JWKS",
            "API_JWT_SECRET",
            "APP_NAME",
            "DB_AFTER_CONNECT_QUERY",
            "DB_ENC_KEY",
            "DB_HOST",
            "DB_NAME",
            "DB_PASSWORD",
            "DB_PORT",
            "DB_SSL",
            "DB_USER",
            "ERL_AFLAGS",
            "METRICS_JWT_SECRET",
            "PORT",
            "RUN_JANITOR",
            "SECRET_KEY_BASE",
            "SEED_SELF_HOST",
            "CLUSTER_STRATEGIES",
            "DISABLE_HEALTHCHECK_LOGGING",
            "DNS_NODES",
            "POD_IP",
            "RELEASE_COOKIE",
            "RLIMIT_NOFILE",
            "SELF_HOST_TENANT_NAME",
        ],
        Component::Storage => &[
            "ANON_KEY",
            "AUTH_JWT_SECRET",
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
            "DATABASE_URL",
            "ENABLE_IMAGE_TRANSFORMATION",
            "FILE_SIZE_LIMIT",
            "FILE_STORAGE_BACKEND_PATH",
            "GLOBAL_S3_BUCKET",
            "GLOBAL_S3_ENDPOINT",
            "GLOBAL_S3_FORCE_PATH_STYLE",
            "JWT_JWKS",
            "PGDATABASE",
            "PGHOST",
            "PGPASSWORD",
            "PGPORT",
            "PGRST_JWT_SECRET",
            "POSTGREST_URL",
            "REGION",
            "REQUEST_ALLOW_X_FORWARDED_PATH",
            "S3_PROTOCOL_ACCESS_KEY_ID",
            "S3_PROTOCOL_ACCESS_KEY_SECRET",
            "SERVICE_KEY",
            "STORAGE_BACKEND",
            "STORAGE_PUBLIC_URL",
            "TENANT_ID",
        ],
        Component::Meta => &[
            "CRYPTO_KEY",
            "PGDATABASE",
            "PGHOST",
            "PGPASSWORD",
            "PGPORT",
            "PG_META_DB_URL",
            "PG_META_HOST",
            "PG_META_PORT",
        ],
        Component::Studio => &[
            "AUTH_JWT_SECRET",
            "DEFAULT_ORGANIZATION_NAME",
            "DEFAULT_PROJECT_NAME",
            "EDGE_FUNCTIONS_MANAGEMENT_FOLDER",
            "ENABLED_FEATURES_LOGS_ALL",
            "HOSTNAME",
            "NEXT_PUBLIC_ENABLE_LOGS",
            "OPENAI_API_KEY",
            "PGRST_DB_EXTRA_SEARCH_PATH",
            "PGRST_DB_MAX_ROWS",
            "PGRST_DB_SCHEMAS",
            "PG_META_CRYPTO_KEY",
            "POSTGRES_DB",
            "POSTGRES_HOST",
            "POSTGRES_PASSWORD",
            "POSTGRES_PORT",
            "POSTGRES_USER_READ_WRITE",
            "SNIPPETS_MANAGEMENT_FOLDER",
            "STUDIO_PG_META_URL",
            "SUPABASE_ANON_KEY",
            "SUPABASE_PUBLIC_URL",
            "SUPABASE_PUBLISHABLE_KEY",
            "SUPABASE_SECRET_KEY",
            "SUPABASE_SERVICE_KEY",
            "SUPABASE_URL",
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
