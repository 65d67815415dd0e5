//! Kong, the API gateway: declarative config (no database) from a ConfigMap, with the API
//! keys and dashboard credentials substituted at container start from Secret env vars.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use crds::Component;
use crds::refs::Value;
use k8s_openapi::api::core::v1::{ConfigMapVolumeSource, EmptyDirVolumeSource, Volume, VolumeMount};
use serde_json::Value as Json;

use super::env::Env;
use super::{Ctx, Rendered, config_map};
use crate::Error;

const TEMPLATE: &str = include_str!("kong.yml");
const DASHBOARD: &str = include_str!("kong-dashboard.yml");
const ENTRYPOINT: &str = include_str!("kong-entrypoint.sh");

/// Where the ConfigMap (template and entrypoint) is mounted.
pub(super) const CONFIG_DIR: &str = "/etc/supabase-kong";
/// The emptyDir the entrypoint writes the rendered config into.
pub(super) const RENDERED_DIR: &str = "/opt/supabase-kong";
/// ConfigMap key of the declarative config template. JSON (a subset of YAML) so that every
/// value the entrypoint substitutes sits in a double-quoted string, whatever its content.
pub(super) const TEMPLATE_KEY: &str = "kong.json";
/// ConfigMap key of the entrypoint script.
pub(super) const ENTRYPOINT_KEY: &str = "entrypoint.sh";

/// Plugins Kong loads (upstream's list, trimmed to the ones the routes use).
pub(super) const PLUGINS: &str = "request-transformer,cors,key-auth,acl,basic-auth,post-function";

/// Whether Kong routes `/` to Studio: only when Studio runs and basic-auth credentials exist,
/// so Studio is never exposed through the gateway without a password.
pub(super) fn routes_dashboard(ctx: &Ctx<'_>) -> bool {
    ctx.spec.enabled(Component::Studio) && ctx.spec.dashboard.is_some()
}

/// The components whose in-namespace URL the templates name as `{{<component>}}`.
const LINKED: [Component; 6] =
    [Component::Auth, Component::Rest, Component::Realtime, Component::Storage, Component::Meta, Component::Studio];

/// The config without and with Studio's route, as pretty JSON with the `{{auth}}`-style
/// placeholders still in. They are the same for every project, so the YAML is parsed,
/// merged and serialized once (parsing on every render was most of its cost).
struct Templates {
    base: String,
    with_dashboard: String,
}

static TEMPLATES: LazyLock<Result<Templates, String>> = LazyLock::new(|| {
    let parse = |text: &str| serde_yaml::from_str::<Json>(text).map_err(|e| format!("kong template: {e}"));
    let pretty = |config: &Json| serde_json::to_string_pretty(config).map_err(|e| format!("kong config: {e}"));
    let base = parse(TEMPLATE)?;
    let mut with_dashboard = base.clone();
    let extra = parse(DASHBOARD)?;
    let (Some(config), Some(extra)) = (with_dashboard.as_object_mut(), extra.as_object()) else {
        return Err("kong template: not a mapping".into());
    };
    // Lists (consumers, services) are extended; other top-level keys are added.
    for (key, value) in extra {
        match (config.get_mut(key), value) {
            (Some(Json::Array(list)), Json::Array(more)) => list.extend(more.iter().cloned()),
            _ => {
                config.insert(key.clone(), value.clone());
            }
        }
    }
    Ok(Templates { base: pretty(&base)?, with_dashboard: pretty(&with_dashboard)? })
});

/// The declarative config template (JSON): routes and consumers, secrets as placeholders.
pub(super) fn declarative(ctx: &Ctx<'_>) -> Result<String, Error> {
    let templates = TEMPLATES.as_ref().map_err(|e| Error::Render(e.clone()))?;
    let template = if routes_dashboard(ctx) { &templates.with_dashboard } else { &templates.base };
    // A placeholder sits inside a JSON string and needs no escaping, so it appears in the
    // JSON as in the YAML; the URL is escaped as serializing the filled string would.
    let mut out = template.clone();
    for c in LINKED {
        let placeholder = format!("{{{{{}}}}}", c.name());
        if out.contains(&placeholder) {
            let quoted = serde_json::to_string(&ctx.url(c)).map_err(|e| Error::Render(format!("kong config: {e}")))?;
            let escaped = quoted.strip_prefix('"').and_then(|q| q.strip_suffix('"')).unwrap_or(&quoted);
            out = out.replace(&placeholder, escaped);
        }
    }
    if out.contains("{{") {
        return Err(Error::Render("kong template: an unfilled placeholder".into()));
    }
    Ok(out)
}

