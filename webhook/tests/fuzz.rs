#![allow(clippy::expect_used, clippy::unwrap_used)]
//! Property-based fuzzing of review decoding, defaulting and every validation rule.
//!
//! Each property turns a generated request body into a response body the way the
//! server's `admit` does, without the network: `Parsed::read`, then `Admission::answer`
//! (or `review::rejection_body` for a body that is not a review), then `review::body`. Secrets come from a synced cache holding
//! a fully valid project's Secrets; a miss and the access checks go to an in-process fake
//! apiserver (404 for unknown Secrets, 500 for `flaky*` ones, SubjectAccessReviews
//! denied for user `mallory`).
//!
//! Properties, for `/mutate` and `/validate` alike: nothing panics; every answer is an
//! `admission.k8s.io/v1` AdmissionReview with a `response`; its `uid` is the request's
//! whenever the body (as JSON) has a non-empty string `request.uid`, else empty; a
//! denial has a message and a 4xx/5xx code; a patch is only on an allowed `/mutate`
//! answer, is a base64 JSON Patch that applies to the object, and defaulting the patched
//! object again patches nothing.
//!
//! Cases per property: `PROPTEST_CASES`, default 2000. `make fuzz` runs them in release
//! with many more; each property prints `fuzz: <property> <cases> cases`.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use base64::Engine;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use kube::api::ObjectMeta;
use kube::runtime::{reflector, watcher};
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::{Value, json};
use webhook::access::AccessChecker;
use webhook::admission::{Admission, Endpoint, Parsed};
use webhook::lookup::Secrets;
use webhook::metrics::Metrics;
use webhook::policy::{Policy, PolicyHandle};
use webhook::review;

// ---------------------------------------------------------------- the system under test

/// A valid project's spec (every feature on), as the rules' unit tests use.
const SPEC: &str = r#"
apiExternalUrl: https://api.example.com
siteUrl: https://app.example.com
database:
  secretRef: {name: db}
storage:
  backend: s3
  s3: {bucket: supabase-files, region: eu-west-1, endpoint: "https://minio.example.com", secretRef: {name: s3}}
jwt:
  secretRef: {name: jwt}
smtp: {host: smtp.example.com, sender: no-reply@example.com, secretRef: {name: smtp}}
dashboard: {secretRef: {name: dashboard}}
components:
  realtime: {secretRef: {name: realtime}}
  meta: {secretRef: {name: meta}}
"#;

const JWT_SECRET: &str = "a-jwt-secret-of-at-least-32-characters!!";

fn b64url(data: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(data)
}

/// An API key signed by hand the upstream way (HMAC-SHA256 over the raw secret).
fn api_key(role: &str) -> String {
    use hmac::{Hmac, Mac};
    let now = chrono_now();
    let claims =
        format!(r#"{{"role":"{role}","iss":"supabase","iat":{},"exp":{}}}"#, now - 100, now + 20 * 365 * 86_400);
    let input = format!("{}.{}", b64url(br#"{"alg":"HS256","typ":"JWT"}"#), b64url(claims.as_bytes()));
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(JWT_SECRET.as_bytes()).unwrap();
    mac.update(input.as_bytes());
    format!("{input}.{}", b64url(&mac.finalize().into_bytes()))
}

fn chrono_now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}

fn secret(name: &str, data: &[(&str, &[u8])]) -> Secret {
    Secret {
        metadata: ObjectMeta { name: Some(name.into()), namespace: Some("team-a".into()), ..Default::default() },
        data: Some(data.iter().map(|(k, v)| (k.to_string(), ByteString(v.to_vec()))).collect()),
        ..Default::default()
    }
}

fn valid_secrets() -> Vec<Secret> {
    let (anon, service) = (api_key("anon"), api_key("service_role"));
    vec![
        secret("db", &[("host", b"db.example.com"), ("port", b"5432"), ("database", b"postgres"), ("password", b"pw")]),
        secret("s3", &[("accessKeyId", b"AKIA"), ("secretAccessKey", b"shh")]),
        secret(
            "jwt",
            &[("secret", JWT_SECRET.as_bytes()), ("anonKey", anon.as_bytes()), ("serviceKey", service.as_bytes())],
        ),
        secret("smtp", &[("username", b"u"), ("password", b"p")]),
        secret("dashboard", &[("username", b"admin"), ("password", b"p")]),
        secret("realtime", &[("secretKeyBase", &[b'k'; 64]), ("dbEncKey", b"0123456789abcdef")]),
        secret("meta", &[("cryptoKey", &[b'c'; 32])]),
    ]
}

fn status(code: u16, reason: &str) -> Value {
    json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": reason, "code": code,
           "message": format!("fake apiserver: {reason}")})
}

