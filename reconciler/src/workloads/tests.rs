//! Tests over every rendered object: golden env per component (expected values written
//! from the lists and upstream's docker-compose.yml, not copied from the output),
//! secrets only through `secretKeyRef`, metadata, hardening and Services.

use std::collections::BTreeMap;

use crds::refs::{Source, Value};
use crds::{CATALOG, Component, SupabaseProject};
use k8s_openapi::api::core::v1::{Container, EnvVar, PodSpec};

use super::fixtures::{full, literal_db, minimal};
use super::*;

#[derive(Clone, Debug, PartialEq, Eq)]
enum E {
    Lit(String),
    Secret(String, String),
    Field(String),
}

fn lit(v: &str) -> E {
    E::Lit(v.into())
}

fn sec(name: &str, key: &str) -> E {
    E::Secret(name.into(), key.into())
}

fn render(p: &SupabaseProject, c: Component) -> ComponentObjects {
    component(p, c, "hash-1").expect("renders")
}

fn pod(o: &ComponentObjects) -> &PodSpec {
    o.deployment.spec.as_ref().and_then(|s| s.template.spec.as_ref()).expect("pod spec")
}

fn container(o: &ComponentObjects) -> &Container {
    &pod(o).containers[0]
}

fn as_e(v: &EnvVar) -> E {
    match (&v.value, &v.value_from) {
        (Some(s), None) => E::Lit(s.clone()),
        (None, Some(from)) => match (&from.secret_key_ref, &from.field_ref) {
            (Some(r), None) => E::Secret(r.name.clone(), r.key.clone()),
            (None, Some(f)) => E::Field(f.field_path.clone()),
            other => panic!("{}: only secretKeyRef and fieldRef sources: {other:?}", v.name),
        },
        other => panic!("{}: neither a literal nor a secretKeyRef: {other:?}", v.name),
    }
}

fn env_map(env: &[EnvVar]) -> BTreeMap<String, E> {
    let map: BTreeMap<String, E> = env.iter().map(|v| (v.name.clone(), as_e(v))).collect();
    assert_eq!(map.len(), env.len(), "a variable is set twice");
    map
}

fn golden(p: &SupabaseProject, c: Component, expected: &[(&str, E)]) {
    let o = render(p, c);
    let env = container(&o).env.clone().unwrap_or_default();
    let got = env_map(&env);
    let want: BTreeMap<String, E> = expected.iter().map(|(k, v)| (k.to_string(), v.clone())).collect();
    for (k, v) in &want {
        assert_eq!(got.get(k), Some(v), "{c}: {k}");
    }
    let extra: Vec<_> = got.keys().filter(|k| !want.contains_key(*k)).collect();
    assert!(extra.is_empty(), "{c}: unexpected variables {extra:?}");
    // `$(VAR)` references must point to a variable defined earlier, or the kubelet leaves
    // them unexpanded.
    for (i, v) in env.iter().enumerate() {
        let value = v.value.clone().unwrap_or_default();
        for part in value.split("$(").skip(1) {
            let name = part.split(')').next().unwrap_or_default();
            assert!(env[..i].iter().any(|e| e.name == name), "{c}: {} refers to {name} before it is set", v.name);
        }
    }
}

const DB: &str = "demo-db";
const JWT: &str = "demo-jwt-user";

fn pg_vars() -> Vec<(&'static str, E)> {
    vec![
        ("PGHOST", sec(DB, "h")),
        ("PGPORT", sec(DB, "p")),
        ("PGDATABASE", sec(DB, "d")),
        ("PGPASSWORD", sec(DB, "pw")),
    ]
}