pub(super) fn render(ctx: &Ctx<'_>) -> Result<Rendered, Error> {
    let name = ctx.object_name(Component::Kong);
    let data = BTreeMap::from([
        (TEMPLATE_KEY.to_string(), declarative(ctx)?),
        (ENTRYPOINT_KEY.to_string(), ENTRYPOINT.to_string()),
    ]);
    let cm = config_map(ctx, name.clone(), Component::Kong.name(), data);

    let mut env = Env::new(ctx);
    env.lit("KONG_DATABASE", "off")
        .lit("KONG_DECLARATIVE_CONFIG", format!("{RENDERED_DIR}/kong.json"))
        .lit("SUPABASE_KONG_TEMPLATE", format!("{CONFIG_DIR}/{TEMPLATE_KEY}"))
        // Resolve the last successful record type first (upstream, supabase/cli#14).
        .lit("KONG_DNS_ORDER", "LAST,A,CNAME")
        .lit("KONG_PLUGINS", PLUGINS)
        // Large JWTs and cookies overflow nginx's default proxy buffers.
        .lit("KONG_NGINX_PROXY_PROXY_BUFFER_SIZE", "160k")
        .lit("KONG_NGINX_PROXY_PROXY_BUFFERS", "64 160k")
        // One worker per node core otherwise, and Kong's memory grows with each.
        .lit("KONG_NGINX_WORKER_PROCESSES", "2");
    env.from("SUPABASE_ANON_KEY", Value::AnonKey)?.from("SUPABASE_SERVICE_KEY", Value::ServiceKey)?;
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
        (
            Volume {
                name: "rendered".into(),
                // Memory-backed: the rendered file holds the keys and credentials.
                empty_dir: Some(EmptyDirVolumeSource {
                    medium: Some("Memory".into()),
                    size_limit: Some(k8s_openapi::apimachinery::pkg::api::resource::Quantity("1Mi".into())),
                }),
                ..Default::default()
            },
            VolumeMount { name: "rendered".into(), mount_path: RENDERED_DIR.into(), ..Default::default() },
        ),
    ];
    Ok(Rendered {
        env: env.finish(),
        config_maps: vec![cm],
        volumes,
        // Kong's images are Debian/Ubuntu based and ship bash (their entrypoint is bash).
        command: Some(vec!["bash".into(), format!("{CONFIG_DIR}/{ENTRYPOINT_KEY}")]),
        args: Some(vec!["kong".into(), "docker-start".into()]),
        extra_ports: Vec::new(),
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
        let parse = |template: &str| -> Json {
            let text = LINKED
                .iter()
                .fold(template.to_string(), |t, c| t.replace(&format!("{{{{{}}}}}", c.name()), &ctx.url(*c)));
            serde_yaml::from_str(&text).expect("template parses")
        };
        let mut config = parse(TEMPLATE);
        if routes_dashboard(ctx) {
            let extra = parse(DASHBOARD);
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
        let mut dashboards = 0;
        for p in &projects {
            let ctx = Ctx::new(p).expect("context");
            dashboards += usize::from(routes_dashboard(&ctx));
            assert_eq!(declarative(&ctx).expect("renders"), declarative_reparsed(&ctx), "{:?}", p.metadata.name);
        }
        assert!(dashboards > 0 && dashboards < projects.len(), "both templates compared");
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
        let status = std::process::Command::new("bash")
            .arg(&script)
            .arg("true")
            .env("SUPABASE_KONG_TEMPLATE", &tpl)
            .env("KONG_DECLARATIVE_CONFIG", &out)
            .env("SUPABASE_ANON_KEY", "anon.jwt.value")
            .env("SUPABASE_SERVICE_KEY", "service&.jwt.value")
            .env("DASHBOARD_USERNAME", "admin")
            .env("DASHBOARD_PASSWORD", password)
            .status()
            .expect("bash runs");
        // The final `exec` of Kong's entrypoint fails here; the rendering happened before it.
        let _ = status;
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