/// The fake apiserver: unknown Secrets are missing, `flaky*` ones fail, and access
/// reviews allow everyone but `mallory`.
async fn fake_apiserver(request: http::Request<kube::client::Body>) -> Result<http::Response<Full<Bytes>>, Infallible> {
    let path = request.uri().path().to_string();
    let (code, body) = if path.ends_with("/subjectaccessreviews") {
        let bytes = request.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
        let mut review: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        let denied = review.pointer("/spec/user").and_then(Value::as_str) == Some("mallory");
        review["status"] = json!({"allowed": !denied, "reason": if denied { "fake: no" } else { "" }});
        (201, review)
    } else if path.rsplit('/').next().is_some_and(|n| n.starts_with("flaky")) {
        (500, status(500, "InternalError"))
    } else {
        (404, status(404, "NotFound"))
    };
    let mut response = http::Response::new(Full::new(Bytes::from(serde_json::to_vec(&body).unwrap())));
    *response.status_mut() = http::StatusCode::from_u16(code).unwrap();
    response.headers_mut().insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("application/json"));
    Ok(response)
}

struct Harness {
    runtime: tokio::runtime::Runtime,
    admission: Admission,
    _writer: reflector::store::Writer<Secret>,
}

impl Harness {
    /// `strict`: a policy that restricts namespaces and registries and requires limits,
    /// so its rules fire too.
    fn new(strict: bool) -> Harness {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let (admission, writer) = runtime.block_on(async {
            let client = kube::Client::new(tower::service_fn(fake_apiserver), "default");
            let (store, mut writer) = reflector::store::<Secret>();
            for s in valid_secrets() {
                writer.apply_watcher_event(&watcher::Event::Apply(s));
            }
            let policy = if strict {
                Policy::parse(
                    "allowedRegistries: [docker.io, ghcr.io]\nmaxReplicas: 3\nrequireResourceLimits: true\n\
                     allowDemoKeys: false\nallowedNamespaces: [team-*, prod]\n",
                )
                .unwrap()
            } else {
                Policy::default()
            };
            let admission = Admission {
                secrets: Secrets::from_store(client.clone(), store),
                access: Some(AccessChecker::new(client, Duration::from_secs(60), Duration::from_secs(1))),
                policy: PolicyHandle::new(policy),
                metrics: Arc::new(Metrics::new()),
            };
            (admission, writer)
        });
        Harness { runtime, admission, _writer: writer }
    }

    /// What the server answers to `body` on `endpoint` (HTTP aside).
    fn answer(&self, endpoint: Endpoint, body: &[u8]) -> Vec<u8> {
        match Parsed::read(endpoint, body) {
            Err(rejection) => review::rejection_body(&rejection),
            Ok(parsed) => review::body(self.runtime.block_on(self.admission.answer(parsed))),
        }
    }

    /// Checks every property of the answers to `body` on both endpoints.
    fn check(&self, body: &[u8]) -> Result<(), TestCaseError> {
        self.check_deep(body, None, false)
    }