#[test]
fn kong_env_is_upstreams() {
    golden(
        &full(),
        Component::Kong,
        &[
            // Upstream's (docker/docker-compose.kong.yml @1f37f2a9).
            ("KONG_DATABASE", lit("off")),
            ("KONG_ROUTER_FLAVOR", lit("expressions")),
            ("KONG_DNS_ORDER", lit("LAST,A,CNAME")),
            ("KONG_DNS_NOT_FOUND_TTL", lit("1")),
            ("KONG_DNS_VALID_TTL", lit("5")),
            (
                "KONG_PLUGINS",
                lit(
                    "request-transformer,cors,key-auth,acl,basic-auth,request-termination,ip-restriction,post-function",
                ),
            ),
            ("KONG_NGINX_PROXY_PROXY_BUFFER_SIZE", lit("160k")),
            ("KONG_NGINX_PROXY_PROXY_BUFFERS", lit("64 160k")),
            ("KONG_PROXY_ACCESS_LOG", lit("/dev/stdout combined")),
            // The operator's: the rendered file in its memory emptyDir, the template in the
            // ConfigMap, Kong's prefix on an emptyDir (read-only root), two workers.
            ("KONG_DECLARATIVE_CONFIG", lit("/opt/supabase-kong/kong.json")),
            ("SUPABASE_KONG_TEMPLATE", lit("/etc/supabase-kong/kong.json")),
            ("KONG_PREFIX", lit("/kong_prefix")),
            ("KONG_NGINX_WORKER_PROCESSES", lit("2")),
            ("SUPABASE_ANON_KEY", sec(JWT, "a")),
            ("SUPABASE_SERVICE_KEY", sec(JWT, "k")),
            ("DASHBOARD_USERNAME", sec("demo-dash", "u")),
            ("DASHBOARD_PASSWORD", sec("demo-dash", "pw")),
            // The user's extra variable, after the operator's.
            ("KONG_LOG_LEVEL", lit("debug")),
        ],
    );
}

#[test]
fn auth_env_is_upstreams() {
    let mut want = vec![
        ("GOTRUE_API_HOST", lit("0.0.0.0")),
        ("GOTRUE_API_PORT", lit("9999")),
        // The gateway's URL plus Auth's prefix, as upstream's API_EXTERNAL_URL now is.
        ("API_EXTERNAL_URL", lit("https://api.demo.example.com/auth/v1")),
        ("GOTRUE_DB_DRIVER", lit("postgres")),
        (
            "GOTRUE_DB_DATABASE_URL",
            lit("postgres://supabase_auth_admin@$(PGHOST):$(PGPORT)/$(PGDATABASE)?sslmode=require"),
        ),
        ("GOTRUE_SITE_URL", lit("https://app.demo.example.com")),
        ("GOTRUE_URI_ALLOW_LIST", lit("https://a.example.com,https://b.example.com")),
        ("GOTRUE_DISABLE_SIGNUP", lit("true")),
        ("GOTRUE_JWT_ADMIN_ROLES", lit("service_role")),
        ("GOTRUE_JWT_AUD", lit("authenticated")),
        ("GOTRUE_JWT_DEFAULT_GROUP_NAME", lit("authenticated")),
        ("GOTRUE_JWT_EXP", lit("7200")),
        ("GOTRUE_JWT_SECRET", sec(JWT, "s")),
        ("GOTRUE_JWT_ISSUER", lit("https://api.demo.example.com/auth/v1")),
        ("GOTRUE_EXTERNAL_PHONE_ENABLED", lit("false")),
        ("GOTRUE_EXTERNAL_EMAIL_ENABLED", lit("false")),
        ("GOTRUE_EXTERNAL_ANONYMOUS_USERS_ENABLED", lit("true")),
        ("GOTRUE_MAILER_AUTOCONFIRM", lit("true")),
        ("GOTRUE_MAILER_URLPATHS_INVITE", lit("/auth/v1/verify")),
        ("GOTRUE_MAILER_URLPATHS_CONFIRMATION", lit("/auth/v1/verify")),
        ("GOTRUE_MAILER_URLPATHS_RECOVERY", lit("/auth/v1/verify")),
        ("GOTRUE_MAILER_URLPATHS_EMAIL_CHANGE", lit("/auth/v1/verify")),
        ("GOTRUE_SMTP_ADMIN_EMAIL", lit("no-reply@example.com")),
        ("GOTRUE_SMTP_HOST", lit("smtp.example.com")),
        ("GOTRUE_SMTP_PORT", lit("2525")),
        ("GOTRUE_SMTP_USER", sec("demo-smtp", "u")),
        ("GOTRUE_SMTP_PASS", sec("demo-smtp", "pw")),
        ("GOTRUE_SMTP_SENDER_NAME", lit("Demo")),
    ];
    want.extend(pg_vars());
    golden(&full(), Component::Auth, &want);
}

#[test]
fn rest_env_is_upstreams() {
    let mut want = vec![
        ("PGRST_DB_URI", lit("postgres://authenticator@$(PGHOST):$(PGPORT)/$(PGDATABASE)?sslmode=require")),
        ("PGRST_DB_SCHEMAS", lit("public,api")),
        ("PGRST_DB_MAX_ROWS", lit("50")),
        ("PGRST_DB_EXTRA_SEARCH_PATH", lit("public")),
        ("PGRST_DB_ANON_ROLE", lit("anon")),
        ("PGRST_JWT_SECRET", sec(JWT, "s")),
        ("PGRST_DB_USE_LEGACY_GUCS", lit("false")),
        ("PGRST_APP_SETTINGS_JWT_EXP", lit("7200")),
        ("PGRST_SERVER_PORT", lit("3000")),
        ("PGRST_ADMIN_SERVER_PORT", lit("3001")),
    ];
    want.extend(pg_vars());
    golden(&full(), Component::Rest, &want);
}

