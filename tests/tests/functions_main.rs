//! The operator's Edge Functions main service, run for real: the `index.ts` the reconciler
//! renders into its ConfigMap, executed by Node's JavaScript engine and WebCrypto
//! (`tests/scripts/functions-main-check.mjs`, a shim for `Deno` and `EdgeRuntime`), with the
//! environment the rendered container gets (literal values from the Deployment; the values its
//! Secret references point at computed by the operator's own key code: `crds::keys::derive`
//! for the public set, `crds::jwt` and `crds::keys::internal_jwt` for the tokens). No cluster.
//!
//! The behaviour expected is upstream's main service (supabase/supabase
//! docker/volumes/functions/main/index.ts): 401 with `sb-error-code` for a missing or invalid
//! token, OPTIONS unchecked, 400 without a function name, a worker for
//! `/home/deno/functions/<name>` with 150 MB and a 60 s timeout.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use crds::jwt::{self, ISSUER, Role};
use crds::keys::set::{Expect, check_private};
use crds::keys::{Generated, Jwk, PrivateSet, derive, generate, internal_jwt, jwk};
use crds::refs::jwt_keys;
use crds::{Component, SupabaseProject, SupabaseProjectSpec};
use harness::fixtures::{JWT_SECRET, PUBLISHABLE_KEY};
use serde_json::{Value, json};

const HOUR: i64 = 3600;
const WORKER: &str = "/home/deno/functions/hello";

fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}

/// A project on the new keys (beside the legacy ones) running Functions.
fn project(verify_jwt: bool) -> SupabaseProject {
    let yaml = format!(
        "{}jwt:\n  keys: both\ncomponents:\n  functions:\n    enabled: true\n    verifyJwt: {verify_jwt}\n    code:\n      \
         configMap:\n        name: fn-code\n        items:\n        - key: hello.ts\n          path: hello/index.ts\n",
        harness::reconciler::MINIMAL_SPEC
    );
    let spec: SupabaseProjectSpec = serde_yaml::from_str(&yaml).unwrap();
    let mut project = SupabaseProject::new("demo", crds::defaults(spec));
    project.metadata.namespace = Some("team-a".into());
    project.metadata.uid = Some("00000000-0000-0000-0000-000000000001".into());
    project
}

/// A project's keys: what the generator makes and the private set they come from.
struct Keys {
    generated: Generated,
    set: PrivateSet,
}

fn keys() -> Keys {
    let generated = generate(JWT_SECRET, now()).unwrap();
    let (set, problems) = check_private(&generated.private_set, &Expect::default());
    assert!(problems.is_empty(), "{problems:?}");
    Keys { generated, set }
}

/// The main service as rendered for `project`, written out, and the environment its container
/// gets when the generated `<project>-jwt` Secret holds what the operator derives from `set`.
struct Main {
    _dir: tempfile::TempDir,
    file: PathBuf,
    env: BTreeMap<String, String>,
}

fn render(project: &SupabaseProject, set: &PrivateSet) -> Main {
    let objects = reconciler::workloads::component(project, Component::Functions, "hash").unwrap();
    let code = objects
        .config_maps
        .iter()
        .find_map(|cm| cm.data.as_ref()?.get("index.ts").cloned())
        .expect("a ConfigMap holds the main service's index.ts");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("index.ts");
    std::fs::write(&file, code).unwrap();

    // What the Secret keys hold: the values the reconciler writes (new_keys.rs puts
    // derive::public_set under `jwks`); the rest are not read by the main service.
    let (anon, service) = harness::fixtures::jwt_keys(JWT_SECRET);
    let secret = |key: &str| match key {
        k if k == jwt_keys::SECRET => JWT_SECRET.to_string(),
        k if k == jwt_keys::PUBLIC_KEYS => derive::public_set(set, JWT_SECRET),
        k if k == jwt_keys::ANON => anon.clone(),
        k if k == jwt_keys::SERVICE => service.clone(),
        other => format!("unused-{other}"),
    };
    let pod = objects.deployment.spec.unwrap().template.spec.unwrap();
    let container = pod.containers.into_iter().find(|c| c.name == Component::Functions.name()).unwrap();
    let mut env = BTreeMap::new();
    for var in container.env.unwrap_or_default() {
        let value = match (&var.value, &var.value_from) {
            (_, Some(from)) => secret(&from.secret_key_ref.as_ref().expect("only Secret references here").key),
            (value, None) => harness::pod_env::expand(value.as_deref().unwrap_or_default(), &env),
        };
        env.insert(var.name, value);
    }
    for name in ["VERIFY_JWT", "JWT_SECRET", "SUPABASE_JWKS"] {
        assert!(env.contains_key(name), "{name} is rendered");
    }
    Main { _dir: dir, file, env }
}

