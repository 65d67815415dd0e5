//! Supabase's new keys at admission, behind the real apiserver and through `kubectl`:
//! which scheme a project gets (new: both; stored before the field existed: legacy, kept
//! across updates), and representative denials and warnings of referenced keys.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use crds::SupabaseProject;
use crds::project::KeyScheme;
use harness::TestEnv;
use harness::fixtures::{self, JWT_SECRET, PUBLISHABLE_KEY, SECRET_API_KEY};
use harness::webhook::{Admitting, create_secret as secret};
use kube::api::Api;
use serde_json::Value;

const KID: &str = "0b7e4d2a-6c1f-4e3a-9d8b-5a2c7f1e0d94";
const NEW_KID: &str = "c4a1f6e2-3b9d-4f70-8e15-2d6b9a0c7e31";

async fn env(test: &str) -> TestEnv {
    let env = TestEnv::new(test).await.expect("test cluster");
    harness::crd::install(&env.client).await.expect("install CRD");
    env
}

async fn register(env: TestEnv) -> Admitting {
    Admitting::on(env, &[]).await
}

/// The database Secret, the legacy JWT Secret, and new keys made with `kid`.
async fn secrets(env: &TestEnv, kid: &str) -> (String, String, String, String) {
    let api: Api<k8s_openapi::api::core::v1::Secret> = env.api();
    api.create(&Default::default(), &fixtures::database("demo-db")).await.unwrap();
    let (anon, service) = fixtures::jwt_keys(JWT_SECRET);
    secret(env, "demo-jwt", &[("secret", JWT_SECRET), ("anonKey", &anon), ("serviceKey", &service)]).await;
    fixtures::signing_keys(JWT_SECRET, kid)
}

/// The minimal project with the legacy JWT Secret.
fn project() -> String {
    format!("{}  jwt:\n    secretRef:\n      name: demo-jwt\n", fixtures::MINIMAL_PROJECT)
}

const NEW_KEYS: &str = "    keys: both
    signingKeysRef:
      name: demo-signing
      jwksKey: jwks
    apiKeysRef:
      name: demo-api
      anonJwtKey: anonJwt
      serviceJwtKey: serviceJwt
";

async fn stored_scheme(env: &TestEnv) -> Option<KeyScheme> {
    let stored: SupabaseProject = env.api().get("demo").await.expect("stored");
    stored.spec.jwt.and_then(|j| j.keys)
}

#[tokio::test]
async fn a_new_project_gets_both_and_one_stored_before_keeps_legacy() {
    // Stored before the webhook knew of keys: no webhook at all, nothing defaulted.
    let env = env("keys-scheme").await;
    secrets(&env, KID).await;
    env.kubectl().args(["apply", "-f", "-"]).stdin(project()).ok().await;
    assert_eq!(stored_scheme(&env).await, None);
    let s = register(env).await;

    // Updated afterwards: legacy is written out, and the owner is told.
    let updated = format!("{}    expirySeconds: 7200\n", project());
    let out = s.env.kubectl().args(["apply", "-f", "-"]).stdin(updated.clone()).run().await;
    assert!(out.success, "{}", out.stderr);
    assert!(out.stderr.contains("Warning: spec.jwt.keys: this project uses the legacy keys only"), "{}", out.stderr);
    assert_eq!(stored_scheme(&s.env).await, Some(KeyScheme::Legacy));
    // Applying the same manifest again changes nothing.
    let again = s.env.kubectl().args(["apply", "-f", "-"]).stdin(updated).ok().await;
    assert!(again.contains("unchanged"), "{again}");

    // A project created now gets both; a replace without the field keeps it.
    let other = project().replace("name: demo\n", "name: fresh\n");
    s.env.kubectl().args(["create", "-f", "-"]).stdin(other.clone()).ok().await;
    let fresh: SupabaseProject = s.env.api().get("fresh").await.unwrap();
    assert_eq!(fresh.spec.jwt.and_then(|j| j.keys), Some(KeyScheme::Both));
    let mut replaced: Value =
        serde_json::from_str(&s.env.kubectl().args(["get", "sbp", "fresh", "-o", "json"]).ok().await).unwrap();
    replaced["spec"]["jwt"].as_object_mut().unwrap().remove("keys");
    s.env.kubectl().args(["replace", "-f", "-"]).stdin(replaced.to_string()).ok().await;
    let fresh: SupabaseProject = s.env.api().get("fresh").await.unwrap();
    assert_eq!(fresh.spec.jwt.and_then(|j| j.keys), Some(KeyScheme::Both));
    s.done().await;
}