#[test]
fn realtime_env_is_upstreams() {
    golden(
        &full(),
        Component::Realtime,
        &[
            ("PORT", lit("4000")),
            ("DB_HOST", sec(DB, "h")),
            ("DB_PORT", sec(DB, "p")),
            ("DB_NAME", sec(DB, "d")),
            ("DB_USER", lit("supabase_admin")),
            ("DB_PASSWORD", sec(DB, "pw")),
            ("DB_SSL", lit("true")),
            ("DB_AFTER_CONNECT_QUERY", lit("SET search_path TO _realtime")),
            ("DB_ENC_KEY", sec("demo-rt", "enc")),
            ("API_JWT_SECRET", sec(JWT, "s")),
            ("METRICS_JWT_SECRET", sec(JWT, "s")),
            ("SECRET_KEY_BASE", sec("demo-rt", "skb")),
            ("ERL_AFLAGS", lit("-proto_dist inet_tcp")),
            ("APP_NAME", lit("realtime")),
            ("SEED_SELF_HOST", lit("true")),
            ("SELF_HOST_TENANT_NAME", lit("demo-realtime")),
            ("RUN_JANITOR", lit("true")),
            ("DNS_NODES", lit("''")),
            ("RLIMIT_NOFILE", lit("10000")),
            ("DISABLE_HEALTHCHECK_LOGGING", lit("true")),
            ("POD_IP", E::Field("status.podIP".into())),
            ("CLUSTER_STRATEGIES", lit("POSTGRES")),
            ("RELEASE_COOKIE", sec("demo-internal", "releaseCookie")),
        ],
    );
}

#[test]
fn storage_env_is_upstreams_s3_variant() {
    let mut want = vec![
        ("ANON_KEY", sec(JWT, "a")),
        ("SERVICE_KEY", sec(JWT, "k")),
        ("POSTGREST_URL", lit("http://demo-rest:3000")),
        ("AUTH_JWT_SECRET", sec(JWT, "s")),
        ("PGRST_JWT_SECRET", sec(JWT, "s")),
        ("S3_PROTOCOL_ACCESS_KEY_ID", sec("demo-internal", "s3ProtocolAccessKeyId")),
        ("S3_PROTOCOL_ACCESS_KEY_SECRET", sec("demo-internal", "s3ProtocolAccessKeySecret")),
        (
            "DATABASE_URL",
            lit(
                "postgres://supabase_storage_admin@$(PGHOST):$(PGPORT)/$(PGDATABASE)?uselibpqcompat=true&sslmode=require",
            ),
        ),
        ("STORAGE_PUBLIC_URL", lit("https://api.demo.example.com")),
        ("REQUEST_ALLOW_X_FORWARDED_PATH", lit("true")),
        ("FILE_SIZE_LIMIT", lit("1000")),
        ("STORAGE_BACKEND", lit("s3")),
        ("TENANT_ID", lit("demo")),
        ("ENABLE_IMAGE_TRANSFORMATION", lit("false")),
        ("GLOBAL_S3_BUCKET", lit("demo-bucket")),
        ("REGION", lit("eu-west-1")),
        ("GLOBAL_S3_ENDPOINT", lit("https://minio.example.com")),
        ("GLOBAL_S3_FORCE_PATH_STYLE", lit("true")),
        ("AWS_ACCESS_KEY_ID", sec("demo-s3", "id")),
        ("AWS_SECRET_ACCESS_KEY", sec("demo-s3", "sk")),
    ];
    want.extend(pg_vars());
    golden(&full(), Component::Storage, &want);
}