fn get(name: &str, path: &str, headers: Value) -> Value {
    json!({"name": name, "method": "GET", "path": path, "headers": headers})
}

fn bearer(token: &str) -> Value {
    json!({"authorization": format!("Bearer {token}")})
}

/// Runs the cases through the main service; the results by case name.
fn run(main: &Main, cases: &[Value]) -> BTreeMap<String, Value> {
    let script = harness::repo_path("tests/scripts/functions-main-check.mjs");
    let mut child = Command::new("node")
        .arg(&script)
        .arg(&main.file)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("node (v20 or later) runs the main service; install Node.js");
    let input = json!({"env": main.env, "cases": cases});
    child.stdin.take().unwrap().write_all(input.to_string().as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "node failed: {}", String::from_utf8_lossy(&out.stderr));
    let printed: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|_| panic!("node printed no JSON: {}", String::from_utf8_lossy(&out.stderr)));
    let results = printed["results"].as_array().unwrap();
    assert_eq!(results.len(), cases.len());
    results.iter().map(|r| (r["name"].as_str().unwrap().to_string(), r.clone())).collect()
}

/// The case reached the worker for [`WORKER`], as upstream's main service creates it.
fn assert_dispatched(results: &BTreeMap<String, Value>, name: &str) {
    let r = &results[name];
    assert_eq!(r["threw"], Value::Null, "{name}: {r}");
    assert_eq!(r["status"], 200, "{name}: {r}");
    assert_eq!(r["body"]["servicePath"], WORKER, "{name}: {r}");
    assert_eq!(r["created"]["servicePath"], WORKER, "{name}");
    assert_eq!(r["created"]["memoryLimitMb"], 150, "{name}");
    assert_eq!(r["created"]["workerTimeoutMs"], 60_000, "{name}");
}

/// The case was refused with 401 and `code`, and no worker was created.
fn assert_refused(results: &BTreeMap<String, Value>, name: &str, code: &str) {
    let r = &results[name];
    assert_eq!(r["threw"], Value::Null, "{name}: {r}");
    assert_eq!(r["status"], 401, "{name}: {r}");
    assert_eq!(r["code"], code, "{name}: {r}");
    assert_eq!(r["body"]["code"], code, "{name}: {r}");
    assert_eq!(r["created"], Value::Null, "{name}: no worker for a refused request");
}