    /// As `check`, for a body that may be nested deeper than serde_json reads into a
    /// `Value` (128 levels), built from a review whose uid was `built_uid`. A spec too deep
    /// to decode is read again as text, so the webhook still answers with that uid, and
    /// must when `in_spec`; where the nesting is elsewhere (say in the name) it may not
    /// be able to read the uid either, and answers without one.
    fn check_deep(&self, body: &[u8], built_uid: Option<&str>, in_spec: bool) -> Result<(), TestCaseError> {
        let sent: Option<Value> = serde_json::from_slice(body).ok();
        let uid = sent
            .as_ref()
            .and_then(|v| v.pointer("/request/uid"))
            .and_then(Value::as_str)
            .filter(|u| !u.is_empty())
            .unwrap_or("");
        let also = if sent.is_none() { built_uid.filter(|u| !u.is_empty()) } else { None };
        for endpoint in [Endpoint::Mutate, Endpoint::Validate] {
            let answer = self.answer(endpoint, body);
            let answer: Value = serde_json::from_slice(&answer)
                .map_err(|e| TestCaseError::fail(format!("{endpoint:?}: answer is not JSON: {e}")))?;
            let ctx = || format!("{endpoint:?} answered {}", truncated(&answer));
            prop_assert_eq!(answer["apiVersion"].as_str(), Some("admission.k8s.io/v1"), "{}", ctx());
            prop_assert_eq!(answer["kind"].as_str(), Some("AdmissionReview"), "{}", ctx());
            let response = &answer["response"];
            prop_assert!(response.is_object(), "{}", ctx());
            let answered = response["uid"].as_str();
            prop_assert!(
                answered == Some(uid) || (also.is_some() && answered == also),
                "uid not echoed (expected {uid:?}): {}",
                ctx()
            );
            if in_spec && also.is_some() {
                prop_assert_eq!(answered, also, "nesting inside the spec: the uid must be echoed: {}", ctx());
            }
            let allowed = response["allowed"].as_bool();
            prop_assert!(allowed.is_some(), "{}", ctx());
            if allowed == Some(false) {
                let message = response.pointer("/status/message").and_then(Value::as_str).unwrap_or("");
                prop_assert!(!message.trim().is_empty(), "a denial without a message: {}", ctx());
                let code = response.pointer("/status/code").and_then(Value::as_u64);
                prop_assert!(code.is_some_and(|c| (400..600).contains(&c)), "denial code: {}", ctx());
            }
            if let Some(patch) = response.get("patch").filter(|p| !p.is_null()) {
                prop_assert!(matches!(endpoint, Endpoint::Mutate), "a patch from /validate: {}", ctx());
                prop_assert_eq!(allowed, Some(true), "{}", ctx());
                prop_assert_eq!(response["patchType"].as_str(), Some("JSONPatch"), "{}", ctx());
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(patch.as_str().unwrap_or_default())
                    .map_err(|e| TestCaseError::fail(format!("patch is not base64: {e}; {}", ctx())))?;
                let patch: json_patch::Patch = serde_json::from_slice(&bytes)
                    .map_err(|e| TestCaseError::fail(format!("patch is not a JSON Patch: {e}; {}", ctx())))?;
                // Too deep for a `Value` here: the patch is well-formed, and that is all
                // that can be checked without reading the object.
                let Some(sent) = sent.as_ref() else { continue };
                let mut object = sent["request"]["object"].clone();
                json_patch::patch(&mut object, &patch)
                    .map_err(|e| TestCaseError::fail(format!("patch does not apply: {e}; {}", ctx())))?;
                // Defaulting is idempotent: the patched object needs no more defaults.
                let mut again = sent.clone();
                again["request"]["object"] = object;
                let second: Value =
                    serde_json::from_slice(&self.answer(Endpoint::Mutate, &serde_json::to_vec(&again).unwrap()))
                        .unwrap();
                prop_assert!(
                    second["response"].get("patch").is_none_or(Value::is_null),
                    "defaulting the defaulted object patched again: {}",
                    truncated(&second)
                );
            }
        }
        Ok(())
    }
}

