//! The Secrets the operator generates, once: `<name>-jwt` (signing secret and the two
//! API keys, when the spec references no JWT Secret) and `<name>-internal` (Realtime's
//! `SECRET_KEY_BASE` and `DB_ENC_KEY`, postgres-meta's crypto key, when the spec
//! references none). What exists is never regenerated: a Secret is read from the cache
//! of owned Secrets, but generating anything (a cache miss, a missing key) first reads
//! it from the apiserver, and creation is a POST, which fails rather than overwrite if
//! another writer got there first. Only a key that is missing or empty is added.

use std::collections::BTreeMap;

use crds::jwt::{self, Role};
use crds::refs::{self, Source, Value, internal_keys, jwt_keys};
use crds::{MANAGER, SupabaseProject};
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, ObjectMeta, Patch, PatchParams, PostParams};
use kube::{Resource, ResourceExt};
use rand::Rng;
use serde_json::json;

use crate::Error;
use crate::context::Context;

/// Length of the generated JWT signing secret (the issue asks for at least 40).
pub const JWT_SECRET_LEN: usize = 48;
/// Realtime's `SECRET_KEY_BASE` length.
pub const SECRET_KEY_BASE_LEN: usize = 64;
/// Realtime's `DB_ENC_KEY` length (AES-128: exactly 16).
pub const DB_ENC_KEY_LEN: usize = 16;
/// postgres-meta's `CRYPTO_KEY` length (at least 32).
pub const CRYPTO_KEY_LEN: usize = 48;
/// Lifetime of the generated API keys: five years.
pub const KEY_LIFETIME_SECS: i64 = 5 * 365 * 24 * 3600 + 24 * 3600;

/// Data of the generated Secrets, by Secret name and key.
pub type SecretData = BTreeMap<String, BTreeMap<String, Vec<u8>>>;

/// What [`ensure`] did.
#[derive(Debug, Default)]
pub struct Ensured {
    /// Data of every generated Secret the project uses.
    pub data: SecretData,
    /// Human-readable notes of what was created or completed (names and keys only).
    pub changes: Vec<String>,
}

fn random(len: usize) -> String {
    rand::rng().sample_iter(rand::distr::Alphanumeric).take(len).map(char::from).collect()
}

/// The generated Secrets the project needs, with the keys each must hold.
fn needed(project: &SupabaseProject) -> BTreeMap<String, Vec<String>> {
    let name = project.name_any();
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let generated = [
        Value::JwtSecret,
        Value::AnonKey,
        Value::ServiceKey,
        Value::RealtimeSecretKeyBase,
        Value::RealtimeDbEncKey,
        Value::MetaCryptoKey,
    ];
    for v in generated {
        if let Some(Source::Secret { name: secret, key, generated: true }) = refs::source(&name, &project.spec, v) {
            out.entry(secret).or_default().push(key);
        }
    }
    out
}

/// Fills the missing keys of one generated Secret, keeping every key that exists.
fn complete(data: &BTreeMap<String, Vec<u8>>, keys: &[String], now: i64) -> Result<BTreeMap<String, Vec<u8>>, Error> {
    let mut added = BTreeMap::new();
    let get = |k: &str| data.get(k).filter(|v| !v.is_empty()).cloned();
    let wants = |k: &str| keys.iter().any(|x| x == k);
    if wants(jwt_keys::SECRET) {
        // API keys signed with a lost secret are useless: a new secret means new keys.
        let (secret, fresh) = match get(jwt_keys::SECRET) {
            Some(s) => (s, false),
            None => {
                let s = random(JWT_SECRET_LEN).into_bytes();
                added.insert(jwt_keys::SECRET.to_string(), s.clone());
                (s, true)
            }
        };
        let secret = String::from_utf8_lossy(&secret).into_owned();
        for (key, role) in [(jwt_keys::ANON, Role::Anon), (jwt_keys::SERVICE, Role::ServiceRole)] {
            if fresh || get(key).is_none() {
                let token = jwt::sign(&secret, role, jwt::ISSUER, now, now + KEY_LIFETIME_SECS)?;
                added.insert(key.to_string(), token.into_bytes());
            }
        }
    }
    for (key, len) in [
        (internal_keys::SECRET_KEY_BASE, SECRET_KEY_BASE_LEN),
        (internal_keys::DB_ENC_KEY, DB_ENC_KEY_LEN),
        (internal_keys::CRYPTO_KEY, CRYPTO_KEY_LEN),
    ] {
        if wants(key) && get(key).is_none() {
            added.insert(key.to_string(), random(len).into_bytes());
        }
    }
    Ok(added)
}

fn secret_error(name: &str, e: kube::Error) -> Error {
    match e {
        kube::Error::Api(s) => Error::SecretWrite { name: name.into(), code: s.code, reason: s.reason.clone() },
        other => Error::SecretWrite { name: name.into(), code: 0, reason: other.to_string() },
    }
}

fn bytes(data: Option<BTreeMap<String, ByteString>>) -> BTreeMap<String, Vec<u8>> {
    data.unwrap_or_default().into_iter().map(|(k, v)| (k, v.0)).collect()
}