#[test]
fn storage_env_with_the_file_backend() {
    golden(
        &minimal(),
        Component::Storage,
        &[
            ("ANON_KEY", sec("demo-jwt", "anonKey")),
            ("SERVICE_KEY", sec("demo-jwt", "serviceKey")),
            ("POSTGREST_URL", lit("http://demo-rest:3000")),
            ("AUTH_JWT_SECRET", sec("demo-jwt", "secret")),
            ("PGRST_JWT_SECRET", sec("demo-jwt", "secret")),
            ("S3_PROTOCOL_ACCESS_KEY_ID", sec("demo-internal", "s3ProtocolAccessKeyId")),
            ("S3_PROTOCOL_ACCESS_KEY_SECRET", sec("demo-internal", "s3ProtocolAccessKeySecret")),
            ("PGHOST", sec(DB, "host")),
            ("PGPORT", sec(DB, "port")),
            ("PGDATABASE", sec(DB, "database")),
            ("PGPASSWORD", sec(DB, "password")),
            // node-postgres would require TLS for `prefer`: the mode stays out of the URL.
            ("DATABASE_URL", lit("postgres://supabase_storage_admin@$(PGHOST):$(PGPORT)/$(PGDATABASE)")),
            ("STORAGE_PUBLIC_URL", lit("https://api.demo.example.com")),
            ("REQUEST_ALLOW_X_FORWARDED_PATH", lit("true")),
            ("FILE_SIZE_LIMIT", lit("52428800")),
            ("STORAGE_BACKEND", lit("file")),
            ("TENANT_ID", lit("demo")),
            ("ENABLE_IMAGE_TRANSFORMATION", lit("false")),
            ("GLOBAL_S3_BUCKET", lit("stub")),
            ("REGION", lit("local")),
            ("FILE_STORAGE_BACKEND_PATH", lit("/var/lib/storage")),
        ],
    );
    let o = render(&minimal(), Component::Storage);
    let mounts = container(&o).volume_mounts.clone().unwrap_or_default();
    assert!(mounts.iter().any(|m| m.mount_path == "/var/lib/storage"), "the file backend has a volume");
}

#[test]
fn meta_env_is_upstreams() {
    golden(
        &full(),
        Component::Meta,
        &[
            ("PG_META_HOST", lit("0.0.0.0")),
            ("PG_META_PORT", lit("8080")),
            // The password only in PGPASSWORD, never in a URL (see meta.rs).
            ("PGHOST", sec(DB, "h")),
            ("PGPORT", sec(DB, "p")),
            ("PGDATABASE", sec(DB, "d")),
            ("PGPASSWORD", sec(DB, "pw")),
            (
                "PG_META_DB_URL",
                lit("postgres://supabase_admin@$(PGHOST):$(PGPORT)/$(PGDATABASE)?uselibpqcompat=true&sslmode=require"),
            ),
            ("CRYPTO_KEY", sec("demo-meta", "ck")),
        ],
    );
}

#[test]
fn studio_env_is_upstreams() {
    golden(
        &full(),
        Component::Studio,
        &[
            // A dual-stack socket: IPv4-only, dual-stack and IPv6-only clusters.
            ("HOSTNAME", lit("::")),
            ("STUDIO_PG_META_URL", lit("http://demo-meta:8080")),
            ("POSTGRES_HOST", sec(DB, "h")),
            ("POSTGRES_PORT", sec(DB, "p")),
            ("POSTGRES_DB", sec(DB, "d")),
            // The derived, percent-encoded copy, never the database Secret's own key.
            ("POSTGRES_PASSWORD", sec("demo-internal", "studioPostgresPassword")),
            ("POSTGRES_USER_READ_WRITE", lit("supabase_admin")),
            ("PG_META_CRYPTO_KEY", sec("demo-meta", "ck")),
            ("PGRST_DB_SCHEMAS", lit("public,api")),
            ("PGRST_DB_MAX_ROWS", lit("50")),
            ("PGRST_DB_EXTRA_SEARCH_PATH", lit("public")),
            ("DEFAULT_ORGANIZATION_NAME", lit("Acme")),
            ("DEFAULT_PROJECT_NAME", lit("Demo")),
            ("SUPABASE_URL", lit("http://demo-kong:8000")),
            ("SUPABASE_PUBLIC_URL", lit("https://api.demo.example.com")),
            ("SUPABASE_ANON_KEY", sec(JWT, "a")),
            ("SUPABASE_SERVICE_KEY", sec(JWT, "k")),
            ("AUTH_JWT_SECRET", sec(JWT, "s")),
            ("ENABLED_FEATURES_LOGS_ALL", lit("false")),
            ("NEXT_PUBLIC_ENABLE_LOGS", lit("false")),
            ("SNIPPETS_MANAGEMENT_FOLDER", lit("/app/snippets")),
            ("EDGE_FUNCTIONS_MANAGEMENT_FOLDER", lit("/app/edge-functions")),
            ("OPENAI_API_KEY", sec("demo-ai", "openaiApiKey")),
        ],
    );
}

