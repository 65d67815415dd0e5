//! Secrets that make the samples valid, with recognisable values: the drill that
//! greps logs, events, status and messages for leaked Secret values looks for
//! exactly these.

use std::collections::BTreeMap;

use crds::jwt::{ISSUER, Role, sign};
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use kube::api::ObjectMeta;

/// The JWT secret of every fixture (at least 32 characters, as upstream requires).
/// The smallest project a user applies: `demo`, its database in the Secret `demo-db`. Tests
/// append fields under `spec` (two-space indent) to it.
pub const MINIMAL_PROJECT: &str = "apiVersion: supabase-operator.io/v1alpha1
kind: SupabaseProject
metadata:
  name: demo
spec:
  apiExternalUrl: https://api.demo.example.com
  database:
    secretRef:
      name: demo-db
";

pub const JWT_SECRET: &str = "fixture-jwt-secret-0123456789-abcdefghij";
/// The database password of every fixture.
pub const DB_PASSWORD: &str = "fixture-db-password-p@ss/word:1";
/// Other secret values of the fixtures.
pub const S3_SECRET_ACCESS_KEY: &str = "fixture-s3-secret-access-key-XYZ";
/// SMTP password.
pub const SMTP_PASSWORD: &str = "fixture-smtp-password-42";
/// Studio basic-auth password.
pub const DASHBOARD_PASSWORD: &str = "fixture-dashboard-password-77";
/// Realtime `SECRET_KEY_BASE` (64 characters).
pub const SECRET_KEY_BASE: &str = "fixture-secret-key-base-0000000000000000000000000000000000000000";
/// Realtime `DB_ENC_KEY` (exactly 16 characters).
pub const DB_ENC_KEY: &str = "fixture-enc-key1";
/// postgres-meta `CRYPTO_KEY` (at least 32 characters).
pub const CRYPTO_KEY: &str = "fixture-meta-crypto-key-000000000000";

/// The publishable API key of the full sample (checksum as upstream computes it).
pub const PUBLISHABLE_KEY: &str = "sb_publishable_fixtureFixtureFixture1_tExdzd7N";
/// The secret API key of the full sample.
pub const SECRET_API_KEY: &str = "sb_secret_fixtureFixtureFixture2_hlHkJxlW";
/// The `signingKeyId` of `config/samples/full.yaml`.
pub const SAMPLE_KID: &str = "6f1d3c52-8e0a-4b7f-9c21-3d5e7a9b0c14";

/// Every secret value above; signed keys and generated signing keys are added by
/// [`jwt_keys`] and [`signing_keys`] callers.
pub const SECRET_VALUES: [&str; 10] = [
    JWT_SECRET,
    DB_PASSWORD,
    S3_SECRET_ACCESS_KEY,
    SMTP_PASSWORD,
    DASHBOARD_PASSWORD,
    SECRET_KEY_BASE,
    DB_ENC_KEY,
    CRYPTO_KEY,
    PUBLISHABLE_KEY,
    SECRET_API_KEY,
];

/// An Opaque Secret.
pub fn secret(name: &str, data: &[(&str, &str)]) -> Secret {
    Secret {
        metadata: ObjectMeta { name: Some(name.into()), ..Default::default() },
        data: Some(
            data.iter().map(|(k, v)| (k.to_string(), ByteString(v.as_bytes().to_vec()))).collect::<BTreeMap<_, _>>(),
        ),
        type_: Some("Opaque".into()),
        ..Default::default()
    }
}

/// `(anonKey, serviceKey)` signed the upstream way with `secret`, valid for five years.
pub fn jwt_keys(secret: &str) -> (String, String) {
    let now =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0);
    let exp = now + 5 * 365 * 24 * 3600;
    let anon = sign(secret, Role::Anon, ISSUER, now, exp).expect("sign anon");
    let service = sign(secret, Role::ServiceRole, ISSUER, now, exp).expect("sign service_role");
    (anon, service)
}

/// A signing key set for `jwt_secret` whose EC key has id `kid`, as upstream's
/// generator makes it: `(private set, public set, internal anon JWT, internal
/// service_role JWT)`, the JWTs valid for five years.
pub fn signing_keys(jwt_secret: &str, kid: &str) -> (String, String, String, String) {
    use crds::keys::{PrivateSet, internal_jwt, jwk};
    let now =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0);
    let mut ec = jwk::generate_ec();
    ec.kid = Some(kid.to_string());
    let exp = now + internal_jwt::LIFETIME_SECONDS;
    let anon = internal_jwt::sign(&ec, Role::Anon, now, exp).expect("sign anon");
    let service = internal_jwt::sign(&ec, Role::ServiceRole, now, exp).expect("sign service_role");
    let set = PrivateSet::from_keys(vec![ec, jwk::oct(jwt_secret)]);
    (set.to_json(), set.public_json(), anon, service)
}

/// The database Secret of `config/samples/minimal.yaml` (named `name`).
pub fn database(name: &str) -> Secret {
    secret(
        name,
        &[("host", "postgres.example.internal"), ("port", "5432"), ("database", "postgres"), ("password", DB_PASSWORD)],
    )
}

/// Every Secret `config/samples/full.yaml` references, valid.
pub fn full_sample() -> Vec<Secret> {
    let (anon, service) = jwt_keys(JWT_SECRET);
    let (private, public, anon_jwt, service_jwt) = signing_keys(JWT_SECRET, SAMPLE_KID);
    vec![
        secret("acme-db", &[("password", DB_PASSWORD)]),
        secret("acme-s3", &[("accessKeyId", "fixture-access-key-id"), ("secretAccessKey", S3_SECRET_ACCESS_KEY)]),
        secret("acme-jwt", &[("secret", JWT_SECRET), ("anonKey", &anon), ("serviceKey", &service)]),
        secret("acme-smtp", &[("username", "mailer"), ("password", SMTP_PASSWORD)]),
        secret("acme-dashboard", &[("username", "supabase"), ("password", DASHBOARD_PASSWORD)]),
        secret("acme-realtime", &[("secretKeyBase", SECRET_KEY_BASE), ("dbEncKey", DB_ENC_KEY)]),
        secret("acme-meta", &[("cryptoKey", CRYPTO_KEY)]),
        secret("acme-studio-ai", &[("openaiApiKey", "fixture-openai-api-key")]),
        secret("acme-signing-keys", &[("keys", &private), ("jwks", &public)]),
        secret(
            "acme-api-keys",
            &[
                ("publishableKey", PUBLISHABLE_KEY),
                ("secretKey", SECRET_API_KEY),
                ("anonJwt", &anon_jwt),
                ("serviceJwt", &service_jwt),
            ],
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_style_values_have_the_lengths_upstream_requires() {
        assert_eq!(SECRET_KEY_BASE.len(), 64);
        assert_eq!(DB_ENC_KEY.len(), 16);
        assert!(CRYPTO_KEY.len() >= 32);
        assert!(JWT_SECRET.len() >= crds::jwt::MIN_SECRET_LEN);
    }

    #[test]
    fn signed_keys_verify_against_the_raw_secret() {
        let (anon, service) = jwt_keys(JWT_SECRET);
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
        assert!(crds::jwt::verify(JWT_SECRET, &anon, Role::Anon, now).is_ok());
        assert!(crds::jwt::verify(JWT_SECRET, &service, Role::ServiceRole, now).is_ok());
    }
}
