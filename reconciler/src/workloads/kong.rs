//! Kong, the API gateway: declarative config (no database) from a ConfigMap, with the API
//! keys and dashboard credentials substituted at container start from Secret env vars.
//!
//! Upstream: supabase/supabase @1f37f2a9d82df788cb026dd9d25c4125e26da715,
//! `docker/docker-compose.kong.yml` (env, entrypoint), `docker/volumes/api/kong.yml` (routes) and
//! `docker/volumes/api/kong-entrypoint.sh` (how values are formed). `reconciler/contracts/kong.toml`
//! lists every upstream item and how this renderer matches it (or why it leaves it out).
//!
//! Where the operator departs from upstream's mechanics, it is on purpose:
//! - the template is JSON (a subset of YAML) with `${VAR}` placeholders filled by
//!   `kong-entrypoint.sh`, which escapes every value for a JSON string and fails on a missing
//!   variable; upstream's awk leaves an unknown `$VAR` in place and writes values unescaped;
//! - the keys reach Kong only as env vars from the Secret and land in a memory-backed emptyDir,
//!   never in the ConfigMap;
//! - what upstream's entrypoint computes from env at start (the legacy-key Lua expressions,
//!   the OAuth metadata path) is computed here, so the ConfigMap shows the exact config and
//!   tests check it.
//!
//! Routes mix path routes and one expression route under `KONG_ROUTER_FLAVOR=expressions`,
//! as upstream does. Kong accepts `paths` routes in the expressions flavor with their
//! traditional meaning since 3.7.0 (Kong/kong CHANGELOG.md, #12667; "Traditional router" in
//! Kong's docs: "available when router_flavor is traditional_compat or expressions"), and an
//! expression route outranks every path route (`EXPRESSION_ONLY_BIT` in
//! kong/router/transform.lua). Kong 3.9.1 and 3.9.3 share that router (Kong/kong tags
//! b724fc71…, a643428b…: no change under kong/router), so projects still on 3.9.1 get the same.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use crds::Component;
use crds::refs::Value;
use k8s_openapi::api::core::v1::{ConfigMapVolumeSource, EmptyDirVolumeSource, Volume, VolumeMount};
use serde_json::Value as Json;

use super::env::Env;
use super::{Ctx, Rendered, config_map};
use crate::Error;

#[cfg(test)]
mod contract;
#[cfg(test)]
mod router;

const TEMPLATE: &str = include_str!("kong.yml");
const DASHBOARD: &str = include_str!("kong-dashboard.yml");
const FUNCTIONS: &str = include_str!("kong-functions.yml");
const ENTRYPOINT: &str = include_str!("kong-entrypoint.sh");

/// Where the ConfigMap (template and entrypoint) is mounted.
pub(super) const CONFIG_DIR: &str = "/etc/supabase-kong";
/// The emptyDir the entrypoint writes the rendered config into.
pub(super) const RENDERED_DIR: &str = "/opt/supabase-kong";
/// Kong's prefix (nginx config, pid, sockets, request-body and proxy buffers on disk), an
/// emptyDir so that the root filesystem can be read-only. The image's own prefix,
/// `/usr/local/kong`, also holds bundled files (Kong/kong build/package/nfpm.yaml @3.9.3:
/// `include/`, the `kong/` tree), so it cannot be covered by an emptyDir. Kong's own chart
/// moves the prefix the same way (Kong/charts charts/kong/values.yaml
/// @006c5ad7626a7fb02b5ef290fb0ccf9eb6e77d57: `prefix: /kong_prefix/`, readOnlyRootFilesystem).
pub(super) const PREFIX_DIR: &str = "/kong_prefix";
/// Scratch space: Kong's CLI (`kong prepare`, and `kong health` in the probe) runs shell
/// commands through penlight, which captures their output in temporary files under `/tmp`.
pub(super) const TMP_DIR: &str = "/tmp";
/// ConfigMap key of the declarative config template. JSON (a subset of YAML) so that every
/// value the entrypoint substitutes sits in a double-quoted string, whatever its content.
pub(super) const TEMPLATE_KEY: &str = "kong.json";
/// ConfigMap key of the entrypoint script.
pub(super) const ENTRYPOINT_KEY: &str = "entrypoint.sh";

/// Upstream's `KONG_PLUGINS` (docker-compose.kong.yml @1f37f2a9). `ip-restriction` is for
/// upstream's commented-out local MCP access; loaded, as upstream does, so that a route a user
/// adds the same way works.
pub(super) const PLUGINS: &str =
    "request-transformer,cors,key-auth,acl,basic-auth,request-termination,ip-restriction,post-function";

/// The RFC 8414 metadata path of Auth's issuer, as upstream's kong-entrypoint.sh builds it
/// from `JWT_ISSUER` (= `API_EXTERNAL_URL`, Auth's `API_EXTERNAL_URL`: `auth::external_url`):
/// without terminating slashes, the issuer's path goes after the well-known segment
/// (RFC 8414 §3.1). A query or fragment is not part of an issuer (§2) and is dropped.
pub(super) fn well_known_oauth_path(issuer: &str) -> Result<String, Error> {
    const SEGMENT: &str = "/.well-known/oauth-authorization-server";
    let rest = issuer
        .strip_prefix("https://")
        .or_else(|| issuer.strip_prefix("http://"))
        .ok_or_else(|| Error::Render("kong: apiExternalUrl must start with http:// or https://".into()))?;
    let rest = rest.split(['?', '#']).next().unwrap_or_default().trim_end_matches('/');
    let path = match rest.split_once('/') {
        Some((_, path)) if !path.is_empty() => format!("{SEGMENT}/{path}"),
        _ => SEGMENT.to_string(),
    };
    // Kong refuses a route path outside RFC 3986's characters (kong/db/schema/typedefs.lua,
    // validate_path) and then loads no config at all: refuse it here, with the reason.
    let allowed = |c: char| c.is_ascii_alphanumeric() || "-._~/%:@!$&'()*+,;=".contains(c);
    let encoded = path.split('%').skip(1).all(|p| p.len() >= 2 && p.as_bytes()[..2].iter().all(u8::is_ascii_hexdigit));
    if !path.chars().all(allowed) || !encoded {
        return Err(Error::Render(format!("kong: the path of apiExternalUrl is not a valid route path: {path:?}")));
    }
    Ok(path)
}