#[test]
fn generated_secrets_are_referenced_when_the_spec_names_none() {
    let p = minimal();
    let auth = env_map(container(&render(&p, Component::Auth)).env.as_deref().unwrap_or_default());
    assert_eq!(auth.get("GOTRUE_JWT_SECRET"), Some(&sec("demo-jwt", "secret")));
    assert!(!auth.keys().any(|k| k.starts_with("GOTRUE_SMTP_")), "no SMTP without spec.smtp");
    assert_eq!(
        auth.get("GOTRUE_DB_DATABASE_URL"),
        Some(&lit("postgres://supabase_auth_admin@$(PGHOST):$(PGPORT)/$(PGDATABASE)?sslmode=prefer"))
    );
    let rt = env_map(container(&render(&p, Component::Realtime)).env.as_deref().unwrap_or_default());
    assert_eq!(rt.get("SECRET_KEY_BASE"), Some(&sec("demo-internal", "secretKeyBase")));
    assert_eq!(rt.get("DB_ENC_KEY"), Some(&sec("demo-internal", "dbEncKey")));
    assert_eq!(rt.get("DB_SSL"), Some(&lit("false")), "prefer: plain for a client without fallback");
    let meta = env_map(container(&render(&p, Component::Meta)).env.as_deref().unwrap_or_default());
    assert_eq!(meta.get("CRYPTO_KEY"), Some(&sec("demo-internal", "cryptoKey")));
    let url = meta.get("PG_META_DB_URL");
    assert_eq!(url, Some(&lit("postgres://supabase_admin@$(PGHOST):$(PGPORT)/$(PGDATABASE)")), "prefer: plain");
    let kong = env_map(container(&render(&p, Component::Kong)).env.as_deref().unwrap_or_default());
    assert!(!kong.contains_key("DASHBOARD_PASSWORD"), "no dashboard credentials without Studio");
}

#[test]
fn literal_database_values_are_percent_encoded_into_the_url() {
    let p = literal_db();
    let rest = env_map(container(&render(&p, Component::Rest)).env.as_deref().unwrap_or_default());
    assert_eq!(
        rest.get("PGRST_DB_URI"),
        Some(&lit("postgres://authenticator@pg-rw.db.svc:6543/my%20db%2F1?sslmode=prefer"))
    );
    assert_eq!(rest.get("PGHOST"), Some(&lit("pg-rw.db.svc")));
    assert_eq!(rest.get("PGDATABASE"), Some(&lit("my db/1")));
    assert_eq!(rest.get("PGPASSWORD"), Some(&sec(DB, "password")));
}

/// Names of variables that hold a secret, whatever the component.
fn secret_like(name: &str) -> bool {
    ["PASSWORD", "_PASS", "SECRET", "_KEY", "KEY_BASE", "ACCESS_KEY_ID", "SMTP_USER", "DASHBOARD_USERNAME"]
        .iter()
        .any(|s| name.contains(s))
}

fn all_objects(p: &SupabaseProject) -> Vec<serde_json::Value> {
    let mut out = Vec::new();
    for e in &CATALOG {
        let o = render(p, e.component);
        out.push(serde_json::to_value(&o.service).expect("json"));
        out.push(serde_json::to_value(&o.deployment).expect("json"));
        out.extend(o.config_maps.iter().map(|c| serde_json::to_value(c).expect("json")));
    }
    let (cm, job) = db_init(p).expect("db init");
    out.push(serde_json::to_value(&cm).expect("json"));
    out.push(serde_json::to_value(&job).expect("json"));
    out
}

fn containers_of(o: &serde_json::Value) -> Vec<Container> {
    let spec = o.pointer("/spec/template/spec/containers").cloned().unwrap_or_default();
    serde_json::from_value(spec).unwrap_or_default()
}

#[test]
fn every_secret_reaches_containers_through_secret_key_ref_only() {
    for p in [full(), minimal(), literal_db()] {
        let mut seen = 0;
        for o in all_objects(&p) {
            for c in containers_of(&o) {
                for v in c.env.unwrap_or_default() {
                    if secret_like(&v.name) && v.name != "SUPABASE_KONG_TEMPLATE" {
                        seen += 1;
                        assert!(v.value.is_none(), "{}: {} has a literal value", c.name, v.name);
                        assert!(
                            v.value_from.and_then(|f| f.secret_key_ref).is_some(),
                            "{}: {} is not from a secretKeyRef",
                            c.name,
                            v.name
                        );
                    }
                    // No URL carries a password (`user:password@`).
                    let value = v.value.unwrap_or_default();
                    if let Some(rest) = value.strip_prefix("postgres://") {
                        let userinfo = rest.split('@').next().unwrap_or_default();
                        assert!(!userinfo.contains(':'), "{}: {} has a password in its URL", c.name, v.name);
                    }
                }
            }
        }
        assert!(seen > 20, "the check saw the secrets ({seen})");
    }
}

