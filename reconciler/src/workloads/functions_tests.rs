//! Edge Functions' Deployment: its env against upstream's compose (supabase/supabase
//! docker/docker-compose.yml @ 1f37f2a9d82d, service `functions`; expected values written
//! from there, not from the output), the code and main-service volumes, the arguments,
//! and a read-only root with the runtime's writable paths.

use std::collections::BTreeMap;

use crds::{Component, SupabaseProject};
use k8s_openapi::api::core::v1::{Container, EnvVar, PodSpec, Volume};

use super::fixtures::{FULL, minimal, project};
use super::{ComponentObjects, component};

/// Upstream's mount of the functions (`./volumes/functions:/home/deno/functions`).
const FUNCTIONS_DIR: &str = "/home/deno/functions";

const CODE: &str =
    "      configMap:\n        name: demo-code\n        items:\n        - {key: hello.ts, path: hello/index.ts}\n";

fn with_functions(base: &str, settings: &str) -> SupabaseProject {
    let base = if base.contains("components:\n") { base.to_string() } else { format!("{base}components:\n") };
    project(&format!("{base}  functions:\n    enabled: true\n{settings}"))
}

fn full_with(settings: &str) -> SupabaseProject {
    with_functions(FULL, settings)
}

fn full_new_keys_with(settings: &str) -> SupabaseProject {
    // As fixtures::full_new_keys: the signing keys and the API keys from user Secrets.
    let base = FULL.replace(
        "  expirySeconds: 7200\n",
        "  expirySeconds: 7200\n  keys: both\n  signingKeysRef: {name: demo-signing, keysKey: private}\n  \
         apiKeysRef: {name: demo-api}\n",
    );
    with_functions(&base, settings)
}

fn render(p: &SupabaseProject) -> ComponentObjects {
    component(p, Component::Functions, "h").expect("renders")
}

fn pod(o: &ComponentObjects) -> PodSpec {
    o.deployment.spec.clone().and_then(|s| s.template.spec).expect("pod spec")
}

fn container(o: &ComponentObjects) -> Container {
    pod(o).containers[0].clone()
}

/// `name` → literal value, or `secret:<name>/<key>` for a secretKeyRef.
fn env(o: &ComponentObjects) -> BTreeMap<String, String> {
    let vars: Vec<EnvVar> = container(o).env.unwrap_or_default();
    let map: BTreeMap<String, String> = vars
        .iter()
        .map(|v| {
            let value = match (&v.value, v.value_from.as_ref().and_then(|f| f.secret_key_ref.as_ref())) {
                (Some(s), None) => s.clone(),
                (None, Some(r)) => format!("secret:{}/{}", r.name, r.key),
                other => panic!("{}: neither a literal nor a secretKeyRef: {other:?}", v.name),
            };
            (v.name.clone(), value)
        })
        .collect();
    assert_eq!(map.len(), vars.len(), "a variable is set twice");
    map
}

/// The volume mounted at `path` and whether the mount is read-only.
fn mounted_at(o: &ComponentObjects, path: &str) -> Option<(Volume, bool)> {
    let c = container(o);
    let mount = c.volume_mounts.unwrap_or_default().into_iter().find(|m| m.mount_path == path)?;
    let volume = pod(o).volumes.unwrap_or_default().into_iter().find(|v| v.name == mount.name)?;
    Some((volume, mount.read_only == Some(true)))
}