/// Whether Kong routes `/` to Studio: only when Studio runs and basic-auth credentials exist,
/// so Studio is never exposed through the gateway without a password.
pub(super) fn routes_dashboard(ctx: &Ctx<'_>) -> bool {
    ctx.spec.enabled(Component::Studio) && ctx.spec.dashboard.is_some()
}

/// Whether Kong routes `/functions/v1/`: only when Edge Functions run. Upstream always runs
/// them and always routes; here a project without them keeps the config it had (no pod of a
/// stored project rolls), and the gateway answers 404 rather than 503 for a missing route.
pub(super) fn routes_functions(ctx: &Ctx<'_>) -> bool {
    ctx.spec.enabled(Component::Functions)
}

/// The components whose in-namespace URL the templates name as `{{<component>}}`.
const LINKED: [Component; 7] = [
    Component::Auth,
    Component::Rest,
    Component::Realtime,
    Component::Storage,
    Component::Meta,
    Component::Studio,
    Component::Functions,
];

/// Upstream's `LUA_FUNCTIONS_EXPR` (kong-entrypoint.sh @1f37f2a9): `nil` with the legacy keys;
/// with the new keys the internal JWT of an `sb_` key given as `apikey` or as a bearer.
fn functions_expression(new_keys: bool) -> &'static str {
    if new_keys {
        "$((headers.apikey == '${SUPABASE_SECRET_KEY}' and '${SERVICE_ROLE_KEY_ASYMMETRIC}') or \
         (headers.apikey == '${SUPABASE_PUBLISHABLE_KEY}' and '${ANON_KEY_ASYMMETRIC}') or \
         (headers.authorization == 'Bearer ${SUPABASE_SECRET_KEY}' and '${SERVICE_ROLE_KEY_ASYMMETRIC}') or \
         (headers.authorization == 'Bearer ${SUPABASE_PUBLISHABLE_KEY}' and '${ANON_KEY_ASYMMETRIC}') or nil)"
    } else {
        "$(nil)"
    }
}

/// Upstream's request-transformer expressions, `LUA_AUTH_EXPR` and `LUA_RT_WS_EXPR`, as its
/// kong-entrypoint.sh (supabase/supabase @1f37f2a9d82df788cb026dd9d25c4125e26da715) exports
/// them: the legacy branch passes the apikey through; with the new keys, an `sb_` key is
/// swapped for its internal ES256 JWT (the secret key for the service_role one, the
/// publishable key for the anon one), and a user's own bearer JWT is left alone. Where
/// upstream's shell expands the keys when it builds the expression, here `${VAR}`
/// placeholders stay in the ConfigMap and the container's entrypoint fills them from the
/// Secret's env vars (checking that each is base64url text, as a Lua string literal needs).
pub(super) fn expressions(new_keys: bool) -> [(&'static str, &'static str); 2] {
    if new_keys {
        [
            (
                "lua_auth_expr",
                "$((headers.authorization ~= nil and headers.authorization:sub(1, 10) ~= 'Bearer sb_' and \
                 headers.authorization) or (headers.apikey == '${SUPABASE_SECRET_KEY}' and \
                 'Bearer ${SERVICE_ROLE_KEY_ASYMMETRIC}') or (headers.apikey == '${SUPABASE_PUBLISHABLE_KEY}' and \
                 'Bearer ${ANON_KEY_ASYMMETRIC}') or headers.apikey)",
            ),
            (
                "lua_rt_ws_expr",
                "$((query_params.apikey == '${SUPABASE_SECRET_KEY}' and '${SERVICE_ROLE_KEY_ASYMMETRIC}') or \
                 (query_params.apikey == '${SUPABASE_PUBLISHABLE_KEY}' and '${ANON_KEY_ASYMMETRIC}') or \
                 query_params.apikey)",
            ),
        ]
    } else {
        [
            (
                "lua_auth_expr",
                "$((headers.authorization ~= nil and headers.authorization:sub(1, 10) ~= 'Bearer sb_' and \
                 headers.authorization) or headers.apikey)",
            ),
            ("lua_rt_ws_expr", "$(query_params.apikey)"),
        ]
    }
}

/// The render-time placeholders and their values.
fn placeholders(ctx: &Ctx<'_>) -> Result<Vec<(String, String)>, Error> {
    let mut out: Vec<(String, String)> = LINKED.iter().map(|c| (c.name().to_string(), ctx.url(*c))).collect();
    out.push(("well_known_oauth_path".into(), well_known_oauth_path(&super::auth::external_url(ctx))?));
    out.extend(expressions(ctx.new_keys()).map(|(k, v)| (k.to_string(), v.to_string())));
    out.push(("lua_functions_expr".into(), functions_expression(ctx.new_keys()).into()));
    Ok(out)
}

