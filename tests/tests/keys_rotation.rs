//! Rotation of Supabase's new keys end to end, as the README describes it, through
//! `kubectl` against the test apiserver with the webhook and the reconciler running: add
//! a second EC key to the referenced signing Secret, make it the signer by
//! `signingKeyId`, retire the old one; then rotate the API keys alone. At each step the
//! test reads what the reconciler rendered (the Secret values Auth, PostgREST and Kong
//! read, the pod-template hashes) and has Node's crypto check the rendered set and
//! internal JWTs independently (`tests/scripts/verify-keys.js`). Last, the hurried way
//! (a new signer whose set lacks the old one) draws the webhook's warning.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::io::Write;
use std::process::{Command, Stdio};

use crds::jwt::Role;
use crds::keys::api_keys::{self, ApiKeyKind};
use crds::keys::set::{Expect, check_private};
use crds::keys::{Jwk, PrivateSet, internal_jwt, jwk};
use crds::{Component, SupabaseProject};
use harness::fixtures::{self, JWT_SECRET, PUBLISHABLE_KEY, SECRET_API_KEY};
use harness::reconciler::{self as rec, eventually};
use harness::{TestEnv, patience};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Secret;
use reconciler::workloads::CONFIG_HASH_ANNOTATION;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

const KID_A: &str = "3f6c2b1a-9d4e-4c7f-8a21-6b5e0d9c1f72";
const KID_B: &str = "8a1d5e3c-2f7b-4e90-b6c4-1d3f5a7e9b08";
const KID_C: &str = "c2e4a6b8-1d3f-4a5c-9e7b-0f2d4c6a8e13";

fn ec(kid: &str) -> Jwk {
    Jwk { kid: Some(kid.into()), ..jwk::generate_ec() }
}

/// The user's private set in upstream's shape: the EC keys and the legacy secret.
fn set(keys: &[&Jwk]) -> String {
    let mut all: Vec<Jwk> = keys.iter().map(|k| (*k).clone()).collect();
    all.push(jwk::oct(JWT_SECRET));
    PrivateSet::from_keys(all).to_json()
}

fn secret_manifest(name: &str, data: &[(&str, &str)]) -> String {
    let data: BTreeMap<&str, &str> = data.iter().copied().collect();
    json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name}, "stringData": data}).to_string()
}

async fn apply(env: &TestEnv, manifest: &str) -> harness::kubectl::Output {
    let out = env.kubectl().args(["apply", "-f", "-"]).stdin(manifest.to_string()).run().await;
    assert!(out.success, "{}", out.stderr);
    out
}

const PROJECT: &str = "apiVersion: supabase-operator.io/v1alpha1
kind: SupabaseProject
metadata:
  name: demo
spec:
  apiExternalUrl: https://api.example.com
  database:
    secretRef:
      name: db
  jwt:
    secretRef:
      name: demo-legacy
    keys: both
    signingKeyId: KID
    signingKeysRef:
      name: demo-signing
    apiKeysRef:
      name: demo-api
";

/// What the reconciler derived into the project's generated Secret.
#[derive(Clone, Debug, PartialEq)]
struct Derived {
    auth_keys: String,
    jwks: String,
    anon_jwt: String,
    service_jwt: String,
}

async fn derived(env: &TestEnv) -> Option<Derived> {
    let s = env.api::<Secret>().get_opt("demo-internal").await.unwrap()?;
    let data = s.data.unwrap_or_default();
    let text = |k: &str| data.get(k).map(|v| String::from_utf8_lossy(&v.0).into_owned());
    Some(Derived {
        auth_keys: text("authKeys")?,
        jwks: text("jwks")?,
        anon_jwt: text("anonJwt")?,
        service_jwt: text("serviceJwt")?,
    })
}

fn signer(d: &Derived) -> Option<String> {
    check_private(&d.auth_keys, &Expect::default()).0.signer_kid(None)
}

fn public_kids(d: &Derived) -> Vec<String> {
    let v: Value = serde_json::from_str(&d.jwks).unwrap();
    v["keys"].as_array().unwrap().iter().filter_map(|k| k["kid"].as_str().map(String::from)).collect()
}

/// Waits until the derived values satisfy `ok`.
async fn wait_derived(env: &TestEnv, what: &str, ok: impl Fn(&Derived) -> bool) -> Derived {
    eventually(what, patience::settle(), || async {
        match derived(env).await {
            Some(d) if ok(&d) => Ok(d),
            other => Err(format!(
                "signer {:?}, public kids {:?}",
                other.as_ref().and_then(signer),
                other.as_ref().map(public_kids)
            )),
        }
    })
    .await
}

