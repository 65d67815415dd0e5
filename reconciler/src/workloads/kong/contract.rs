//! Kong against upstream's contract (`reconciler/contracts/kong.toml`): the declarative
//! config's routes and consumers, the env, and the image's user and writable paths, for a
//! default project and for one with the dashboard.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::core::v1::{EnvVar, PodSpec};
use serde::Deserialize;
use serde_json::Value as Json;

use super::super::contract::{self, EnvItem, Findings, Image, Upstream};
use super::super::fixtures::{minimal, minimal_new_keys, project};
use super::super::{Component, component};
use super::{ENTRYPOINT_KEY, TEMPLATE_KEY};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct KongContract {
    upstream: Upstream,
    image: Image,
    expressions: BTreeMap<String, String>,
    expressions_new_keys: BTreeMap<String, String>,
    per_project: BTreeMap<String, String>,
    hosts: BTreeMap<String, String>,
    declarative: Declarative,
    env: Vec<EnvItem>,
    consumer: Vec<Consumer>,
    route: Vec<Route>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Declarative {
    format_version: String,
    transform: bool,
    strip_path: bool,
    #[serde(default)]
    differs: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Consumer {
    username: String,
    #[serde(default)]
    keys: Vec<String>,
    #[serde(default)]
    acl_groups: Vec<String>,
    basic_auth: Option<Credentials>,
    when: Option<String>,
    why: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Credentials {
    username: String,
    password: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Route {
    name: String,
    service: String,
    url: String,
    protocol: Option<String>,
    read_timeout: Option<i64>,
    #[serde(default)]
    paths: Vec<String>,
    expression: Option<String>,
    plugins: Vec<String>,
    key_auth: Option<HideCredentials>,
    basic_auth: Option<HideCredentials>,
    acl: Option<Acl>,
    terminate: Option<Terminate>,
    transformer: Option<Transformer>,
    post_function_clears: Option<String>,
    left_out: Option<String>,
    when: Option<String>,
    why: Option<String>,
    #[serde(default)]
    differs: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct HideCredentials {
    hide_credentials: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Acl {
    allow: Vec<String>,
    hide_groups_header: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Terminate {
    status_code: i64,
    message: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Transformer {
    #[serde(default)]
    add_headers: Vec<String>,
    #[serde(default)]
    replace_headers: Vec<String>,
    #[serde(default)]
    remove_headers: Vec<String>,
    #[serde(default)]
    replace_querystring: Vec<String>,
}

/// The route fields a `differs` entry may name.
const ROUTE_FIELDS: [&str; 5] = ["service", "url", "protocol", "read_timeout", "paths"];
/// The plugins whose config the contract describes; any other plugin has no config upstream.
const DESCRIBED: [&str; 6] =
    ["key-auth", "basic-auth", "acl", "request-termination", "request-transformer", "post-function"];

/// One rendering of Kong: the project's name, the conditions that hold for it, and the
/// per-project values worked out by hand from the contract's rules.
struct Case {
    name: &'static str,
    project: crds::SupabaseProject,
    conditions: BTreeSet<&'static str>,
    per_project: BTreeMap<String, String>,
}

/// What the reconciler rendered for Kong.
struct Rendered {
    config: Json,
    script: String,
    pod: PodSpec,
}

fn render(p: &crds::SupabaseProject) -> Rendered {
    let o = component(p, Component::Kong, "h").expect("renders");
    let data = o.config_maps[0].data.clone().expect("data");
    let config = serde_json::from_str(&data[TEMPLATE_KEY]).expect("JSON");
    let pod = o.deployment.spec.and_then(|s| s.template.spec).expect("pod");
    Rendered { config, script: data[ENTRYPOINT_KEY].clone(), pod }
}

fn env_of(r: &Rendered) -> Vec<EnvVar> {
    r.pod.containers[0].env.clone().unwrap_or_default()
}

/// The default project: generated keys, Studio off, the API at the root of its host.
fn default_case() -> Case {
    let per_project = BTreeMap::from([(
        "WELL_KNOWN_OAUTH_PATH".to_string(),
        // Auth's issuer https://api.demo.example.com/auth/v1 (the gateway's URL plus /auth/v1).
        "/.well-known/oauth-authorization-server/auth/v1".to_string(),
    )]);
    Case { name: "default", project: minimal(), conditions: BTreeSet::new(), per_project }
}

/// Studio with dashboard credentials, and the API under a path of its host.
fn dashboard_case() -> Case {
    let p = project(
        "apiExternalUrl: https://demo.example.com/supabase/\ndatabase: {secretRef: {name: demo-db}}\n\
         dashboard: {secretRef: {name: demo-dash}}\ncomponents: {studio: {enabled: true}}\n",
    );
    let per_project = BTreeMap::from([(
        "WELL_KNOWN_OAUTH_PATH".to_string(),
        // Issuer https://demo.example.com/supabase/auth/v1 (the gateway's URL without its
        // slash, plus /auth/v1) → path "supabase/auth/v1".
        "/.well-known/oauth-authorization-server/supabase/auth/v1".to_string(),
    )]);
    Case { name: "dashboard", project: p, conditions: BTreeSet::from(["dashboard"]), per_project }
}

/// The default project with the new keys.
fn new_keys_case() -> Case {
    Case { name: "new keys", project: minimal_new_keys(), conditions: BTreeSet::from(["new_keys"]), ..default_case() }
}

/// Edge Functions enabled, on the legacy keys and on the new ones.
fn functions_case(new_keys: bool) -> Case {
    let mut case = if new_keys { new_keys_case() } else { default_case() };
    let functions = serde_json::json!({"enabled": true, "code": {"claimName": "fns"}});
    let mut spec = serde_json::to_value(&case.project.spec).expect("spec");
    spec["components"]["functions"] = functions;
    case.project.spec = crds::defaults(serde_json::from_value(spec).expect("spec"));
    case.conditions.insert("functions");
    case.name = if new_keys { "new keys with functions" } else { "functions" };
    case
}

/// Studio's route and the new keys together.
fn new_keys_dashboard_case() -> Case {
    let mut case = dashboard_case();
    case.project.spec.jwt.get_or_insert_default().keys = Some(crds::project::KeyScheme::Both);
    Case { name: "new keys with the dashboard", conditions: BTreeSet::from(["dashboard", "new_keys"]), ..case }
}

fn strings(v: &Json) -> Vec<String> {
    v.as_array().into_iter().flatten().filter_map(|s| s.as_str().map(String::from)).collect()
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

/// The URL a service of `project` has for upstream's `url`: the host mapped to the
/// component's Service, upstream's port and path.
fn our_url(c: &KongContract, project: &str, url: &str, f: &mut Findings) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let (host, port) = authority.rsplit_once(':')?;
    match c.hosts.get(host) {
        Some(component) => Some(format!("{scheme}://{project}-{component}:{port}{path}")),
        None => {
            f.add(format!("url {url}: host {host} is not in [hosts]"));
            None
        }
    }
}

fn check_plugins(want: &Route, service: &Json, vars: &BTreeMap<String, String>, f: &mut Findings) {
    let r = &want.name;
    let plugins: Vec<&Json> = service["plugins"].as_array().map(|p| p.iter().collect()).unwrap_or_default();
    let names: Vec<String> = plugins.iter().filter_map(|p| p["name"].as_str().map(String::from)).collect();
    if sorted(names.clone()) != sorted(want.plugins.clone()) {
        f.add(format!("route {r}: plugins {names:?}, upstream has {:?}", want.plugins));
    }
    let config = |name: &str| plugins.iter().find(|p| p["name"] == name).map(|p| &p["config"]);
    for name in names.iter().filter(|n| !DESCRIBED.contains(&n.as_str())) {
        if config(name).is_some_and(|c| !c.is_null() && c.as_object().is_none_or(|o| !o.is_empty())) {
            f.add(format!("route {r}: plugin {name} has a config; upstream's has none"));
        }
    }
    let hide = |name: &str, want: &Option<HideCredentials>, f: &mut Findings| {
        if let (Some(w), Some(got)) = (want, config(name))
            && got["hide_credentials"].as_bool() != Some(w.hide_credentials)
        {
            f.add(format!(
                "route {r}: {name} hide_credentials {}, upstream {}",
                got["hide_credentials"], w.hide_credentials
            ));
        }
    };
    hide("key-auth", &want.key_auth, f);
    hide("basic-auth", &want.basic_auth, f);
    if let (Some(w), Some(got)) = (&want.acl, config("acl")) {
        if sorted(strings(&got["allow"])) != sorted(w.allow.clone()) {
            f.add(format!("route {r}: acl allows {}, upstream allows {:?}", got["allow"], w.allow));
        }
        if got["hide_groups_header"].as_bool() != Some(w.hide_groups_header) {
            f.add(format!("route {r}: acl hide_groups_header differs"));
        }
    }
    if let (Some(w), Some(got)) = (&want.terminate, config("request-termination"))
        && (got["status_code"].as_i64() != Some(w.status_code) || got["message"].as_str() != Some(&w.message))
    {
        f.add(format!("route {r}: request-termination {got}, upstream {} {:?}", w.status_code, w.message));
    }
    if let Some(got) = config("request-transformer") {
        let empty = Transformer::default();
        let w = want.transformer.as_ref().unwrap_or(&empty);
        let expected = |list: &[String], f: &mut Findings| -> Vec<String> {
            sorted(list.iter().map(|h| contract::expand(h, vars, &format!("route {r}"), f)).collect())
        };
        let sections = [
            ("add", "headers", &w.add_headers),
            ("replace", "headers", &w.replace_headers),
            ("remove", "headers", &w.remove_headers),
            ("replace", "querystring", &w.replace_querystring),
        ];
        let mut described = 0;
        for (section, kind, list) in sections {
            let got_list = sorted(strings(&got[section][kind]));
            described += got_list.len();
            let want_list = expected(list, f);
            if got_list != want_list {
                f.add(format!("route {r}: request-transformer {section}.{kind} {got_list:?}, upstream {want_list:?}"));
            }
        }
        let total: usize = got
            .as_object()
            .into_iter()
            .flatten()
            .flat_map(|(_, s)| s.as_object().into_iter().flatten())
            .map(|(_, v)| v.as_array().map_or(0, Vec::len))
            .sum();
        if total != described {
            f.add(format!("route {r}: request-transformer has sections upstream does not: {got}"));
        }
    }
    if let Some(header) = &want.post_function_clears {
        let code = config("post-function").map(|c| strings(&c["access"]).join("\n")).unwrap_or_default();
        if !code.contains(&format!("clear_header(\"{header}\")")) {
            f.add(format!("route {r}: the post-function does not clear {header}"));
        }
    }
}

fn check_routes(c: &KongContract, case: &Case, config: &Json, vars: &BTreeMap<String, String>, f: &mut Findings) {
    let project = case.project.metadata.name.clone().unwrap_or_default();
    let mut rendered: BTreeMap<String, (&Json, &Json)> = BTreeMap::new();
    for service in config["services"].as_array().into_iter().flatten() {
        for route in service["routes"].as_array().into_iter().flatten() {
            let name = route["name"].as_str().unwrap_or_default().to_string();
            if rendered.insert(name.clone(), (service, route)).is_some() {
                f.add(format!("route {name}: rendered twice"));
            }
        }
    }
    for want in &c.route {
        let r = &want.name;
        let applies = want.when.as_deref().is_none_or(|w| case.conditions.contains(w));
        let got = rendered.remove(r);
        let (service, route) = match (got, &want.left_out) {
            (Some(_), Some(reason)) => {
                f.add(format!("route {r}: rendered, but the contract leaves it out ({reason})"));
                continue;
            }
            (Some(_), None) if !applies => {
                f.add(format!(
                    "route {r}: rendered, but only expected with {:?}",
                    want.when.as_deref().unwrap_or_default()
                ));
                continue;
            }
            (None, Some(_)) => continue,
            (None, None) if !applies => continue,
            (None, None) => {
                let matcher = want.expression.clone().unwrap_or_else(|| want.paths.join(", "));
                f.add(format!("route {r} ({matcher}): upstream has it, not rendered"));
                continue;
            }
            (Some(got), None) => got,
        };
        let skip = |field: &str| want.differs.contains_key(field);
        if !skip("service") && service["name"] != want.service.as_str() {
            f.add(format!("route {r}: service {}, upstream {}", service["name"], want.service));
        }
        if !skip("url") {
            let ours = our_url(c, &project, &want.url, f);
            if ours.is_none() || service["url"].as_str() != ours.as_deref() {
                f.add(format!("route {r}: url {}, expected {ours:?} for upstream's {}", service["url"], want.url));
            }
        }
        if let Some(protocol) = want.protocol.as_deref().filter(|_| !skip("protocol"))
            && service["protocol"].as_str() != Some(protocol)
        {
            f.add(format!("route {r}: service protocol {}, upstream {protocol}", service["protocol"]));
        }
        if let Some(timeout) = want.read_timeout.filter(|_| !skip("read_timeout"))
            && service["read_timeout"].as_i64() != Some(timeout)
        {
            f.add(format!("route {r}: read_timeout {}, upstream {timeout}", service["read_timeout"]));
        }
        if !skip("paths") {
            let paths: Vec<String> =
                want.paths.iter().map(|p| contract::expand(p, vars, &format!("route {r}"), f)).collect();
            if strings(&route["paths"]) != paths {
                f.add(format!("route {r}: paths {}, upstream {paths:?}", route["paths"]));
            }
        }
        if route["expression"].as_str() != want.expression.as_deref() {
            f.add(format!("route {r}: expression {}, upstream {:?}", route["expression"], want.expression));
        }
        if route["strip_path"].as_bool() != Some(c.declarative.strip_path) {
            f.add(format!("route {r}: strip_path {}, upstream {}", route["strip_path"], c.declarative.strip_path));
        }
        check_plugins(want, service, vars, f);
    }
    for name in rendered.keys() {
        f.add(format!("route {name}: rendered, but not in the contract"));
    }
}

fn check_consumers(c: &KongContract, case: &Case, config: &Json, env: &[EnvVar], f: &mut Findings) {
    let rendered_env: BTreeSet<&str> = env.iter().map(|v| v.name.as_str()).collect();
    // Upstream's `$NAME` is the operator's `${NAME}`, filled at start from the env var.
    let placeholder = |key: &str| format!("${{{}}}", key.trim_start_matches('$'));
    let mut consumers: BTreeMap<String, &Json> = BTreeMap::new();
    for consumer in config["consumers"].as_array().into_iter().flatten() {
        consumers.insert(consumer["username"].as_str().unwrap_or_default().to_string(), consumer);
    }
    let of = |list: &str, user: &str| -> Vec<&Json> {
        config[list].as_array().into_iter().flatten().filter(|e| e["consumer"] == user).collect()
    };
    for want in &c.consumer {
        let u = &want.username;
        let applies = want.when.as_deref().is_none_or(|w| case.conditions.contains(w));
        let Some(got) = consumers.remove(u) else {
            if applies {
                f.add(format!("consumer {u}: upstream has it, not rendered"));
            }
            continue;
        };
        if !applies {
            f.add(format!(
                "consumer {u}: rendered, but only expected with {:?}",
                want.when.as_deref().unwrap_or_default()
            ));
            continue;
        }
        // A key is expected when its variable is rendered; a left-out one is not a credential.
        let keys: Vec<String> = want
            .keys
            .iter()
            .filter(|k| rendered_env.contains(k.trim_start_matches('$')))
            .map(|k| placeholder(k))
            .collect();
        let got_keys: Vec<String> = got["keyauth_credentials"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|k| k["key"].as_str().map(String::from))
            .collect();
        if got_keys != keys {
            f.add(format!("consumer {u}: keys {got_keys:?}, expected {keys:?} (upstream {:?})", want.keys));
        }
        let groups: Vec<String> = of("acls", u).iter().filter_map(|a| a["group"].as_str().map(String::from)).collect();
        if groups != want.acl_groups {
            f.add(format!("consumer {u}: ACL groups {groups:?}, upstream {:?}", want.acl_groups));
        }
        let creds = of("basicauth_credentials", u);
        match (&want.basic_auth, creds.as_slice()) {
            (None, []) => {}
            (Some(w), [got]) => {
                if got["username"].as_str() != Some(&placeholder(&w.username))
                    || got["password"].as_str() != Some(&placeholder(&w.password))
                {
                    f.add(format!("consumer {u}: basic-auth credentials {got}, upstream {w:?}"));
                }
            }
            (w, got) => f.add(format!("consumer {u}: basic-auth credentials {got:?}, upstream {w:?}")),
        }
    }
    for name in consumers.keys() {
        f.add(format!("consumer {name}: rendered, but not in the contract"));
    }
    let known: BTreeSet<&str> =
        config["consumers"].as_array().into_iter().flatten().filter_map(|c| c["username"].as_str()).collect();
    for list in ["acls", "basicauth_credentials"] {
        for entry in config[list].as_array().into_iter().flatten() {
            if !entry["consumer"].as_str().is_some_and(|c| known.contains(c)) {
                f.add(format!("{list}: {} names no rendered consumer", entry["consumer"]));
            }
        }
    }
}

/// Everything the contract says against one rendering.
fn check(c: &KongContract, case: &Case, r: &Rendered) -> Findings {
    let mut f = Findings::default();
    let env = env_of(r);
    let mut vars = if case.conditions.contains("new_keys") {
        // Upstream's `$NAME` of a key inside an expression is the operator's `${NAME}`.
        let keys: BTreeMap<String, String> =
            ["SUPABASE_SECRET_KEY", "SUPABASE_PUBLISHABLE_KEY", "ANON_KEY_ASYMMETRIC", "SERVICE_ROLE_KEY_ASYMMETRIC"]
                .iter()
                .map(|k| (k.to_string(), format!("${{{k}}}")))
                .collect();
        c.expressions_new_keys
            .iter()
            .map(|(name, e)| (name.clone(), contract::expand(e, &keys, &format!("expression {name}"), &mut f)))
            .collect()
    } else {
        c.expressions.clone()
    };
    for name in c.per_project.keys() {
        match case.per_project.get(name) {
            Some(v) => {
                vars.insert(name.clone(), v.clone());
            }
            None => f.add(format!("case {}: gives no value for {name}", case.name)),
        }
    }
    let d = &c.declarative;
    if !d.differs.contains_key("format_version") && r.config["_format_version"] != d.format_version.as_str() {
        f.add(format!("_format_version {}, upstream {}", r.config["_format_version"], d.format_version));
    }
    if r.config["_transform"].as_bool() != Some(d.transform) {
        f.add(format!("_transform {}, upstream {}", r.config["_transform"], d.transform));
    }
    let known = ["_format_version", "_transform", "consumers", "acls", "basicauth_credentials", "services"];
    for key in r.config.as_object().into_iter().flatten().map(|(k, _)| k) {
        if !known.contains(&key.as_str()) {
            f.add(format!("{key}: a top-level key upstream's config does not have"));
        }
    }
    contract::check_env(&c.env, &case.conditions, &env, &mut f);
    check_consumers(c, case, &r.config, &env, &mut f);
    check_routes(c, case, &r.config, &vars, &mut f);
    contract::check_image(&c.image, &r.pod, Some(&r.script), &mut f);
    f
}

/// The table's own consistency, beyond what serde checks.
fn check_table(c: &KongContract) -> Findings {
    let mut f = Findings::default();
    contract::check_table(&c.upstream, &c.env, &mut f);
    for key in c.declarative.differs.keys() {
        if key != "format_version" {
            f.add(format!("declarative.differs.{key}: not a field of [declarative]"));
        }
    }
    let mut names = BTreeSet::new();
    for r in &c.route {
        if !names.insert(&r.name) {
            f.add(format!("route {}: listed twice", r.name));
        }
        if r.paths.is_empty() == r.expression.is_none() {
            f.add(format!("route {}: give paths or an expression", r.name));
        }
        if r.when.is_some() && r.why.is_none() {
            f.add(format!("route {}: `when` needs `why`", r.name));
        }
        for field in r.differs.keys().filter(|k| !ROUTE_FIELDS.contains(&k.as_str())) {
            f.add(format!("route {}: differs.{field} is not a field the checker compares", r.name));
        }
        for p in &r.plugins {
            let loaded = c.env.iter().find(|e| e.name == "KONG_PLUGINS").and_then(|e| e.upstream.clone());
            if r.left_out.is_none() && !loaded.is_some_and(|l| l.split(',').any(|x| x == p)) {
                f.add(format!("route {}: plugin {p} is not in upstream's KONG_PLUGINS", r.name));
            }
        }
    }
    for cons in &c.consumer {
        if cons.when.is_some() && cons.why.is_none() {
            f.add(format!("consumer {}: `when` needs `why`", cons.username));
        }
    }
    f
}

/// New projects get upstream's image; stored ones keep theirs until their spec changes.
#[test]
fn the_catalog_pins_upstreams_image() {
    let c: KongContract = contract::load("kong");
    assert_eq!(Component::Kong.entry().image(), c.upstream.image, "pinned by {}", c.upstream.cite());
}

#[test]
fn the_contract_table_is_well_formed() {
    let c: KongContract = contract::load("kong");
    check_table(&c).assert_none("reconciler/contracts/kong.toml");
}

#[test]
fn a_default_project_renders_upstreams_kong() {
    let c: KongContract = contract::load("kong");
    let case = default_case();
    check(&c, &case, &render(&case.project))
        .assert_none(&format!("Kong, default project, against {}", c.upstream.cite()));
}

#[test]
fn projects_with_the_new_keys_render_upstreams_kong() {
    let c: KongContract = contract::load("kong");
    for case in [new_keys_case(), new_keys_dashboard_case()] {
        check(&c, &case, &render(&case.project)).assert_none(&format!(
            "Kong, {}, against {}",
            case.name,
            c.upstream.cite()
        ));
    }
}

#[test]
fn projects_with_functions_render_upstreams_functions_route() {
    let c: KongContract = contract::load("kong");
    for case in [functions_case(false), functions_case(true)] {
        check(&c, &case, &render(&case.project)).assert_none(&format!(
            "Kong for {}, against {}",
            case.name,
            c.upstream.cite()
        ));
    }
}

#[test]
fn a_project_with_the_dashboard_renders_upstreams_kong() {
    let c: KongContract = contract::load("kong");
    let case = dashboard_case();
    check(&c, &case, &render(&case.project))
        .assert_none(&format!("Kong with the dashboard, against {}", c.upstream.cite()));
}

/// The checker fails, naming the item, on each kind of difference.
#[test]
fn the_checker_names_each_difference() {
    let c: KongContract = contract::load("kong");
    let case = default_case();
    let mut r = render(&case.project);
    let services = r.config["services"].as_array_mut().expect("services");
    services.retain(|s| s["name"] != "realtime-v1-rest-tenants");
    for s in services.iter_mut().filter(|s| s["name"] == "rest-v1-openapi") {
        s["plugins"][3]["config"]["allow"] = serde_json::json!(["admin", "anon"]);
    }
    for s in services.iter_mut().filter(|s| s["name"] == "meta") {
        s["routes"][0]["paths"] = serde_json::json!(["/meta/"]);
    }
    let env = r.pod.containers[0].env.as_mut().expect("env");
    for v in env.iter_mut().filter(|v| v.name == "KONG_PLUGINS") {
        v.value = Some("cors".into());
    }
    env.retain(|v| v.name != "KONG_DNS_VALID_TTL");
    env.push(EnvVar { name: "KONG_ANYTHING".into(), value: Some("x".into()), value_from: None });
    r.pod.containers[0].security_context.as_mut().expect("sc").run_as_user = Some(1000);
    r.pod.containers[0].volume_mounts.as_mut().expect("mounts").retain(|m| m.mount_path != "/tmp");

    let f = check(&c, &case, &r);
    for expected in [
        "route realtime-v1-rest-tenants",
        "route rest-v1-openapi-root: acl",
        "route meta-all: paths",
        "env KONG_PLUGINS",
        "env KONG_DNS_VALID_TTL",
        "env KONG_ANYTHING",
        "image: runs as uid Some(1000)",
        "image: writes /tmp",
    ] {
        assert!(f.mention(expected), "no finding names {expected:?}: {:#?}", f.0);
    }
    assert_eq!(f.0.len(), 8, "one finding per difference: {:#?}", f.0);
}

#[test]
fn the_table_check_refuses_an_entry_that_says_two_things() {
    let mut c: KongContract = contract::load("kong");
    c.env[0].left_out = Some("both".into());
    c.route[0].expression = Some("http.path == \"/\"".into());
    let f = check_table(&c);
    assert!(f.mention("env KONG_DATABASE: give exactly one"), "{:#?}", f.0);
    assert!(f.mention("route auth-v1-open: give paths or an expression"), "{:#?}", f.0);
}