/// Upstream's consumers take the new API keys beside the legacy ones (kong.yml @1f37f2a9:
/// `anon` the anon and publishable keys, `service_role` the service and secret keys).
pub(super) fn add_new_key_credentials(config: &mut Json) {
    let consumers = config.get_mut("consumers").and_then(Json::as_array_mut).into_iter().flatten();
    for consumer in consumers {
        let key = match consumer["username"].as_str() {
            Some("anon") => "${SUPABASE_PUBLISHABLE_KEY}",
            Some("service_role") => "${SUPABASE_SECRET_KEY}",
            _ => continue,
        };
        if let Some(list) = consumer.get_mut("keyauth_credentials").and_then(Json::as_array_mut) {
            list.push(serde_json::json!({ "key": key }));
        }
    }
}

/// The entrypoint with the new keys: it also fills their placeholders, and first checks
/// that each is base64url text (what `sb_` keys and JWTs are made of), since they land
/// inside Lua string literals of the request transformer. A project on the legacy keys
/// gets the script unchanged.
fn entrypoint(new_keys: bool) -> Result<String, Error> {
    const LEGACY_LOOP: &str =
        "for name in SUPABASE_ANON_KEY SUPABASE_SERVICE_KEY DASHBOARD_USERNAME DASHBOARD_PASSWORD; do\n";
    const NEW_KEYS_LOOP: &str = "\
# The new keys sit inside Lua string literals of the request transformer: base64url text only.
for name in SUPABASE_PUBLISHABLE_KEY SUPABASE_SECRET_KEY ANON_KEY_ASYMMETRIC SERVICE_ROLE_KEY_ASYMMETRIC; do
  case ${!name-} in
    '' | *[!A-Za-z0-9_.-]*)
      echo \"kong-entrypoint: $name is empty or not base64url text\" >&2
      exit 1
      ;;
  esac
done
for name in SUPABASE_ANON_KEY SUPABASE_SERVICE_KEY SUPABASE_PUBLISHABLE_KEY SUPABASE_SECRET_KEY \\
  ANON_KEY_ASYMMETRIC SERVICE_ROLE_KEY_ASYMMETRIC DASHBOARD_USERNAME DASHBOARD_PASSWORD; do
";
    if !new_keys {
        return Ok(ENTRYPOINT.to_string());
    }
    if !ENTRYPOINT.contains(LEGACY_LOOP) {
        return Err(Error::Render("kong entrypoint: the substitution loop is not where the new keys expect it".into()));
    }
    Ok(ENTRYPOINT
        .replace(LEGACY_LOOP, NEW_KEYS_LOOP)
        .replace("*'${SUPABASE_'* | *'${DASHBOARD_'*)", "*'${SUPABASE_'* | *'${DASHBOARD_'* | *'_KEY_ASYMMETRIC}'*)"))
}

/// The config with and without Studio's and the functions' routes, each for the legacy keys
/// alone and with the new keys, as pretty JSON with the `{{auth}}`-style placeholders still
/// in, indexed by `(dashboard, functions, new_keys)`. They are the same for every project, so
/// the YAML is parsed, merged and serialized once (parsing on every render was most of its cost).
type Templates = BTreeMap<(bool, bool, bool), String>;

/// `extra`'s lists (consumers, services) appended to `config`'s; other top-level keys added.
fn merge(config: &mut Json, extra: &Json) -> Result<(), String> {
    let (Some(config), Some(extra)) = (config.as_object_mut(), extra.as_object()) else {
        return Err("kong template: not a mapping".into());
    };
    for (key, value) in extra {
        match (config.get_mut(key), value) {
            (Some(Json::Array(list)), Json::Array(more)) => list.extend(more.iter().cloned()),
            _ => {
                config.insert(key.clone(), value.clone());
            }
        }
    }
    Ok(())
}

static TEMPLATES: LazyLock<Result<Templates, String>> = LazyLock::new(|| {
    let parse = |text: &str| serde_yaml::from_str::<Json>(text).map_err(|e| format!("kong template: {e}"));
    let pretty = |config: &Json| serde_json::to_string_pretty(config).map_err(|e| format!("kong config: {e}"));
    let (base, dashboard, functions) = (parse(TEMPLATE)?, parse(DASHBOARD)?, parse(FUNCTIONS)?);
    let mut out = Templates::new();
    for with_dashboard in [false, true] {
        for with_functions in [false, true] {
            let mut config = base.clone();
            // The functions' route before Studio's catch-all, as upstream orders them.
            if with_functions {
                merge(&mut config, &functions)?;
            }
            if with_dashboard {
                merge(&mut config, &dashboard)?;
            }
            out.insert((with_dashboard, with_functions, false), pretty(&config)?);
            add_new_key_credentials(&mut config);
            out.insert((with_dashboard, with_functions, true), pretty(&config)?);
        }
    }
    Ok(out)
});