fn truncated(v: &Value) -> String {
    let s = v.to_string();
    if s.len() > 600 { format!("{}…", s.chars().take(600).collect::<String>()) } else { s }
}

// ---------------------------------------------------------------- generators

fn schema_keys() -> &'static [String] {
    static KEYS: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    KEYS.get_or_init(|| {
        fn walk(v: &serde_yaml::Value, out: &mut std::collections::BTreeSet<String>) {
            match v {
                serde_yaml::Value::Mapping(m) => {
                    for (k, v) in m {
                        if k.as_str() == Some("properties")
                            && let Some(props) = v.as_mapping()
                        {
                            out.extend(props.keys().filter_map(|k| k.as_str().map(str::to_string)));
                        }
                        walk(v, out);
                    }
                }
                serde_yaml::Value::Sequence(s) => s.iter().for_each(|v| walk(v, out)),
                _ => {}
            }
        }
        let crd: serde_yaml::Value = serde_yaml::from_str(include_str!("../../crds/supabaseproject.yaml")).unwrap();
        let mut keys = std::collections::BTreeSet::new();
        walk(&crd, &mut keys);
        keys.extend(["metadata", "name", "generateName", "namespace", "deletionTimestamp", "uid"].map(String::from));
        keys.into_iter().collect()
    })
}

fn arb_key() -> BoxedStrategy<String> {
    prop_oneof![
        3 => proptest::sample::select(schema_keys()),
        1 => "\\PC{0,12}",
        1 => Just(String::new()),
    ]
    .boxed()
}

const KNOWN: &[&str] = &[
    "db",
    "jwt",
    "s3",
    "smtp",
    "dashboard",
    "realtime",
    "meta",
    "flaky-one",
    "missing",
    "https://api.example.com",
    "http://localhost:8000",
    "https://user:pw@example.com/path?q#f",
    "not a url",
    "file:///etc/passwd",
    "postgres:15",
    "kong/kong:3.9.1",
    "ghcr.io/supabase/studio:latest",
    "registry.evil.io:5000/x@sha256:0000000000000000000000000000000000000000000000000000000000000000",
    "-1",
    "0",
    "1e400",
    "s3",
    "file",
    "disable",
    "require",
    "verify-full",
    "500m",
    "64Mi",
    "-1Gi",
    "team-a",
    "prod",
    "kube-system",
    "2024-01-01T00:00:00Z",
    "CREATE",
    "UPDATE",
    "DELETE",
    "CONNECT",
    "null",
    "{}",
    "\u{0}",
    "\u{202e}evil",
    "Ω≈ç√∫˜µ≤≥÷",
    "🦀🦀🦀",
];

fn arb_string() -> BoxedStrategy<String> {
    prop_oneof![
        6 => proptest::sample::select(KNOWN).prop_map(str::to_string),
        4 => any::<String>(),
        3 => "[a-z0-9.-]{0,70}",
        2 => "[\\x00-\\x7f]{0,40}",
        1 => Just(String::new()),
        1 => (60usize..300).prop_map(|n| "a".repeat(n)),
        1 => (1usize..60_000).prop_map(|n| "é".repeat(n)),
    ]
    .boxed()
}

fn arb_number() -> BoxedStrategy<Value> {
    prop_oneof![
        3 => (-5i64..70_000).prop_map(Value::from),
        1 => any::<i64>().prop_map(Value::from),
        1 => any::<u64>().prop_map(Value::from),
        1 => any::<f64>().prop_map(Value::from),
        1 => proptest::sample::select(vec![i64::MIN, i64::MAX, i32::MIN as i64, i32::MAX as i64 + 1, -1, 0])
            .prop_map(Value::from),
        1 => Just(json!(u64::MAX)),
        1 => Just(json!(1.5)),
    ]
    .boxed()
}