#[test]
fn without_verification_every_request_reaches_its_function_with_the_runtimes_env() {
    let keys = keys();
    let main = render(&project(false), &keys.set);
    assert_eq!(main.env["VERIFY_JWT"], "false");
    let wrong = jwt::sign("another-secret-of-at-least-32-characters", Role::Anon, ISSUER, now(), now() + HOUR).unwrap();
    let results = run(
        &main,
        &[
            get("none", "/hello", json!({})),
            get("wrong", "/hello/sub/path?x=1", bearer(&wrong)),
            get("garbage", "/hello", bearer("not-a-jwt")),
        ],
    );
    for name in ["none", "wrong", "garbage"] {
        assert_dispatched(&results, name);
    }
    // The worker gets the container's environment (upstream passes Deno.env.toObject()).
    let names: Vec<&str> =
        results["none"]["created"]["envVarNames"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
    for name in ["SUPABASE_URL", "SUPABASE_ANON_KEY", "SUPABASE_DB_URL", "JWT_SECRET"] {
        assert!(names.contains(&name), "{name} not in {names:?}");
    }
}

#[test]
fn hs256_tokens_pass_only_signed_with_the_secret_unexpired_and_present() {
    let keys = keys();
    let main = render(&project(true), &keys.set);
    assert_eq!(main.env["VERIFY_JWT"], "true");
    let (anon, service) = harness::fixtures::jwt_keys(JWT_SECRET);
    let wrong = jwt::sign("another-secret-of-at-least-32-characters", Role::Anon, ISSUER, now(), now() + HOUR).unwrap();
    let expired = jwt::sign(JWT_SECRET, Role::Anon, ISSUER, now() - 2 * HOUR, now() - HOUR).unwrap();
    let results = run(
        &main,
        &[
            get("anon", "/hello", bearer(&anon)),
            get("service", "/hello", bearer(&service)),
            get("wrong secret", "/hello", bearer(&wrong)),
            get("expired", "/hello", bearer(&expired)),
            get("none", "/hello", json!({})),
        ],
    );
    assert_dispatched(&results, "anon");
    assert_dispatched(&results, "service");
    assert_refused(&results, "wrong secret", "UNAUTHORIZED_LEGACY_JWT");
    assert_refused(&results, "expired", "UNAUTHORIZED_LEGACY_JWT");
    assert_refused(&results, "none", "UNAUTHORIZED_NO_AUTH_HEADER");
}

/// `key` with its kid replaced: a token signed by it names another key.
fn named(key: &Jwk, kid: &str) -> Jwk {
    Jwk { kid: Some(kid.to_string()), ..key.clone() }
}

#[test]
fn es256_tokens_verify_with_the_derived_public_set_by_kid() {
    let keys = keys();
    let signer = keys.set.find(&keys.generated.kid).unwrap().clone();
    // A second key in the set, as during a rotation: each token is checked with the key its
    // kid names.
    let second = jwk::generate_ec();
    let second_kid = second.kid.clone().unwrap();
    let mut with_second = keys.set.keys().to_vec();
    with_second.push(second.clone());
    let rotating = PrivateSet::from_keys(with_second);
    let main = render(&project(true), &rotating);
    let (t0, t1) = (now(), now() + HOUR);
    let by_second = internal_jwt::sign(&second, Role::ServiceRole, t0, t1).unwrap();
    let second_named_first = internal_jwt::sign(&named(&second, &keys.generated.kid), Role::Anon, t0, t1).unwrap();
    let first_named_second = internal_jwt::sign(&named(&signer, &second_kid), Role::Anon, t0, t1).unwrap();
    let expired = internal_jwt::sign(&signer, Role::Anon, t0 - 2 * HOUR, t0 - HOUR).unwrap();
    let results = run(
        &main,
        &[
            get("generated anon", "/hello", bearer(&keys.generated.anon_jwt)),
            get("generated service", "/hello", bearer(&keys.generated.service_jwt)),
            get("second key", "/hello", bearer(&by_second)),
            get("second key naming the first", "/hello", bearer(&second_named_first)),
            get("first key naming the second", "/hello", bearer(&first_named_second)),
            get("expired", "/hello", bearer(&expired)),
        ],
    );
    assert_dispatched(&results, "generated anon");
    assert_dispatched(&results, "generated service");
    assert_dispatched(&results, "second key");
    assert_refused(&results, "second key naming the first", "UNAUTHORIZED_ASYMMETRIC_JWT");
    assert_refused(&results, "first key naming the second", "UNAUTHORIZED_ASYMMETRIC_JWT");
    assert_refused(&results, "expired", "UNAUTHORIZED_ASYMMETRIC_JWT");
}

#[test]
fn es256_tokens_of_a_key_outside_the_set_fail() {
    let keys = keys();
    let main = render(&project(true), &keys.set);
    let foreign = jwk::generate_ec();
    let (t0, t1) = (now(), now() + HOUR);
    let own_kid = internal_jwt::sign(&foreign, Role::Anon, t0, t1).unwrap();
    let claiming = internal_jwt::sign(&named(&foreign, &keys.generated.kid), Role::Anon, t0, t1).unwrap();
    // The same claims and the generated token's signature: only the signature binds them.
    let forged = {
        let parts: Vec<&str> = keys.generated.anon_jwt.split('.').collect();
        let service: Vec<&str> = keys.generated.service_jwt.split('.').collect();
        format!("{}.{}.{}", parts[0], service[1], parts[2])
    };
    let results = run(
        &main,
        &[
            get("own kid", "/hello", bearer(&own_kid)),
            get("claiming the set's kid", "/hello", bearer(&claiming)),
            get("forged claims", "/hello", bearer(&forged)),
            get("control", "/hello", bearer(&keys.generated.anon_jwt)),
        ],
    );
    assert_refused(&results, "own kid", "UNAUTHORIZED_ASYMMETRIC_JWT");
    assert_refused(&results, "claiming the set's kid", "UNAUTHORIZED_ASYMMETRIC_JWT");
    assert_refused(&results, "forged claims", "UNAUTHORIZED_ASYMMETRIC_JWT");
    assert_dispatched(&results, "control");
}

#[test]
fn an_sb_key_passes_with_the_internal_jwt_the_gateway_puts_in_sb_api_key() {
    let keys = keys();
    let main = render(&project(true), &keys.set);
    let foreign = internal_jwt::sign(&jwk::generate_ec(), Role::Anon, now(), now() + HOUR).unwrap();
    let with = |internal: &str| json!({"authorization": format!("Bearer {PUBLISHABLE_KEY}"), "apikey": PUBLISHABLE_KEY, "sb-api-key": internal});
    let results = run(
        &main,
        &[
            get("internal jwt", "/hello", with(&keys.generated.anon_jwt)),
            get("apikey only", "/hello", json!({"apikey": PUBLISHABLE_KEY, "sb-api-key": keys.generated.anon_jwt})),
            get("foreign jwt", "/hello", with(&foreign)),
            get("sb key alone", "/hello", bearer(PUBLISHABLE_KEY)),
        ],
    );
    assert_dispatched(&results, "internal jwt");
    assert_dispatched(&results, "apikey only");
    assert_refused(&results, "foreign jwt", "UNAUTHORIZED_ASYMMETRIC_JWT");
    assert_refused(&results, "sb key alone", "UNAUTHORIZED_NO_AUTH_HEADER");
}

#[test]
fn preflight_passes_unchecked_and_a_request_without_a_function_name_is_400() {
    let keys = keys();
    let main = render(&project(true), &keys.set);
    let results = run(
        &main,
        &[
            json!({"name": "preflight", "method": "OPTIONS", "path": "/hello", "headers": {}}),
            get("no name", "/", bearer(&keys.generated.anon_jwt)),
            get("no name, no token", "/", json!({})),
        ],
    );
    assert_dispatched(&results, "preflight");
    let r = &results["no name"];
    assert_eq!((r["status"].clone(), r["created"].clone()), (json!(400), Value::Null), "{r}");
    assert_eq!(r["body"]["msg"], "missing function name in request");
    // The token is checked first, as upstream does.
    assert_refused(&results, "no name, no token", "UNAUTHORIZED_NO_AUTH_HEADER");
}

#[test]
fn malformed_tokens_are_refused_with_401_never_an_exception() {
    let keys = keys();
    let main = render(&project(true), &keys.set);
    let b64 = |s: &str| {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s)
    };
    let (head, claims) = (b64(r#"{"alg":"HS256","typ":"JWT"}"#), b64(r#"{"role":"anon"}"#));
    // Signed with the project's secret, so only its `exp`, a string, can refuse it.
    let string_exp = {
        use base64::Engine;
        use hmac::{Hmac, Mac};
        let input = format!("{head}.{}", b64(r#"{"role":"anon","exp":"9999999999"}"#));
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(JWT_SECRET.as_bytes()).unwrap();
        mac.update(input.as_bytes());
        format!("{input}.{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes()))
    };
    let results = run(
        &main,
        &[
            get("signature not base64url", "/hello", bearer(&format!("{head}.{claims}.a*b"))),
            get("header null", "/hello", bearer(&format!("{}.{claims}.abc", b64("null")))),
            get("claims not json", "/hello", bearer(&format!("{head}.{}.abc", b64("{")))),
            get("alg none", "/hello", bearer(&format!("{}.{claims}.", b64(r#"{"alg":"none"}"#)))),
            get("exp not a number", "/hello", bearer(&string_exp)),
        ],
    );
    assert_refused(&results, "signature not base64url", "UNAUTHORIZED_INVALID_JWT_FORMAT");
    assert_refused(&results, "header null", "UNAUTHORIZED_INVALID_JWT_FORMAT");
    assert_refused(&results, "claims not json", "UNAUTHORIZED_INVALID_JWT_FORMAT");
    assert_refused(&results, "alg none", "UNAUTHORIZED_UNSUPPORTED_TOKEN_ALGORITHM");
    assert_refused(&results, "exp not a number", "UNAUTHORIZED_LEGACY_JWT");
}