#[tokio::test]
async fn broken_keys_are_refused_naming_every_field_and_never_the_keys() {
    let s = register(env("keys-denied").await).await;
    let (private, public, _, service) = secrets(&s.env, KID).await;
    // d of another key pair.
    let (other, _, _, _) = fixtures::signing_keys(JWT_SECRET, KID);
    let mut keys: Value = serde_json::from_str(&private).unwrap();
    let other: Value = serde_json::from_str(&other).unwrap();
    let foreign_d = other[0]["d"].as_str().unwrap().to_string();
    keys[0]["d"] = other[0]["d"].clone();
    secret(&s.env, "demo-signing", &[("keys", &keys.to_string()), ("jwks", &public)]).await;
    secret(
        &s.env,
        "demo-api",
        &[
            ("publishableKey", "sb_publishable_too-short"),
            ("secretKey", SECRET_API_KEY),
            ("anonJwt", &service),
            ("serviceJwt", &service),
        ],
    )
    .await;
    let project = format!("{}{NEW_KEYS}", project());
    let out = s.env.kubectl().args(["apply", "-f", "-"]).stdin(project.clone()).run().await;
    assert!(!out.success, "accepted");
    for expected in [
        format!(
            "spec.jwt.signingKeysRef.keysKey: Invalid value: \"keys\": the signing keys in Secret \"demo-signing\" (key \"keys\"): key 0 (kid \"{KID}\"): d does not belong to x and y"
        ),
        "spec.jwt.apiKeysRef.publishableKeyKey: Invalid value: \"publishableKey\": the publishable key in Secret \"demo-api\" has 24 characters, must have 46".to_string(),
    ] {
        assert!(out.stderr.contains(&expected), "{expected:?} not in:\n{}", out.stderr);
    }
    for value in [foreign_d.as_str(), SECRET_API_KEY, &service, JWT_SECRET] {
        assert!(!out.stderr.contains(value) && !out.stdout.contains(value), "a key leaked: {}", out.stderr);
    }

    // With the set fixed, the internal JWTs are checked: the anon one has the wrong role.
    s.env.kubectl().args(["delete", "secret", "demo-signing", "demo-api"]).ok().await;
    secret(&s.env, "demo-signing", &[("keys", &private), ("jwks", &public)]).await;
    secret(
        &s.env,
        "demo-api",
        &[
            ("publishableKey", PUBLISHABLE_KEY),
            ("secretKey", SECRET_API_KEY),
            ("anonJwt", &service),
            ("serviceJwt", &service),
        ],
    )
    .await;
    let named = project.replace("    keys: both\n", &format!("    keys: both\n    signingKeyId: {NEW_KID}\n"));
    let out = s.env.kubectl().args(["apply", "-f", "-"]).stdin(named).run().await;
    assert!(!out.success);
    assert!(out.stderr.contains(&format!("spec.jwt.signingKeyId: Invalid value: \"{NEW_KID}\"")), "{}", out.stderr);
    assert!(
        out.stderr.contains("spec.jwt.apiKeysRef.anonJwtKey: Invalid value: \"anonJwt\": the internal anon JWT in Secret \"demo-api\" has role \"service_role\", must be \"anon\""),
        "{}",
        out.stderr
    );
    s.done().await;
}

#[tokio::test]
async fn a_bad_checksum_and_a_removed_signer_only_warn() {
    let s = register(env("keys-warned").await).await;
    let (private, public, anon, service) = secrets(&s.env, KID).await;
    let bad_sum = PUBLISHABLE_KEY.replace("tExdzd7N", "tExdzd7Q");
    secret(&s.env, "demo-signing", &[("keys", &private), ("jwks", &public)]).await;
    secret(
        &s.env,
        "demo-api",
        &[("publishableKey", &bad_sum), ("secretKey", SECRET_API_KEY), ("anonJwt", &anon), ("serviceJwt", &service)],
    )
    .await;
    let project = format!("{}{NEW_KEYS}", project())
        .replace("    keys: both\n", &format!("    keys: both\n    signingKeyId: {KID}\n"));
    let out = s.env.kubectl().args(["apply", "-f", "-"]).stdin(project.clone()).run().await;
    assert!(out.success, "{}", out.stderr);
    assert!(
        out.stderr.contains("Warning: spec.jwt.apiKeysRef.publishableKeyKey: the publishable key in Secret \"demo-api\" does not end in the checksum"),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains(&bad_sum), "{}", out.stderr);

    // A new set in another Secret key that lacks the old signer: allowed, with a warning.
    let (next_private, next_public, next_anon, next_service) = fixtures::signing_keys(JWT_SECRET, NEW_KID);
    s.env.kubectl().args(["delete", "secret", "demo-signing", "demo-api"]).ok().await;
    secret(&s.env, "demo-signing", &[("keys-v2", &next_private), ("jwks-v2", &next_public)]).await;
    secret(
        &s.env,
        "demo-api",
        &[
            ("publishableKey", PUBLISHABLE_KEY),
            ("secretKey", SECRET_API_KEY),
            ("anonJwt", &next_anon),
            ("serviceJwt", &next_service),
        ],
    )
    .await;
    let rotated = project
        .replace(&format!("signingKeyId: {KID}"), &format!("signingKeyId: {NEW_KID}"))
        .replace("      jwksKey: jwks\n", "      keysKey: keys-v2\n      jwksKey: jwks-v2\n");
    let out = s.env.kubectl().args(["apply", "-f", "-"]).stdin(rotated).run().await;
    assert!(out.success, "{}", out.stderr);
    assert!(
        out.stderr.contains(&format!("Warning: spec.jwt.signingKeyId: key \"{KID}\", which signed sessions until now, is no longer in the signing keys")),
        "{}",
        out.stderr
    );
    s.done().await;
}