fn arb_json() -> BoxedStrategy<Value> {
    let leaf = prop_oneof![
        1 => Just(Value::Null),
        1 => any::<bool>().prop_map(Value::Bool),
        3 => arb_number(),
        5 => arb_string().prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::btree_map(arb_key(), inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
    .boxed()
}

fn base_object() -> Value {
    let spec: Value = serde_yaml::from_str(SPEC).unwrap();
    json!({
        "apiVersion": "supabase-operator.io/v1alpha1",
        "kind": "SupabaseProject",
        "metadata": {"name": "demo", "namespace": "team-a", "uid": "0b9c2a4e-1", "generation": 1,
                     "labels": {"app": "demo"}},
        "spec": spec,
    })
}

/// A well-formed review; `operation` picks CREATE, UPDATE, DELETE or CONNECT.
fn base_review(operation: u8, user: &str, uid: &str) -> Value {
    let operation = ["CREATE", "UPDATE", "DELETE", "CONNECT"][operation as usize % 4];
    let object = base_object();
    let (object, old) = match operation {
        "CREATE" | "CONNECT" => (object, Value::Null),
        "UPDATE" => {
            let mut old = object.clone();
            old["spec"]["siteUrl"] = json!("https://old.example.com");
            (object, old)
        }
        _ => (Value::Null, object),
    };
    json!({
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": uid,
            "kind": {"group": "supabase-operator.io", "version": "v1alpha1", "kind": "SupabaseProject"},
            "resource": {"group": "supabase-operator.io", "version": "v1alpha1", "resource": "supabaseprojects"},
            "requestKind": {"group": "supabase-operator.io", "version": "v1alpha1", "kind": "SupabaseProject"},
            "name": "demo",
            "namespace": "team-a",
            "operation": operation,
            "userInfo": {"username": user, "groups": ["system:authenticated"]},
            "object": object,
            "oldObject": old,
            "dryRun": false,
        }
    })
}

fn arb_base() -> impl Strategy<Value = Value> {
    (
        any::<u8>(),
        prop_oneof![Just("admin".to_string()), Just("mallory".to_string()), arb_string()],
        prop_oneof![4 => "[a-f0-9-]{1,36}", 1 => arb_string()],
    )
        .prop_map(|(op, user, uid)| base_review(op, &user, &uid))
}

/// JSON pointers of every node under `root` (itself included).
fn pointers(value: &Value, at: String, out: &mut Vec<String>) {
    match value {
        Value::Object(m) => {
            for (k, v) in m {
                pointers(v, format!("{at}/{}", k.replace('~', "~0").replace('/', "~1")), out);
            }
        }
        Value::Array(a) => {
            for (i, v) in a.iter().enumerate() {
                pointers(v, format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
    out.push(at);
}

#[derive(Clone, Debug)]
enum Edit {
    Set(Index, Value),
    Remove(Index),
    Add(Index, String, Value),
}

fn arb_edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        3 => (any::<Index>(), arb_json()).prop_map(|(i, v)| Edit::Set(i, v)),
        2 => any::<Index>().prop_map(Edit::Remove),
        2 => (any::<Index>(), arb_key(), arb_json()).prop_map(|(i, k, v)| Edit::Add(i, k, v)),
    ]
}

/// Applies `edit` to a node under `root` (a pointer into `review`).
fn apply(review: &mut Value, root: &str, edit: &Edit) {
    let Some(target) = review.pointer(root) else { return };
    let mut all = Vec::new();
    pointers(target, root.to_string(), &mut all);
    let index = match edit {
        Edit::Set(i, _) | Edit::Remove(i) | Edit::Add(i, _, _) => i,
    };
    let at = &all[index.index(all.len())];
    match edit {
        Edit::Set(_, v) => {
            if let Some(slot) = review.pointer_mut(at) {
                *slot = v.clone();
            }
        }
        Edit::Remove(_) => {
            let (parent, last) = at.rsplit_once('/').unwrap_or(("", at));
            let key = last.replace("~1", "/").replace("~0", "~");
            match review.pointer_mut(parent) {
                Some(Value::Object(m)) => {
                    m.remove(&key);
                }
                Some(Value::Array(a)) => {
                    if let Ok(i) = key.parse::<usize>()
                        && i < a.len()
                    {
                        a.remove(i);
                    }
                }
                _ => {}
            }
        }
        Edit::Add(_, k, v) => match review.pointer_mut(at) {
            Some(Value::Object(m)) => {
                m.insert(k.clone(), v.clone());
            }
            Some(Value::Array(a)) => a.push(v.clone()),
            Some(slot) => *slot = json!({ k.clone(): v.clone() }),
            None => {}
        },
    }
}

#[derive(Clone, Debug)]
enum ByteEdit {
    Flip(Index, u8),
    Insert(Index, u8),
    Delete(Index),
    Truncate(Index),
}

fn arb_byte_edit() -> impl Strategy<Value = ByteEdit> {
    let byte = prop_oneof![proptest::sample::select(b"{}[]\":,\\ 0-1eE.tfn\x00\xff\xc3".to_vec()), any::<u8>(),];
    prop_oneof![
        3 => (any::<Index>(), byte.clone()).prop_map(|(i, b)| ByteEdit::Flip(i, b)),
        2 => (any::<Index>(), byte).prop_map(|(i, b)| ByteEdit::Insert(i, b)),
        2 => any::<Index>().prop_map(ByteEdit::Delete),
        1 => any::<Index>().prop_map(ByteEdit::Truncate),
    ]
}

fn apply_bytes(body: &mut Vec<u8>, edit: &ByteEdit) {
    if body.is_empty() {
        return;
    }
    match edit {
        ByteEdit::Flip(i, b) => {
            let i = i.index(body.len());
            body[i] = *b;
        }
        ByteEdit::Insert(i, b) => body.insert(i.index(body.len() + 1), *b),
        ByteEdit::Delete(i) => {
            body.remove(i.index(body.len()));
        }
        ByteEdit::Truncate(i) => body.truncate(i.index(body.len())),
    }
}

// ---------------------------------------------------------------- running the properties

fn config() -> Config {
    let mut config = Config { failure_persistence: None, ..Config::default() };
    if std::env::var_os("PROPTEST_CASES").is_none() {
        config.cases = 2000;
    }
    config
}

/// Runs one property and prints how many cases it ran.
fn run<S: Strategy>(property: &str, strategy: S, test: impl Fn(&Harness, S::Value) -> Result<(), TestCaseError>)
where
    S::Value: std::fmt::Debug,
{
    let cases = AtomicU64::new(0);
    let started = Instant::now();
    let relaxed = Harness::new(false);
    let strict = Harness::new(true);
    let mut runner = TestRunner::new(config());
    let result = runner.run(&strategy, |input| {
        let n = cases.fetch_add(1, Ordering::Relaxed);
        test(if n.is_multiple_of(2) { &relaxed } else { &strict }, input)
    });
    println!("fuzz: {property} {} cases in {:.1} s", cases.load(Ordering::Relaxed), started.elapsed().as_secs_f64());
    if let Err(e) = result {
        panic!("{property}: {e}");
    }
}

#[test]
fn arbitrary_bytes_are_answered_with_a_review() {
    let bytes = prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..256),
        "\\PC{0,64}".prop_map(String::into_bytes),
        "[ \t\r\n{}\\[\\]\",:0-9a-z]{0,64}".prop_map(String::into_bytes),
    ];
    run("arbitrary_bytes", bytes, |h, body| h.check(&body));
}

#[test]
fn arbitrary_json_is_answered_with_a_review() {
    let shaped = (arb_json(), arb_json(), arb_json()).prop_map(|(a, b, c)| {
        json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {"uid": a, "kind": b, "object": c}})
    });
    let values = prop_oneof![arb_json(), shaped];
    run("arbitrary_json", values, |h, value| h.check(&serde_json::to_vec(&value).unwrap()));
}