#[test]
fn no_object_contains_a_secret_value_from_the_spec_or_a_placeholder_filled_too_early() {
    // The renderer sees no Secret data; what it writes about secrets are references.
    // The ConfigMaps (Kong's template, the SQL) keep placeholders only.
    for o in all_objects(&full()) {
        let text = o.to_string();
        assert!(!text.contains("{{"), "an unfilled render-time placeholder: {text}");
        if o["kind"] == "ConfigMap" {
            assert!(!text.contains("secretKeyRef"));
        }
    }
    let kong = render(&full(), Component::Kong);
    let template = &kong.config_maps[0].data.as_ref().expect("data")[kong::TEMPLATE_KEY];
    for placeholder in
        ["${SUPABASE_ANON_KEY}", "${SUPABASE_SERVICE_KEY}", "${DASHBOARD_USERNAME}", "${DASHBOARD_PASSWORD}"]
    {
        assert!(template.contains(placeholder), "{placeholder} missing");
    }
}

#[test]
fn consumed_lists_exactly_the_secret_values_each_component_reads() {
    let p = full();
    // Map each (secret, key) back to the value it holds.
    let all = [
        Value::DbHost,
        Value::DbPort,
        Value::DbName,
        Value::DbPassword,
        Value::JwtSecret,
        Value::AnonKey,
        Value::ServiceKey,
        Value::S3AccessKeyId,
        Value::S3SecretAccessKey,
        Value::SmtpUsername,
        Value::SmtpPassword,
        Value::DashboardUsername,
        Value::DashboardPassword,
        Value::RealtimeSecretKeyBase,
        Value::RealtimeDbEncKey,
        Value::MetaCryptoKey,
        Value::RealtimeReleaseCookie,
        Value::StorageS3ProtocolKeyId,
        Value::StorageS3ProtocolKeySecret,
        Value::StudioOpenAiKey,
        Value::StudioDbPassword,
    ];
    let by_ref: BTreeMap<(String, String), Value> = all
        .iter()
        .filter_map(|v| match crds::refs::source("demo", &p.spec, *v) {
            Some(Source::Secret { name, key, .. }) => Some(((name, key), *v)),
            _ => None,
        })
        .collect();
    for e in &CATALOG {
        let o = render(&p, e.component);
        let mut read: Vec<Value> = container(&o)
            .env
            .clone()
            .unwrap_or_default()
            .iter()
            .filter_map(|v| v.value_from.as_ref()?.secret_key_ref.as_ref())
            .map(|r| by_ref[&(r.name.clone(), r.key.clone())])
            .collect();
        read.sort();
        read.dedup();
        assert_eq!(read, consumed(e.component, &p.spec), "{}", e.name);
    }
}

#[test]
fn every_object_is_owned_labelled_and_in_the_project_namespace() {
    let p = full();
    for o in all_objects(&p) {
        let kind = o["kind"].as_str().unwrap_or_default().to_string();
        assert_eq!(o["metadata"]["namespace"], "ns", "{kind}");
        let owners = o["metadata"]["ownerReferences"].as_array().cloned().unwrap_or_default();
        assert_eq!(owners.len(), 1, "{kind}");
        assert_eq!(owners[0]["kind"], "SupabaseProject");
        assert_eq!(owners[0]["name"], "demo");
        assert_eq!(owners[0]["uid"], "0b5c1f5e-1111-2222-3333-444455556666");
        assert_eq!(owners[0]["controller"], true);
        let labels = &o["metadata"]["labels"];
        assert_eq!(labels["app.kubernetes.io/name"], "supabase", "{kind}");
        assert_eq!(labels["app.kubernetes.io/instance"], "demo", "{kind}");
        assert_eq!(labels["app.kubernetes.io/managed-by"], crds::MANAGER, "{kind}");
    }
}