#[test]
fn the_env_is_upstreams_with_the_password_only_in_a_secret_key_ref() {
    let got = env(&render(&full_with(&format!("    verifyJwt: true\n    code:\n{CODE}"))));
    let want: BTreeMap<String, String> = [
        // Upstream's, in compose order; the project's JWT Secret is `demo-jwt-user` (s, a, k).
        ("JWT_SECRET", "secret:demo-jwt-user/s"),
        ("SUPABASE_URL", "http://demo-kong:8000"),
        ("SUPABASE_PUBLIC_URL", "https://api.demo.example.com"),
        ("SUPABASE_ANON_KEY", "secret:demo-jwt-user/a"),
        ("SUPABASE_SERVICE_ROLE_KEY", "secret:demo-jwt-user/k"),
        // Upstream's postgresql://postgres:<password>@host:port/db, without the password
        // and as supabase_admin (the catalog's database login), with the spec's sslmode;
        // libpq, postgres.js and node-postgres read both URL schemes alike.
        ("SUPABASE_DB_URL", "postgres://supabase_admin@$(PGHOST):$(PGPORT)/$(PGDATABASE)?sslmode=require"),
        ("PGHOST", "secret:demo-db/h"),
        ("PGPORT", "secret:demo-db/p"),
        ("PGDATABASE", "secret:demo-db/d"),
        ("PGPASSWORD", "secret:demo-db/pw"),
        ("VERIFY_JWT", "true"),
        // The module cache off the read-only root (upstream: root's /root/.cache/deno).
        ("DENO_DIR", "/var/cache/deno"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    assert_eq!(got, want);
    // The default, as upstream's .env.example FUNCTIONS_VERIFY_JWT=false.
    let default = env(&render(&full_with(&format!("    code:\n{CODE}"))));
    assert_eq!(default.get("VERIFY_JWT").map(String::as_str), Some("false"));
}

#[test]
fn the_new_keys_reach_the_runtime_as_upstreams_json_maps() {
    let got = env(&render(&full_new_keys_with(&format!("    code:\n{CODE}"))));
    assert_eq!(got.get("SUPABASE_PUBLISHABLE_KEY").map(String::as_str), Some("secret:demo-api/publishableKey"));
    assert_eq!(got.get("SUPABASE_SECRET_KEY").map(String::as_str), Some("secret:demo-api/secretKey"));
    // Upstream: "{\"default\":\"${SUPABASE_PUBLISHABLE_KEY:-}\"}"; the kubelet splices the key in.
    assert_eq!(
        got.get("SUPABASE_PUBLISHABLE_KEYS").map(String::as_str),
        Some(r#"{"default":"$(SUPABASE_PUBLISHABLE_KEY)"}"#)
    );
    assert_eq!(got.get("SUPABASE_SECRET_KEYS").map(String::as_str), Some(r#"{"default":"$(SUPABASE_SECRET_KEY)"}"#));
    // The public key set the operator derives, kept beside the other internal values
    // (the user names spec.jwt.secretRef here, so they live in `demo-internal`).
    let jwks = got.get("SUPABASE_JWKS").cloned().unwrap_or_default();
    assert!(jwks.starts_with("secret:demo-internal/"), "{jwks}");
    // A `$(VAR)` reference only expands when VAR comes earlier.
    let order: Vec<String> = container(&render(&full_new_keys_with(&format!("    code:\n{CODE}"))))
        .env
        .unwrap_or_default()
        .into_iter()
        .map(|v| v.name)
        .collect();
    let at = |n: &str| order.iter().position(|x| x == n).unwrap_or(usize::MAX);
    assert!(at("SUPABASE_PUBLISHABLE_KEY") < at("SUPABASE_PUBLISHABLE_KEYS"), "{order:?}");
    assert!(at("SUPABASE_SECRET_KEY") < at("SUPABASE_SECRET_KEYS"), "{order:?}");
    // The legacy scheme has none of them.
    let legacy = env(&render(&full_with(&format!("    code:\n{CODE}"))));
    for k in ["SUPABASE_JWKS", "SUPABASE_PUBLISHABLE_KEYS", "SUPABASE_SECRET_KEYS", "SUPABASE_PUBLISHABLE_KEY"] {
        assert!(!legacy.contains_key(k), "{k} without the new keys");
    }
}

#[test]
fn the_code_config_map_is_mounted_read_only_where_upstream_mounts_the_functions() {
    let o = render(&full_with(&format!("    code:\n{CODE}")));
    let (volume, read_only) = mounted_at(&o, FUNCTIONS_DIR).expect("the functions' directory");
    assert!(read_only);
    let cm = volume.config_map.expect("a ConfigMap volume");
    assert_eq!(cm.name, "demo-code");
    let items: Vec<(String, String)> = cm.items.unwrap_or_default().into_iter().map(|i| (i.key, i.path)).collect();
    assert_eq!(items, [("hello.ts".to_string(), "hello/index.ts".to_string())]);
    // A missing ConfigMap keeps the pod waiting rather than serving no functions.
    assert_eq!(cm.optional, Some(false));
}

#[test]
fn a_claim_is_mounted_read_only_where_upstream_mounts_the_functions() {
    let o = render(&full_with("    code:\n      claimName: demo-functions-code\n"));
    let (volume, read_only) = mounted_at(&o, FUNCTIONS_DIR).expect("the functions' directory");
    let claim = volume.persistent_volume_claim.expect("a claim volume");
    assert_eq!((claim.claim_name.as_str(), claim.read_only, read_only), ("demo-functions-code", Some(true), true));
}

#[test]
fn the_main_service_is_the_operators_own_config_map_outside_the_functions() {
    let o = render(&full_with(&format!("    code:\n{CODE}")));
    // Upstream's command, with the main service where this Deployment mounts it.
    let args = container(&o).args.unwrap_or_default();
    assert_eq!(args[..3], ["start", "--user-worker-request-idle-timeout", "150000"]);
    let flag = args.iter().position(|a| a == "--main-service").expect("--main-service");
    let main_dir = args.get(flag + 1).cloned().expect("its directory");
    assert!(!main_dir.starts_with(&format!("{FUNCTIONS_DIR}/")), "a user's code could replace {main_dir}");
    let (volume, read_only) = mounted_at(&o, &main_dir).expect("the main service's directory");
    assert!(read_only);
    let name = volume.config_map.map(|c| c.name).expect("a ConfigMap volume");
    let main = o.config_maps.iter().find(|m| m.metadata.name.as_deref() == Some(name.as_str())).expect("rendered");
    let source = main.data.clone().unwrap_or_default().remove("index.ts").expect("index.ts");
    // What upstream's main service does: serve each function from /home/deno/functions/<name>
    // in a user worker, with the JWT check VERIFY_JWT asks for.
    for needle in ["EdgeRuntime.userWorkers.create", "VERIFY_JWT", FUNCTIONS_DIR] {
        assert!(source.contains(needle), "the main service lacks {needle}");
    }
    assert!(o.config_maps.iter().all(|m| m.metadata.owner_references.as_ref().is_some_and(|r| !r.is_empty())));
}

#[test]
fn the_root_is_read_only_and_the_runtime_writes_to_empty_dirs() {
    let o = render(&full_with(&format!("    code:\n{CODE}")));
    let c = container(&o);
    let sc = c.security_context.clone().expect("security context");
    assert_eq!(sc.read_only_root_filesystem, Some(true));
    assert_eq!(sc.run_as_non_root.or(pod(&o).security_context.and_then(|s| s.run_as_non_root)), Some(true));
    let deno_dir = env(&o).get("DENO_DIR").cloned().expect("DENO_DIR");
    for path in [deno_dir.as_str(), "/tmp"] {
        let (volume, read_only) = mounted_at(&o, path).unwrap_or_else(|| panic!("nothing mounted at {path}"));
        assert!(volume.empty_dir.is_some() && !read_only, "{path}");
    }
}

#[test]
fn a_project_without_functions_renders_an_unused_empty_code_directory() {
    // Rendered for the hash and removal paths, never applied while disabled.
    let o = render(&minimal());
    let (volume, _) = mounted_at(&o, FUNCTIONS_DIR).expect("the functions' directory");
    assert!(volume.empty_dir.is_some());
    assert!(!minimal().spec.enabled(Component::Functions));
}