#[test]
fn mutated_reviews_are_answered_with_a_review() {
    let cases = (arb_base(), proptest::collection::vec(arb_edit(), 1..5));
    run("mutated_reviews", cases, |h, (mut review, edits)| {
        for edit in &edits {
            apply(&mut review, "", edit);
        }
        h.check(&serde_json::to_vec(&review).unwrap())
    });
}

#[test]
fn byte_mutated_reviews_are_answered_with_a_review() {
    let cases = (arb_base(), proptest::collection::vec(arb_byte_edit(), 1..6));
    run("byte_mutated_reviews", cases, |h, (review, edits)| {
        let mut body = serde_json::to_vec(&review).unwrap();
        for edit in &edits {
            apply_bytes(&mut body, edit);
        }
        h.check(&body)
    });
}

#[test]
fn projects_with_arbitrary_fields_are_answered_with_a_review() {
    // Edits land in the object (and on UPDATE the stored object), so most cases reach
    // the rules; a few also touch the request around them.
    let root = prop_oneof![
        6 => Just("/request/object"),
        2 => Just("/request/object/spec"),
        1 => Just("/request/oldObject"),
        1 => Just("/request/object/metadata"),
    ];
    let cases = (arb_base(), proptest::collection::vec((root, arb_edit()), 1..6));
    run("projects_with_arbitrary_fields", cases, |h, (mut review, edits)| {
        for (root, edit) in &edits {
            apply(&mut review, root, edit);
        }
        h.check(&serde_json::to_vec(&review).unwrap())
    });
}