#[test]
fn deployments_and_services_select_the_component_pods() {
    let p = full();
    for e in &CATALOG {
        let o = render(&p, e.component);
        let name = format!("demo-{}", e.name);
        assert_eq!(o.deployment.metadata.name.as_deref(), Some(name.as_str()));
        assert_eq!(o.service.metadata.name.as_deref(), Some(name.as_str()));
        let selector = crds::names::selector("demo", e.name);
        let spec = o.deployment.spec.as_ref().expect("spec");
        assert_eq!(spec.selector.match_labels.as_ref(), Some(&selector));
        let pod_labels = spec.template.metadata.as_ref().and_then(|m| m.labels.clone()).unwrap_or_default();
        assert!(selector.iter().all(|(k, v)| pod_labels.get(k) == Some(v)), "{}: pods match the selector", e.name);
        let annotations = spec.template.metadata.as_ref().and_then(|m| m.annotations.clone()).unwrap_or_default();
        assert_eq!(annotations.get(CONFIG_HASH_ANNOTATION).map(String::as_str), Some("hash-1"));

        let svc = o.service.spec.as_ref().expect("service spec");
        assert_eq!(svc.type_.as_deref(), Some("ClusterIP"));
        assert_eq!(svc.selector.as_ref(), Some(&selector));
        let ports = svc.ports.clone().unwrap_or_default();
        assert_eq!(ports.len(), 1);
        assert_eq!(ports[0].port, e.port);
        assert_eq!(ports[0].protocol.as_deref(), Some("TCP"));
        // The Service's named target port exists on the container, on the catalog port.
        let c = container(&o);
        let http = c.ports.clone().unwrap_or_default().into_iter().find(|cp| cp.name.as_deref() == Some("http"));
        assert_eq!(http.map(|cp| (cp.container_port, cp.protocol)), Some((e.port, Some("TCP".into()))));
    }
}

#[test]
fn every_container_is_hardened_and_probed_from_the_catalog() {
    let mut pods = 0;
    for o in all_objects(&full()) {
        let Some(pod) = o.pointer("/spec/template/spec").cloned() else { continue };
        pods += 1;
        assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
        assert_eq!(pod["securityContext"]["seccompProfile"]["type"], "RuntimeDefault");
        assert_eq!(pod["automountServiceAccountToken"], false);
        assert_eq!(pod["enableServiceLinks"], false);
        for c in containers_of(&o) {
            let sc = c.security_context.clone().expect("security context");
            assert_eq!(sc.allow_privilege_escalation, Some(false), "{}", c.name);
            assert_eq!(sc.capabilities.and_then(|c| c.drop), Some(vec!["ALL".to_string()]), "{}", c.name);
            assert_eq!(sc.run_as_non_root, Some(true), "{}", c.name);
            assert!(sc.run_as_user.is_some_and(|u| u > 0), "{}: a numeric non-root uid", c.name);
            assert_eq!(sc.seccomp_profile.map(|s| s.type_), Some("RuntimeDefault".into()));
            let r = c.resources.clone().expect("resources");
            assert!(r.limits.is_some_and(|l| l.contains_key("memory") && l.contains_key("cpu")), "{}", c.name);
        }
    }
    assert_eq!(pods, CATALOG.len() + 1, "every Deployment and the Job");
    let p = full();
    for e in &CATALOG {
        let c = container(&render(&p, e.component)).clone();
        let probe = c.readiness_probe.expect("readiness probe");
        match e.readiness {
            crds::catalog::Probe::Exec(cmd) => {
                assert_eq!(probe.exec.and_then(|x| x.command), Some(cmd.iter().map(|s| s.to_string()).collect()))
            }
            crds::catalog::Probe::Http { path, port } => {
                let get = probe.http_get.expect("httpGet");
                assert_eq!((get.path.as_deref(), get.port), (Some(path), IntOrString::Int(port)), "{}", e.name);
                let ports: Vec<i32> = c.ports.clone().unwrap_or_default().iter().map(|p| p.container_port).collect();
                assert!(ports.contains(&port), "{}: the probe's port is a container port", e.name);
            }
            crds::catalog::Probe::Tcp { port } => {
                assert_eq!(probe.tcp_socket.map(|t| t.port), Some(IntOrString::Int(port)))
            }
        }
    }
}

use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