/// The declarative config template (JSON): routes and consumers, secrets as placeholders.
pub(super) fn declarative(ctx: &Ctx<'_>) -> Result<String, Error> {
    let templates = TEMPLATES.as_ref().map_err(|e| Error::Render(e.clone()))?;
    let template = templates
        .get(&(routes_dashboard(ctx), routes_functions(ctx), ctx.new_keys()))
        .ok_or_else(|| Error::Render("kong template: a combination was not prepared".into()))?;
    // A placeholder sits inside a JSON string and needs no escaping, so it appears in the
    // JSON as in the YAML; the value is escaped as serializing the filled string would.
    let mut out = template.clone();
    for (name, value) in placeholders(ctx)? {
        let placeholder = format!("{{{{{name}}}}}");
        if out.contains(&placeholder) {
            let quoted = serde_json::to_string(&value).map_err(|e| Error::Render(format!("kong config: {e}")))?;
            let escaped = quoted.strip_prefix('"').and_then(|q| q.strip_suffix('"')).unwrap_or(&quoted);
            out = out.replace(&placeholder, escaped);
        }
    }
    if out.contains("{{") {
        return Err(Error::Render("kong template: an unfilled placeholder".into()));
    }
    Ok(out)
}

/// An emptyDir volume and its mount.
fn empty_dir(name: &str, path: &str, source: EmptyDirVolumeSource) -> (Volume, VolumeMount) {
    (
        Volume { name: name.into(), empty_dir: Some(source), ..Default::default() },
        VolumeMount { name: name.into(), mount_path: path.into(), ..Default::default() },
    )
}