/// Node's independent check of the rendered set and internal JWTs, signed by `kid`.
fn node_verifies(d: &Derived, kid: &str, publishable: &str, secret: &str) {
    let input = json!({
        "privateSet": d.auth_keys, "publicSet": d.jwks, "kid": kid, "jwtSecret": JWT_SECRET,
        "anonJwt": d.anon_jwt, "serviceJwt": d.service_jwt, "publishableKey": publishable, "secretKey": secret,
    });
    let mut child = Command::new("node")
        .arg(harness::repo_path("tests/scripts/verify-keys.js"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("node (v20 or later) runs the independent key check");
    child.stdin.take().unwrap().write_all(input.to_string().as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    let printed: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|_| panic!("node printed no JSON: {}", String::from_utf8_lossy(&out.stderr)));
    assert!(out.status.success(), "Node found: {}", printed["failures"]);
}

fn env_ref(d: &Deployment, name: &str) -> (String, String) {
    let pod = d.spec.as_ref().and_then(|s| s.template.spec.as_ref()).unwrap();
    let var =
        pod.containers[0].env.as_ref().unwrap().iter().find(|v| v.name == name).unwrap_or_else(|| panic!("{name}"));
    let r = var
        .value_from
        .as_ref()
        .and_then(|f| f.secret_key_ref.as_ref())
        .unwrap_or_else(|| panic!("{name}: a secretKeyRef"));
    (r.name.clone(), r.key.clone())
}

fn hash(d: &Deployment) -> String {
    d.spec.as_ref().and_then(|s| s.template.metadata.as_ref()).and_then(|m| m.annotations.as_ref()).unwrap()
        [CONFIG_HASH_ANNOTATION]
        .clone()
}

async fn hash_of(env: &TestEnv, c: Component) -> String {
    hash(&env.api::<Deployment>().get(&crds::names::component("demo", c)).await.unwrap())
}

/// Waits until `c`'s pod template carries a hash other than `before` (its pods roll).
async fn rolls(env: &TestEnv, c: Component, before: &str) -> String {
    eventually(&format!("{c} rolls"), patience::settle(), || async {
        let now = hash_of(env, c).await;
        if now != before { Ok(now) } else { Err("same hash".to_string()) }
    })
    .await
}

/// `kubectl patch` of the signer, as the README says.
async fn signer_patch(env: &TestEnv, kid: &str) -> harness::kubectl::Output {
    let patch = json!({"spec": {"jwt": {"signingKeyId": kid}}}).to_string();
    env.kubectl().args(["patch", "sbp", "demo", "--type=merge", "-p", &patch]).run().await
}

async fn status_keys(env: &TestEnv) -> crds::status::KeysStatus {
    let p: SupabaseProject = env.api().get("demo").await.unwrap();
    p.status.and_then(|s| s.keys).unwrap_or_default()
}

async fn wait_status(env: &TestEnv, signer: &str, kids: &[&str]) {
    eventually(&format!("status: signer {signer}, kids {kids:?}"), patience::settle(), || async {
        let k = status_keys(env).await;
        let want = (Some(signer.to_string()), kids.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        if (k.signing_key_id.clone(), k.key_ids.clone()) == want { Ok(()) } else { Err(format!("{k:?}")) }
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signing_keys_rotate_without_cutting_sessions_and_api_keys_rotate_alone() {
    let admitting = harness::webhook::Admitting::start("keys-rotation", &[]).await;
    let env = &admitting.env;
    let reconciler = rec::start(env, "only");
    let stop = CancellationToken::new();
    let kubelet = tokio::spawn(harness::kubelet::simulate(env.client.clone(), env.namespace.clone(), stop.clone()));

    let (a, b, c) = (ec(KID_A), ec(KID_B), ec(KID_C));
    let (anon, service) = fixtures::jwt_keys(JWT_SECRET);
    apply(env, &rec::db_secret("db", "pw")).await;
    apply(
        env,
        &secret_manifest("demo-legacy", &[("secret", JWT_SECRET), ("anonKey", &anon), ("serviceKey", &service)]),
    )
    .await;
    apply(env, &secret_manifest("demo-signing", &[("keys", &set(&[&a]))])).await;
    apply(env, &secret_manifest("demo-api", &[("publishableKey", PUBLISHABLE_KEY), ("secretKey", SECRET_API_KEY)]))
        .await;
    apply(env, &PROJECT.replace("KID", KID_A)).await;
    rec::wait_phase(env, "demo", crds::Phase::Running).await;

    // What is rendered: Auth signs with the re-marked set, PostgREST verifies with the JWKS,
    // Kong swaps the user's API keys for the operator-signed internal JWTs.
    let deployments = env.api::<Deployment>();
    let auth = deployments.get("demo-auth").await.unwrap();
    assert_eq!(env_ref(&auth, "GOTRUE_JWT_KEYS"), ("demo-internal".into(), "authKeys".into()));
    let rest = deployments.get("demo-rest").await.unwrap();
    assert_eq!(env_ref(&rest, "PGRST_JWT_SECRET"), ("demo-internal".into(), "jwks".into()));
    let kong = deployments.get("demo-kong").await.unwrap();
    assert_eq!(env_ref(&kong, "SUPABASE_PUBLISHABLE_KEY"), ("demo-api".into(), "publishableKey".into()));
    assert_eq!(env_ref(&kong, "SERVICE_ROLE_KEY_ASYMMETRIC"), ("demo-internal".into(), "serviceJwt".into()));
    let first = wait_derived(env, "keys derived", |d| signer(d).as_deref() == Some(KID_A)).await;
    assert_eq!(public_kids(&first), [KID_A]);
    node_verifies(&first, KID_A, PUBLISHABLE_KEY, SECRET_API_KEY);
    wait_status(env, KID_A, &[KID_A]).await;
    let s = status_keys(env).await;
    assert_eq!(s.scheme, Some(crds::project::KeyScheme::Both));

    // 1. Add B to the set: it verifies everywhere, A still signs, the gateway's tokens stay.
    let auth_hash = hash_of(env, Component::Auth).await;
    apply(env, &secret_manifest("demo-signing", &[("keys", &set(&[&a, &b]))])).await;
    let added = wait_derived(env, "B published", |d| public_kids(d) == [KID_A, KID_B]).await;
    assert_eq!(signer(&added).as_deref(), Some(KID_A));
    assert_eq!((&added.anon_jwt, &added.service_jwt), (&first.anon_jwt, &first.service_jwt));
    rolls(env, Component::Auth, &auth_hash).await;
    wait_status(env, KID_A, &[KID_A, KID_B]).await;

    // 2. Make B the signer: Auth and the internal JWTs follow; what A signed still verifies.
    let out = signer_patch(env, KID_B).await;
    assert!(out.success, "{}", out.stderr);
    assert!(!out.stderr.contains("no longer in the signing keys"), "{}", out.stderr);
    let switched = wait_derived(env, "B signs", |d| signer(d).as_deref() == Some(KID_B)).await;
    node_verifies(&switched, KID_B, PUBLISHABLE_KEY, SECRET_API_KEY);
    let (set_now, _) = check_private(&switched.auth_keys, &Expect::default());
    let now = chrono::Utc::now().timestamp();
    assert_eq!(internal_jwt::verify(&set_now, &first.anon_jwt, Role::Anon, now).map(|v| v.kid), Ok(KID_A.to_string()));
    wait_status(env, KID_B, &[KID_A, KID_B]).await;

    // 3. Retire A once its sessions have expired: the set and the JWKS drop it.
    apply(env, &secret_manifest("demo-signing", &[("keys", &set(&[&b]))])).await;
    let retired = wait_derived(env, "A retired", |d| public_kids(d) == [KID_B]).await;
    assert_eq!((&retired.anon_jwt, &retired.service_jwt), (&switched.anon_jwt, &switched.service_jwt));
    node_verifies(&retired, KID_B, PUBLISHABLE_KEY, SECRET_API_KEY);
    wait_status(env, KID_B, &[KID_B]).await;

    // The API keys alone: Kong rolls, Auth does not, no signing material changes.
    let (kong_hash, auth_hash) = (hash_of(env, Component::Kong).await, hash_of(env, Component::Auth).await);
    let (publishable, secret) = (api_keys::generate(ApiKeyKind::Publishable), api_keys::generate(ApiKeyKind::Secret));
    apply(env, &secret_manifest("demo-api", &[("publishableKey", &publishable), ("secretKey", &secret)])).await;
    rolls(env, Component::Kong, &kong_hash).await;
    rec::wait_phase(env, "demo", crds::Phase::Running).await;
    assert_eq!(hash_of(env, Component::Auth).await, auth_hash, "Auth does not read the API keys");
    assert_eq!(derived(env).await.as_ref(), Some(&retired), "the signing material is untouched");
    node_verifies(&retired, KID_B, &publishable, &secret);

    // The hurried way: a new signer whose set already lacks B draws the webhook's warning.
    apply(env, &secret_manifest("demo-signing", &[("keys", &set(&[&c]))])).await;
    let out = signer_patch(env, KID_C).await;
    assert!(out.success, "{}", out.stderr);
    assert!(
        out.stderr
            .contains(&format!("key \"{KID_B}\", which signed sessions until now, is no longer in the signing keys")),
        "{}",
        out.stderr
    );
    wait_derived(env, "C signs", |d| signer(d).as_deref() == Some(KID_C)).await;

    stop.cancel();
    let _ = kubelet.await;
    reconciler.stop().await;
    admitting.done().await;
}