#[test]
fn workload_settings_come_from_the_spec() {
    let o = render(&full(), Component::Kong);
    let spec = o.deployment.spec.as_ref().expect("spec");
    assert_eq!(spec.replicas, Some(2));
    let c = container(&o);
    assert_eq!(c.image.as_deref(), Some("registry.example.com/kong:3.9.1"));
    let limits = c.resources.clone().and_then(|r| r.limits).unwrap_or_default();
    assert_eq!(limits.get("memory").map(|q| q.0.as_str()), Some("1Gi"));
    let pod = pod(&o);
    assert_eq!(pod.node_selector.clone().unwrap_or_default().get("pool").map(String::as_str), Some("edge"));
    assert_eq!(pod.tolerations.clone().unwrap_or_default().len(), 1);
    let env = c.env.clone().unwrap_or_default();
    assert_eq!(env.last().map(|v| v.name.as_str()), Some("KONG_LOG_LEVEL"), "user env comes last");

    // The catalog's values arrive through `defaults`, never through a fallback in a
    // builder: a spec whose defaults are gone is refused, naming what it lacks.
    let o = render(&minimal(), Component::Auth);
    assert_eq!(container(&o).image.as_deref(), Some(Component::Auth.entry().image()));
    assert_eq!(o.deployment.spec.as_ref().and_then(|s| s.replicas), Some(1));
    let mut p = minimal();
    p.spec.components = None;
    let refused = component(&p, Component::Auth, "h").expect_err("a spec that was not defaulted");
    assert!(refused.to_string().contains("spec.components has no value"), "{refused}");
}

#[test]
fn replicas_zero_is_kept() {
    let mut p = minimal();
    if let Some(w) = p.spec.components.as_mut().and_then(|c| c.rest.as_mut()) {
        w.workload.replicas = Some(0);
    }
    assert_eq!(render(&p, Component::Rest).deployment.spec.and_then(|s| s.replicas), Some(0));
}

#[test]
fn a_project_without_uid_or_namespace_is_refused() {
    let mut p = minimal();
    p.metadata.uid = None;
    assert!(matches!(component(&p, Component::Kong, "h"), Err(Error::Render(_))));
    assert!(db_init(&p).is_err());
    let mut p = minimal();
    p.metadata.namespace = None;
    assert!(component(&p, Component::Auth, "h").is_err());
}

#[test]
fn a_config_change_changes_the_config_maps_hash() {
    let hash = |p: &SupabaseProject| {
        let o = render(p, Component::Kong);
        let meta = o.deployment.spec.and_then(|s| s.template.metadata).unwrap_or_default();
        meta.annotations.unwrap_or_default().get(CONFIG_MAPS_HASH_ANNOTATION).cloned()
    };
    let mut with_studio = full();
    let without = {
        let mut p = full();
        if let Some(s) = p.spec.components.as_mut().and_then(|c| c.studio.as_mut()) {
            s.enabled = Some(false);
        }
        p
    };
    assert!(hash(&with_studio).is_some());
    assert_ne!(hash(&with_studio), hash(&without));
    with_studio.metadata.resource_version = Some("7".into());
    assert_eq!(hash(&with_studio), hash(&full()), "stable for the same config");
}

#[test]
fn rendering_is_deterministic() {
    // The controller re-applies what it renders on every reconcile: the same project must
    // give byte-identical objects, or every reconcile would be a write.
    for p in [full(), minimal(), literal_db()] {
        let a: Vec<String> = all_objects(&p).iter().map(|o| o.to_string()).collect();
        let b: Vec<String> = all_objects(&p).iter().map(|o| o.to_string()).collect();
        assert_eq!(a, b);
    }
}

#[test]
fn the_db_init_job_uses_literal_database_values_as_given() {
    let (_, job) = db_init(&literal_db()).expect("renders");
    let c = job.spec.and_then(|s| s.template.spec).map(|s| s.containers[0].clone()).expect("container");
    let env = env_map(c.env.as_deref().unwrap_or_default());
    assert_eq!(env.get("PGHOST"), Some(&lit("pg-rw.db.svc")));
    assert_eq!(env.get("PGPORT"), Some(&lit("6543")));
    assert_eq!(env.get("PGDATABASE"), Some(&lit("my db/1")));
    assert_eq!(env.get("PGPASSWORD"), Some(&sec(DB, "password")));
}

/// A builder that sets a variable its component's description does not list is refused at
/// render time: the webhook would not protect that variable from the user's `env`.
#[test]
fn a_variable_missing_from_the_description_is_not_rendered() {
    let p = minimal();
    let ctx = Ctx::new(&p).unwrap();
    let described = Rendered {
        env: vec![EnvVar { name: "PG_META_PORT".into(), value: Some("8080".into()), ..Default::default() }],
        ..Default::default()
    };
    assert!(container::deployment(&ctx, Component::Meta, described, "h").is_ok());
    let undescribed = Rendered {
        env: vec![EnvVar { name: "PG_META_SOMETHING_NEW".into(), value: Some("1".into()), ..Default::default() }],
        ..Default::default()
    };
    let err = container::deployment(&ctx, Component::Meta, undescribed, "h").unwrap_err().to_string();
    assert!(err.contains("PG_META_SOMETHING_NEW") && err.contains("crds/src/catalog/meta.rs"), "{err}");
}