pub(super) fn render(ctx: &Ctx<'_>) -> Result<Rendered, Error> {
    let name = ctx.object_name(Component::Kong);
    let data = BTreeMap::from([
        (TEMPLATE_KEY.to_string(), declarative(ctx)?),
        (ENTRYPOINT_KEY.to_string(), entrypoint(ctx.new_keys())?),
    ]);
    let cm = config_map(ctx, name.clone(), Component::Kong.name(), data);

    // Upstream's env: docker/docker-compose.kong.yml @1f37f2a9, in its order.
    let mut env = Env::new(ctx);
    env.lit("KONG_DATABASE", "off")
        .lit("KONG_DECLARATIVE_CONFIG", format!("{RENDERED_DIR}/kong.json"))
        .lit("SUPABASE_KONG_TEMPLATE", format!("{CONFIG_DIR}/{TEMPLATE_KEY}"))
        .lit("KONG_PREFIX", PREFIX_DIR)
        // Needed by the expression route of PostgREST's OpenAPI root.
        .lit("KONG_ROUTER_FLAVOR", "expressions")
        // Resolve the last successful record type first (upstream, supabase/cli#14).
        .lit("KONG_DNS_ORDER", "LAST,A,CNAME")
        // A Service that is not there yet (a component still rolling out) is retried after
        // a second, not Kong's default 30; a found name is re-resolved every 5 seconds.
        .lit("KONG_DNS_NOT_FOUND_TTL", "1")
        .lit("KONG_DNS_VALID_TTL", "5")
        .lit("KONG_PLUGINS", PLUGINS)
        // Large JWTs and cookies overflow nginx's default proxy buffers.
        .lit("KONG_NGINX_PROXY_PROXY_BUFFER_SIZE", "160k")
        .lit("KONG_NGINX_PROXY_PROXY_BUFFERS", "64 160k")
        .lit("KONG_PROXY_ACCESS_LOG", "/dev/stdout combined")
        // Not upstream's: nginx's `auto` starts one worker per node core, whatever the pod's
        // CPU limit, and Kong's memory grows with each (the community chart sets 2 as well).
        .lit("KONG_NGINX_WORKER_PROCESSES", "2");
    env.from("SUPABASE_ANON_KEY", Value::AnonKey)?
        .from("SUPABASE_SERVICE_KEY", Value::ServiceKey)?
        // docker-compose.kong.yml @1f37f2a9: the new API keys and the internal JWTs the
        // request transformer sends for them.
        .new_key("SUPABASE_PUBLISHABLE_KEY", Value::PublishableKey)?
        .new_key("SUPABASE_SECRET_KEY", Value::SecretApiKey)?
        .new_key("ANON_KEY_ASYMMETRIC", Value::AnonJwt)?
        .new_key("SERVICE_ROLE_KEY_ASYMMETRIC", Value::ServiceJwt)?;
    if routes_dashboard(ctx) {
        env.from("DASHBOARD_USERNAME", Value::DashboardUsername)?
            .from("DASHBOARD_PASSWORD", Value::DashboardPassword)?;
    }

    let volumes = vec![
        (
            Volume {
                name: "config".into(),
                config_map: Some(ConfigMapVolumeSource { name: name.clone(), ..Default::default() }),
                ..Default::default()
            },
            VolumeMount {
                name: "config".into(),
                mount_path: CONFIG_DIR.into(),
                read_only: Some(true),
                ..Default::default()
            },
        ),
        // Memory-backed: the rendered file holds the keys and credentials.
        empty_dir(
            "rendered",
            RENDERED_DIR,
            EmptyDirVolumeSource {
                medium: Some("Memory".into()),
                size_limit: Some(k8s_openapi::apimachinery::pkg::api::resource::Quantity("1Mi".into())),
            },
        ),
        // On disk and unbounded, like the image's writable layer these replace: nginx buffers
        // request bodies (Storage uploads) and large responses into the prefix.
        empty_dir("prefix", PREFIX_DIR, EmptyDirVolumeSource::default()),
        empty_dir("tmp", TMP_DIR, EmptyDirVolumeSource::default()),
    ];
    Ok(Rendered {
        env: env.finish(),
        config_maps: vec![cm],
        volumes,
        // Kong's images are Debian/Ubuntu based and ship bash (their entrypoint is bash).
        command: Some(vec!["bash".into(), format!("{CONFIG_DIR}/{ENTRYPOINT_KEY}")]),
        args: Some(vec!["kong".into(), "docker-start".into()]),
        extra_ports: Vec::new(),
        read_only_root: true,
        strategy: None,
        fs_group: None,
        shares_node: &[],
    })
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::{full, minimal};
    use super::super::{Component, component};
    use super::*;

    fn template(p: &crds::SupabaseProject) -> String {
        let o = component(p, Component::Kong, "h").expect("renders");
        o.config_maps[0].data.as_ref().expect("data")[TEMPLATE_KEY].clone()
    }

    /// Route path → upstream URL of every service in the config.
    fn routes(config: &serde_yaml::Value) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        for s in config["services"].as_sequence().cloned().unwrap_or_default() {
            let url = s["url"].as_str().unwrap_or_default().to_string();
            for r in s["routes"].as_sequence().cloned().unwrap_or_default() {
                for p in r["paths"].as_sequence().cloned().unwrap_or_default() {
                    out.insert(p.as_str().unwrap_or_default().to_string(), url.clone());
                }
            }
        }
        out
    }

    fn plugins_of(config: &serde_yaml::Value, path: &str) -> Vec<serde_yaml::Value> {
        let services = config["services"].as_sequence().cloned().unwrap_or_default();
        let service = services.into_iter().find(|s| {
            s["routes"].as_sequence().is_some_and(|rs| {
                rs.iter()
                    .any(|r| r["paths"].as_sequence().is_some_and(|ps| ps.iter().any(|p| p.as_str() == Some(path))))
            })
        });
        service.and_then(|s| s["plugins"].as_sequence().cloned()).unwrap_or_default()
    }

    #[test]
    fn the_config_parses_as_yaml_and_routes_every_api_to_its_service() {
        let config: serde_yaml::Value = serde_yaml::from_str(&template(&minimal())).expect("YAML");
        assert_eq!(config["_format_version"].as_str(), Some("3.0"));
        let routes = routes(&config);
        let expect = [
            ("/auth/v1/", "http://demo-auth:9999/"),
            ("/auth/v1/verify", "http://demo-auth:9999/verify"),
            ("/rest/v1/", "http://demo-rest:3000/"),
            ("/graphql/v1", "http://demo-rest:3000/rpc/graphql"),
            ("/realtime/v1/", "http://demo-realtime:4000/socket"),
            ("/realtime/v1/api", "http://demo-realtime:4000/api"),
            ("/storage/v1/", "http://demo-storage:5000/"),
            ("/pg/", "http://demo-meta:8080/"),
        ];
        for (path, url) in expect {
            assert_eq!(routes.get(path).map(String::as_str), Some(url), "{path}");
        }
        assert!(!routes.contains_key("/"), "no Studio route while Studio is disabled");
        // Every plugin a route uses is loaded.
        let loaded: Vec<&str> = PLUGINS.split(',').collect();
        for s in config["services"].as_sequence().cloned().unwrap_or_default() {
            for p in s["plugins"].as_sequence().cloned().unwrap_or_default() {
                let name = p["name"].as_str().unwrap_or_default().to_string();
                assert!(loaded.contains(&name.as_str()), "{name} is not in KONG_PLUGINS");
            }
        }
    }

    #[test]
    fn meta_is_for_service_role_only_and_the_apis_take_both_keys() {
        let config: serde_yaml::Value = serde_yaml::from_str(&template(&minimal())).expect("YAML");
        let acl = |path: &str| -> Vec<String> {
            let plugins = plugins_of(&config, path);
            assert!(plugins.iter().any(|p| p["name"] == "key-auth"), "{path}: key-auth");
            let acl = plugins.into_iter().find(|p| p["name"] == "acl").expect("acl");
            let allow = acl["config"]["allow"].as_sequence().cloned().unwrap_or_default();
            allow.iter().filter_map(|a| a.as_str().map(String::from)).collect()
        };
        assert_eq!(acl("/pg/"), ["admin"]);
        for path in ["/auth/v1/", "/rest/v1/", "/graphql/v1", "/realtime/v1/"] {
            assert_eq!(acl(path), ["admin", "anon"], "{path}");
        }
        let consumers: Vec<_> = config["consumers"].as_sequence().cloned().unwrap_or_default();
        let names: Vec<_> = consumers.iter().filter_map(|c| c["username"].as_str()).collect();
        assert_eq!(names, ["anon", "service_role"]);
        let groups: Vec<_> =
            config["acls"].as_sequence().cloned().unwrap_or_default().iter().map(|a| a["group"].clone()).collect();
        assert_eq!(groups, ["anon", "admin"]);
    }

    #[test]
    fn studio_is_routed_behind_basic_auth_only_when_enabled_with_credentials() {
        let config: serde_yaml::Value = serde_yaml::from_str(&template(&full())).expect("YAML");
        assert_eq!(routes(&config).get("/").map(String::as_str), Some("http://demo-studio:3000/"));
        assert!(plugins_of(&config, "/").iter().any(|p| p["name"] == "basic-auth"));
        let creds = config["basicauth_credentials"].as_sequence().cloned().unwrap_or_default();
        assert_eq!(creds.len(), 1);
        assert_eq!(creds[0]["password"].as_str(), Some("${DASHBOARD_PASSWORD}"));

        // Studio enabled without dashboard credentials: still no public route.
        let mut p = full();
        p.spec.dashboard = None;
        let config: serde_yaml::Value = serde_yaml::from_str(&template(&p)).expect("YAML");
        assert!(!routes(&config).contains_key("/"));
        assert!(config.get("basicauth_credentials").is_none());
    }

    #[test]
    fn realtime_tenant_is_the_first_label_of_the_host_kong_sends() {
        let config: serde_yaml::Value = serde_yaml::from_str(&template(&minimal())).expect("YAML");
        let url = routes(&config)["/realtime/v1/"].clone();
        let host = url.trim_start_matches("http://").split([':', '/']).next().unwrap_or_default().to_string();
        let first_label = host.split('.').next().unwrap_or_default();
        let o = component(&minimal(), Component::Realtime, "h").expect("renders");
        let env = o.deployment.spec.and_then(|s| s.template.spec).map(|s| s.containers[0].env.clone());
        let tenant = env.flatten().unwrap_or_default().into_iter().find(|v| v.name == "SELF_HOST_TENANT_NAME");
        assert_eq!(tenant.and_then(|v| v.value).as_deref(), Some(first_label));
    }

    /// The config as it was rendered before the templates were parsed once: placeholders
    /// filled in the text, then both templates parsed and merged on every render.
    fn declarative_reparsed(ctx: &Ctx<'_>) -> String {
        let values = placeholders(ctx).expect("placeholders");
        let parse = |template: &str| -> Json {
            let text = values
                .iter()
                .fold(template.to_string(), |t, (name, value)| t.replace(&format!("{{{{{name}}}}}"), value));
            serde_yaml::from_str(&text).expect("template parses")
        };
        let mut config = parse(TEMPLATE);
        if ctx.new_keys() {
            add_new_key_credentials(&mut config);
        }
        // Edge Functions' route came after the templates were parsed once; it goes before
        // Studio's catch-all, as in upstream's kong.yml.
        let extras = [(routes_functions(ctx), FUNCTIONS), (routes_dashboard(ctx), DASHBOARD)];
        for extra in extras.iter().filter(|(on, _)| *on).map(|(_, t)| parse(t)) {
            let base = config.as_object_mut().expect("a mapping");
            for (key, value) in extra.as_object().expect("a mapping") {
                match (base.get_mut(key), value) {
                    (Some(Json::Array(list)), Json::Array(more)) => list.extend(more.iter().cloned()),
                    _ => {
                        base.insert(key.clone(), value.clone());
                    }
                }
            }
        }
        serde_json::to_string_pretty(&config).expect("serializes")
    }

    #[test]
    fn the_config_is_byte_for_byte_what_parsing_the_filled_text_gave() {
        let mut projects = vec![minimal(), full()];
        let mut no_dashboard = full();
        no_dashboard.spec.dashboard = None;
        projects.push(no_dashboard);
        let samples = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../config/samples");
        for sample in ["minimal.yaml", "full.yaml", "studio.yaml", "zalando.yaml", "cloudnativepg.yaml"] {
            let text = std::fs::read_to_string(samples.join(sample)).expect("sample");
            let mut p: crds::SupabaseProject = serde_yaml::from_str(&text).expect("sample parses");
            p.spec = crds::defaults(p.spec);
            p.metadata.namespace = Some("ns".into());
            p.metadata.uid = Some("0b5c1f5e-1111-2222-3333-444455556666".into());
            projects.push(p);
        }
        let (mut dashboards, mut functions) = (0, 0);
        for p in &projects {
            let ctx = Ctx::new(p).expect("context");
            dashboards += usize::from(routes_dashboard(&ctx));
            functions += usize::from(routes_functions(&ctx));
            assert_eq!(declarative(&ctx).expect("renders"), declarative_reparsed(&ctx), "{:?}", p.metadata.name);
        }
        assert!(dashboards > 0 && dashboards < projects.len(), "both templates compared");
        assert!(functions > 0 && functions < projects.len(), "with and without the functions' route");
    }

    fn config_of(p: &crds::SupabaseProject) -> Json {
        serde_json::from_str(&template(p)).expect("JSON")
    }

    fn env_of(p: &crds::SupabaseProject) -> BTreeMap<String, String> {
        let o = component(p, Component::Kong, "h").expect("renders");
        let env = o.deployment.spec.and_then(|s| s.template.spec).map(|s| s.containers[0].env.clone());
        env.flatten().unwrap_or_default().into_iter().filter_map(|v| Some((v.name, v.value?))).collect()
    }

    /// A default project, and one whose gateway also routes `/` to Studio.
    fn both() -> [(&'static str, crds::SupabaseProject); 2] {
        [("default", minimal()), ("with the dashboard", full())]
    }

    #[test]
    fn realtimes_tenant_api_and_openapi_answer_403_at_the_gateway() {
        for (case, p) in both() {
            let config = config_of(&p);
            for path in [
                "/realtime/v1/api/tenants",
                "/realtime/v1/api/tenants/demo-realtime/reload",
                "/realtime/v1/api/openapi",
            ] {
                let m = router::route_for(&config, path).unwrap_or_else(|| panic!("{case}: no route for {path}"));
                assert_eq!(m.terminates(), Some(403), "{case}: {path} reaches route {}", m.name());
            }
            // The rest of Realtime's HTTP API still reaches it, behind either key.
            let m = router::route_for(&config, "/realtime/v1/api/broadcast").expect("route");
            assert_eq!(m.name(), "realtime-v1-rest", "{case}");
            assert_eq!(m.acl(), Some(vec!["admin".to_string(), "anon".to_string()]), "{case}");
        }
    }

    #[test]
    fn no_route_exposes_an_admin_api_without_the_admin_acl() {
        // Upstream's admin surfaces (kong.yml @1f37f2a9): postgres-meta, PostgREST's OpenAPI
        // root, Realtime's tenant API and its description, Studio's MCP server.
        let admin = [
            "/pg/",
            "/pg/query",
            "/rest/v1/",
            "/realtime/v1/api/tenants",
            "/realtime/v1/api/tenants/x/reload",
            "/realtime/v1/api/openapi",
            "/api/mcp",
            "/api/mcp/tools",
            "/mcp",
        ];
        for (case, p) in both() {
            let config = config_of(&p);
            for path in admin {
                let Some(m) = router::route_for(&config, path) else { continue };
                let refused = m.terminates().is_some_and(|s| (400..500).contains(&s));
                let admin_only = m.plugin("key-auth").is_some() && m.acl() == Some(vec!["admin".to_string()]);
                assert!(refused || admin_only, "{case}: {path} reaches route {} without the admin ACL", m.name());
            }
        }
    }

    #[test]
    fn only_postgrests_openapi_root_is_admin_only() {
        let config = config_of(&minimal());
        let root = router::route_for(&config, "/rest/v1/").expect("route");
        assert_eq!((root.name(), root.acl()), ("rest-v1-openapi-root", Some(vec!["admin".to_string()])));
        let table = router::route_for(&config, "/rest/v1/todos").expect("route");
        assert_eq!((table.name(), table.acl()), ("rest-v1-all", Some(vec!["admin".to_string(), "anon".to_string()])));
        // Kong refuses an expression route in any other router flavor.
        assert_eq!(env_of(&minimal()).get("KONG_ROUTER_FLAVOR").map(String::as_str), Some("expressions"));
    }

    #[test]
    fn every_plugin_the_config_uses_is_loaded() {
        for (case, p) in both() {
            let loaded = env_of(&p).get("KONG_PLUGINS").cloned().unwrap_or_default();
            let loaded: Vec<&str> = loaded.split(',').collect();
            let config = config_of(&p);
            let mut used = 0;
            for s in config["services"].as_array().into_iter().flatten() {
                for plugin in s["plugins"].as_array().into_iter().flatten() {
                    let name = plugin["name"].as_str().unwrap_or_default();
                    used += 1;
                    assert!(loaded.contains(&name), "{case}: service {} uses {name}, not in KONG_PLUGINS", s["name"]);
                }
            }
            assert!(used > 20, "{case}: the check saw the plugins ({used})");
        }
    }

    #[test]
    fn the_oauth_metadata_path_is_rfc_8414s_for_the_issuer() {
        let path = |issuer: &str| well_known_oauth_path(issuer).ok();
        let root = "/.well-known/oauth-authorization-server";
        assert_eq!(path("https://api.example.com").as_deref(), Some(root));
        assert_eq!(path("https://api.example.com/").as_deref(), Some(root));
        assert_eq!(
            path("https://example.com/auth/v1").as_deref(),
            Some("/.well-known/oauth-authorization-server/auth/v1")
        );
        assert_eq!(
            path("https://example.com/auth/v1//").as_deref(),
            Some("/.well-known/oauth-authorization-server/auth/v1")
        );
        assert_eq!(
            path("http://example.com:8000/x?y=1#z").as_deref(),
            Some("/.well-known/oauth-authorization-server/x")
        );
        assert_eq!(path("ftp://example.com"), None);
        assert_eq!(path("https://example.com/a b"), None, "Kong would refuse the whole config");
        assert_eq!(path("https://example.com/a%zz"), None, "nor may a percent escape be malformed");
        assert_eq!(path("https://example.com/a%20b").as_deref(), Some("/.well-known/oauth-authorization-server/a%20b"));
        // The route carries it.
        let mut p = minimal();
        p.spec.api_external_url = "https://example.com/auth/v1".into();
        let config = config_of(&p);
        let m = router::route_for(&config, "/.well-known/oauth-authorization-server/auth/v1").expect("route");
        assert_eq!(m.name(), "well-known-oauth");
        assert_eq!(m.service["url"], "http://demo-auth:9999/.well-known/oauth-authorization-server");
    }

    /// Kong's rendered entrypoint, run with bash on `template` into `out`, with `env`
    /// (`true` stands in for Kong, which the entrypoint execs last).
    fn run_entrypoint(
        script: &std::path::Path,
        template: &std::path::Path,
        out: &std::path::Path,
        env: &[(&str, &str)],
    ) -> std::process::Output {
        std::process::Command::new("bash")
            .arg(script)
            .arg("true")
            .env("SUPABASE_KONG_TEMPLATE", template)
            .env("KONG_DECLARATIVE_CONFIG", out)
            .envs(env.iter().copied())
            .output()
            .expect("bash runs")
    }

    /// The entrypoint of a project with the new keys, run with bash: it fills the keys into
    /// the consumers and into upstream's expressions (the text upstream's shell would export,
    /// written here by hand from kong-entrypoint.sh @1f37f2a9), and refuses a key that would
    /// break out of a Lua string literal.
    #[test]
    fn the_new_keys_entrypoint_fills_upstreams_expressions_and_refuses_unsafe_keys() {
        let dir = std::env::temp_dir().join(format!("kong-entrypoint-new-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("tmp dir");
        let (tpl, out, script) = (dir.join("kong.json"), dir.join("out.json"), dir.join("entrypoint.sh"));
        let p = super::super::fixtures::minimal_new_keys();
        let o = component(&p, Component::Kong, "h").expect("renders");
        let data = o.config_maps[0].data.clone().expect("data");
        std::fs::write(&tpl, &data[TEMPLATE_KEY]).expect("write template");
        std::fs::write(&script, &data[ENTRYPOINT_KEY]).expect("write script");
        let run = |secret_key: &str| {
            let _ = std::fs::remove_file(&out);
            run_entrypoint(
                &script,
                &tpl,
                &out,
                &[
                    ("SUPABASE_ANON_KEY", "legacy.anon.jwt"),
                    ("SUPABASE_SERVICE_KEY", "legacy.service.jwt"),
                    ("SUPABASE_PUBLISHABLE_KEY", "sb_publishable_P"),
                    ("SUPABASE_SECRET_KEY", secret_key),
                    ("ANON_KEY_ASYMMETRIC", "es256.anon.jwt"),
                    ("SERVICE_ROLE_KEY_ASYMMETRIC", "es256.service.jwt"),
                ],
            )
        };
        run("sb_secret_S");
        let rendered = std::fs::read_to_string(&out).expect("rendered");
        let json: Json = serde_json::from_str(&rendered).expect("valid JSON");
        let keys = |i: usize| -> Vec<String> {
            json["consumers"][i]["keyauth_credentials"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|k| k["key"].as_str().map(String::from))
                .collect()
        };
        assert_eq!(
            (keys(0), keys(1)),
            (
                vec!["legacy.anon.jwt".into(), "sb_publishable_P".into()],
                vec!["legacy.service.jwt".into(), "sb_secret_S".into()]
            )
        );
        let upstream = "Authorization: $((headers.authorization ~= nil and headers.authorization:sub(1, 10) ~= \
                        'Bearer sb_' and headers.authorization) or (headers.apikey == 'sb_secret_S' and 'Bearer \
                        es256.service.jwt') or (headers.apikey == 'sb_publishable_P' and 'Bearer es256.anon.jwt') or \
                        headers.apikey)";
        assert!(rendered.contains(upstream), "LUA_AUTH_EXPR as upstream's shell exports it");
        let ws = "apikey:$((query_params.apikey == 'sb_secret_S' and 'es256.service.jwt') or (query_params.apikey \
                  == 'sb_publishable_P' and 'es256.anon.jwt') or query_params.apikey)";
        assert!(rendered.contains(ws), "LUA_RT_WS_EXPR as upstream's shell exports it");
        assert!(!rendered.contains("${"), "every placeholder filled");

        let refused = run("sb_secret_x') or ('");
        assert!(!refused.status.success());
        assert!(String::from_utf8_lossy(&refused.stderr).contains("SUPABASE_SECRET_KEY is empty or not base64url"));
        assert!(!out.exists(), "nothing written");
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// Runs the real entrypoint with bash on a rendered template and hostile values: the
    /// result must parse (as Kong's JSON parser and as YAML) with every value intact.
    #[test]
    fn the_entrypoint_substitutes_any_value_safely() {
        let dir = std::env::temp_dir().join(format!("kong-entrypoint-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("tmp dir");
        let tpl = dir.join("kong.json");
        let out = dir.join("out.json");
        let script = dir.join("entrypoint.sh");
        std::fs::write(&tpl, template(&full())).expect("write template");
        std::fs::write(&script, ENTRYPOINT).expect("write script");
        let password = r#"p"a\s$s&w'o{r}d ${HOME} $(id) `id` %s \n"#;
        // The final `exec` of Kong's entrypoint fails here; the rendering happened before it.
        let _ = run_entrypoint(
            &script,
            &tpl,
            &out,
            &[
                ("SUPABASE_ANON_KEY", "anon.jwt.value"),
                ("SUPABASE_SERVICE_KEY", "service&.jwt.value"),
                ("DASHBOARD_USERNAME", "admin"),
                ("DASHBOARD_PASSWORD", password),
            ],
        );
        let rendered = std::fs::read_to_string(&out).expect("rendered");
        let json: serde_json::Value = serde_json::from_str(&rendered).expect("valid JSON");
        let yaml: serde_yaml::Value = serde_yaml::from_str(&rendered).expect("valid YAML");
        assert_eq!(json["basicauth_credentials"][0]["password"], password);
        assert_eq!(yaml["basicauth_credentials"][0]["password"].as_str(), Some(password));
        assert_eq!(json["consumers"][0]["keyauth_credentials"][0]["key"], "anon.jwt.value");
        assert_eq!(json["consumers"][1]["keyauth_credentials"][0]["key"], "service&.jwt.value");
        for name in ["SUPABASE_ANON_KEY", "SUPABASE_SERVICE_KEY", "DASHBOARD_USERNAME", "DASHBOARD_PASSWORD"] {
            assert!(!rendered.contains(&format!("${{{name}}}")), "{name} is filled");
        }

        // A missing variable is an error, not an empty key.
        std::fs::remove_file(&out).expect("rm");
        let status = std::process::Command::new("bash")
            .arg(&script)
            .arg("true")
            .env("SUPABASE_KONG_TEMPLATE", &tpl)
            .env("KONG_DECLARATIVE_CONFIG", &out)
            .env("SUPABASE_ANON_KEY", "a")
            .env("SUPABASE_SERVICE_KEY", "b")
            .env_remove("DASHBOARD_USERNAME")
            .env_remove("DASHBOARD_PASSWORD")
            .output()
            .expect("bash runs");
        assert!(!status.status.success());
        assert!(!out.exists(), "nothing written");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