#[test]
fn deeply_nested_values_are_answered_with_a_review() {
    // Built as text: a `Value` this deep would be dropped recursively by the test itself.
    const HOLE: &str = "\"@@deep@@\"";
    let cases = (arb_base(), any::<Index>(), 0usize..400, any::<bool>());
    run("deeply_nested_values", cases, |h, (mut review, at, depth, arrays)| {
        let mut all = Vec::new();
        pointers(&review["request"]["object"], "/request/object".into(), &mut all);
        let at = &all[at.index(all.len())];
        *review.pointer_mut(at).unwrap() = json!("@@deep@@");
        let (open, close) = if arrays { ("[", "]") } else { ("{\"spec\":", "}") };
        let nested = format!("{}1{}", open.repeat(depth), close.repeat(depth));
        let uid = review["request"]["uid"].as_str().map(str::to_string);
        let body = serde_json::to_string(&review).unwrap().replacen(HOLE, &nested, 1);
        h.check_deep(body.as_bytes(), uid.as_deref(), at.starts_with("/request/object/spec"))
    });
}

/// The rules see every kind of input above; this pins that the valid base case is
/// allowed as is (so the generators start from a project the rules accept).
#[test]
fn the_base_project_is_allowed_and_defaulted() {
    let h = Harness::new(false);
    let body = serde_json::to_vec(&base_review(0, "admin", "u-1")).unwrap();
    let validate: Value = serde_json::from_slice(&h.answer(Endpoint::Validate, &body)).unwrap();
    assert_eq!(validate["response"]["allowed"], true, "{validate}");
    let mutate: Value = serde_json::from_slice(&h.answer(Endpoint::Mutate, &body)).unwrap();
    assert!(mutate["response"]["patch"].is_string(), "{mutate}");
    let mut denied = base_review(0, "mallory", "u-2");
    denied["request"]["object"]["spec"]["database"]["secretRef"]["name"] = json!("flaky-db");
    let answer: Value =
        serde_json::from_slice(&h.answer(Endpoint::Validate, &serde_json::to_vec(&denied).unwrap())).unwrap();
    assert_eq!(answer["response"]["allowed"], false, "{answer}");
    assert_eq!(answer["response"]["uid"], "u-2");
}