/// Creates or completes the generated Secrets (each write checks leadership first).
pub async fn ensure(ctx: &Context, api: &Api<Secret>, project: &SupabaseProject) -> Result<Ensured, Error> {
    let mut out = Ensured::default();
    let now = chrono::Utc::now().timestamp();
    let namespace = project.namespace().unwrap_or_default();
    for (name, keys) in needed(project) {
        if let Some(cached) = crate::cache::get(&ctx.caches.secrets, &namespace, &name) {
            let current = bytes(cached.data.clone());
            if complete(&current, &keys, now)?.is_empty() {
                out.data.insert(name, current);
                continue;
            }
        }
        let existing = api.get_opt(&name).await.map_err(|e| secret_error(&name, e))?;
        let current = bytes(existing.as_ref().and_then(|s| s.data.clone()));
        let added = complete(&current, &keys, now)?;
        if added.is_empty() {
            out.data.insert(name, current);
            continue;
        }
        ctx.may_write()?;
        let key_list = added.keys().cloned().collect::<Vec<_>>().join(", ");
        if existing.is_none() {
            let secret = Secret {
                metadata: ObjectMeta {
                    name: Some(name.clone()),
                    namespace: project.namespace(),
                    labels: Some(crds::names::labels(&project.name_any(), "secrets")),
                    owner_references: project.controller_owner_ref(&()).map(|o| vec![o]),
                    ..Default::default()
                },
                type_: Some("Opaque".into()),
                data: Some(added.iter().map(|(k, v)| (k.clone(), ByteString(v.clone()))).collect()),
                ..Default::default()
            };
            let pp = PostParams { field_manager: Some(MANAGER.into()), ..Default::default() };
            match api.create(&pp, &secret).await {
                Ok(_) => {}
                // Someone created it since our read: never overwrite; the next reconcile reads it.
                Err(kube::Error::Api(s)) if s.code == 409 => {
                    return Err(Error::SecretWrite { name, code: 409, reason: "AlreadyExists".into() });
                }
                Err(e) => return Err(secret_error(&name, e)),
            }
            out.changes.push(format!("generated Secret {name} (keys {key_list})"));
            out.data.insert(name, added);
        } else {
            // A merge patch adds only the missing keys; existing keys are untouched.
            let encoded: BTreeMap<&String, ByteString> =
                added.iter().map(|(k, v)| (k, ByteString(v.clone()))).collect();
            let patch = json!({ "data": encoded });
            let pp = PatchParams { field_manager: Some(MANAGER.into()), ..Default::default() };
            api.patch(&name, &pp, &Patch::Merge(&patch)).await.map_err(|e| secret_error(&name, e))?;
            out.changes.push(format!("added keys {key_list} to Secret {name}"));
            let mut merged = current;
            merged.extend(added);
            out.data.insert(name, merged);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_800_000_000;

    fn keys(ks: &[&str]) -> Vec<String> {
        ks.iter().map(|k| k.to_string()).collect()
    }

    #[test]
    fn a_new_jwt_secret_gets_keys_that_verify_for_five_years() {
        let added = complete(&BTreeMap::new(), &keys(&["secret", "anonKey", "serviceKey"]), NOW).unwrap_or_default();
        let secret = String::from_utf8(added["secret"].clone()).unwrap_or_default();
        assert!(secret.len() >= 40);
        for (k, role) in [("anonKey", Role::Anon), ("serviceKey", Role::ServiceRole)] {
            let token = String::from_utf8(added[k].clone()).unwrap_or_default();
            let claims = jwt::verify(&secret, &token, role, NOW).map_err(|e| e.to_string());
            let claims = claims.unwrap_or_else(|e| panic!("{k}: {e}"));
            assert_eq!(claims.iss.as_deref(), Some("supabase"));
            assert_eq!(claims.exp, Some(NOW + KEY_LIFETIME_SECS));
            assert!(jwt::verify(&secret, &token, role, NOW + 5 * 365 * 24 * 3600).is_ok());
        }
    }

    #[test]
    fn existing_keys_are_never_regenerated_and_missing_ones_are_signed_with_the_existing_secret() {
        let all = keys(&["secret", "anonKey", "serviceKey"]);
        let full = complete(&BTreeMap::new(), &all, NOW).unwrap_or_default();
        assert!(complete(&full, &all, NOW + 10).unwrap_or_default().is_empty());

        let mut partial = full.clone();
        partial.remove("serviceKey");
        let added = complete(&partial, &all, NOW).unwrap_or_default();
        assert_eq!(added.keys().collect::<Vec<_>>(), ["serviceKey"]);
        let secret = String::from_utf8(full["secret"].clone()).unwrap_or_default();
        let token = String::from_utf8(added["serviceKey"].clone()).unwrap_or_default();
        assert!(jwt::verify(&secret, &token, Role::ServiceRole, NOW).is_ok());
    }

    #[test]
    fn internal_keys_have_their_lengths() {
        let added =
            complete(&BTreeMap::new(), &keys(&["secretKeyBase", "dbEncKey", "cryptoKey"]), NOW).unwrap_or_default();
        assert_eq!(added["secretKeyBase"].len(), 64);
        assert_eq!(added["dbEncKey"].len(), 16);
        assert!(added["cryptoKey"].len() >= 32);
        assert!(!added.contains_key("secret"));
        let mut existing = added.clone();
        existing.remove("dbEncKey");
        let again = complete(&existing, &keys(&["secretKeyBase", "dbEncKey", "cryptoKey"]), NOW).unwrap_or_default();
        assert_eq!(again.keys().collect::<Vec<_>>(), ["dbEncKey"]);
    }
}
