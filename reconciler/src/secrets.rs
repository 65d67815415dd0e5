//! The Secrets the operator generates, once: `<name>-jwt` (signing secret and the two
//! API keys, when the spec references no JWT Secret) and `<name>-internal` (Realtime's
//! `SECRET_KEY_BASE` and `DB_ENC_KEY` and postgres-meta's crypto key when the spec
//! references none; always Realtime's `RELEASE_COOKIE` and Storage's S3-protocol keys,
//! and Studio's percent-encoded database password, derived and kept following the
//! database Secret, see `studio_password`).
//! What exists is never regenerated. A complete Secret is read from
//! the cache of owned Secrets. One that no cache knows is, almost always, one a new
//! project has yet to get: it is created straight away with every key, and since a
//! create is a POST, which fails rather than overwrite, it is read from the apiserver
//! only when that POST finds it exists. One the caches show but not complete (a key is
//! missing, or it lacks our labels and only its name is cached) is read first. Only a
//! key that is missing or empty is added, with a merge patch.

use std::collections::BTreeMap;

use crds::jwt::{self, Role};
use crds::project::KeyScheme;
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
use crate::new_keys;
use crate::secret_data::SecretData;
use crate::studio_password;

/// Length of the generated JWT signing secret (the issue asks for at least 40).
pub const JWT_SECRET_LEN: usize = 48;
/// Realtime's `SECRET_KEY_BASE` length.
pub const SECRET_KEY_BASE_LEN: usize = 64;
/// Realtime's `DB_ENC_KEY` length (AES-128: exactly 16).
pub const DB_ENC_KEY_LEN: usize = 16;
/// postgres-meta's `CRYPTO_KEY` length (at least 32).
pub const CRYPTO_KEY_LEN: usize = 48;
/// Realtime's `RELEASE_COOKIE` length (the Erlang cookie; any length works, 64 is ample).
pub const RELEASE_COOKIE_LEN: usize = 64;
/// Storage's S3-protocol key id length (upstream's `.env.example` uses 32 hex characters).
pub const S3_PROTOCOL_KEY_ID_LEN: usize = 32;
/// Storage's S3-protocol secret length (upstream's `.env.example` uses 64 hex characters).
pub const S3_PROTOCOL_KEY_SECRET_LEN: usize = 64;
/// Lifetime of the generated API keys: five years.
pub const KEY_LIFETIME_SECS: i64 = 5 * 365 * 24 * 3600 + 24 * 3600;

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
        Value::RealtimeReleaseCookie,
        Value::StorageS3ProtocolKeyId,
        Value::StorageS3ProtocolKeySecret,
        Value::StudioDbPassword,
    ];
    // The new keys only with `keys: both`: a project on the legacy keys keeps its
    // generated Secret exactly as it is.
    let new_keys = [
        Value::SigningKeys,
        Value::AuthSigningKeys,
        Value::PublicKeys,
        Value::PublishableKey,
        Value::SecretApiKey,
        Value::AnonJwt,
        Value::ServiceJwt,
    ];
    let both = project.spec.key_scheme() == KeyScheme::Both;
    for v in generated.into_iter().chain(new_keys.into_iter().filter(|_| both)) {
        if let Some(Source::Secret { name: secret, key, generated: true }) = refs::source(&name, &project.spec, v) {
            let keys = out.entry(secret).or_default();
            // A generated set is also Auth's: one key, two values.
            if !keys.contains(&key) {
                keys.push(key);
            }
        }
    }
    out
}

/// The keys of the new-key scheme in the generated JWT Secret.
const NEW_KEYS: [&str; 7] = [
    jwt_keys::SIGNING_KEYS,
    jwt_keys::AUTH_KEYS,
    jwt_keys::PUBLIC_KEYS,
    jwt_keys::PUBLISHABLE_KEY,
    jwt_keys::SECRET_KEY,
    jwt_keys::ANON_JWT,
    jwt_keys::SERVICE_JWT,
];

/// What the derived keys depend on outside the generated Secrets.
#[derive(Clone, Copy, Debug, Default)]
struct Inputs<'a> {
    /// The user's JWT secret and signing keys, when referenced.
    keys: new_keys::Inputs<'a>,
    /// The database password (always the user's; Studio's copy derives from it).
    db_password: Option<&'a [u8]>,
}

/// What the generated keys depend on outside the generated Secrets.
fn inputs<'a>(project: &'a SupabaseProject, user: &'a SecretData) -> Inputs<'a> {
    let name = project.name_any();
    let user_bytes = |v: Value| match refs::source(&name, &project.spec, v) {
        Some(Source::Secret { name, key, generated: false }) => user.get(&name).and_then(|d| d.get(&key)),
        _ => None,
    };
    let user_value = |v: Value| user_bytes(v).and_then(|b| std::str::from_utf8(b).ok());
    Inputs {
        keys: new_keys::Inputs {
            jwt_secret: user_value(Value::JwtSecret),
            user_set: user_value(Value::SigningKeys),
            signing_key_id: project.spec.jwt.as_ref().and_then(|j| j.signing_key_id.as_deref()),
        },
        db_password: user_bytes(Value::DbPassword).map(Vec::as_slice),
    }
}

/// Fills the missing keys of one generated Secret, keeping every key that exists; the
/// derived ones (of the new keys, see `new_keys`; Studio's database password) are
/// rewritten when what they derive from changed.
fn complete(
    data: &BTreeMap<String, Vec<u8>>,
    keys: &[String],
    inputs: &Inputs<'_>,
    now: i64,
) -> Result<BTreeMap<String, Vec<u8>>, Error> {
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
        (internal_keys::RELEASE_COOKIE, RELEASE_COOKIE_LEN),
        (internal_keys::S3_PROTOCOL_KEY_ID, S3_PROTOCOL_KEY_ID_LEN),
        (internal_keys::S3_PROTOCOL_KEY_SECRET, S3_PROTOCOL_KEY_SECRET_LEN),
    ] {
        if wants(key) && get(key).is_none() {
            added.insert(key.to_string(), random(len).into_bytes());
        }
    }
    // Without the database password (its Secret not read yet) the key is left as it is.
    if wants(internal_keys::STUDIO_DB_PASSWORD)
        && let Some(password) = inputs.db_password
    {
        let encoded = studio_password::encode(password).into_bytes();
        if data.get(internal_keys::STUDIO_DB_PASSWORD) != Some(&encoded) {
            added.insert(internal_keys::STUDIO_DB_PASSWORD.to_string(), encoded);
        }
    }
    if NEW_KEYS.iter().any(|k| wants(k)) {
        let mut held = data.clone();
        held.extend(added.clone());
        let generated_secret = held.get(jwt_keys::SECRET).filter(|v| !v.is_empty()).map(|v| String::from_utf8_lossy(v));
        let secret = generated_secret.as_deref().or(inputs.keys.jwt_secret);
        let inputs = new_keys::Inputs { jwt_secret: secret, ..inputs.keys };
        let new_wants = |k: &str| NEW_KEYS.contains(&k) && wants(k);
        added.extend(new_keys::complete(&held, &new_wants, &inputs, now)?);
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

fn encoded(data: &BTreeMap<String, Vec<u8>>) -> BTreeMap<String, ByteString> {
    data.iter().map(|(k, v)| (k.clone(), ByteString(v.clone()))).collect()
}

fn key_list(data: &BTreeMap<String, Vec<u8>>) -> String {
    data.keys().cloned().collect::<Vec<_>>().join(", ")
}

/// One generated Secret after [`ensure`]: its data, and a note when it was written.
type Outcome = (BTreeMap<String, Vec<u8>>, Option<String>);

/// The apiserver side of [`ensure`] for one project.
struct SecretWriter<'a> {
    ctx: &'a Context,
    api: &'a Api<Secret>,
    project: &'a SupabaseProject,
    inputs: Inputs<'a>,
    now: i64,
}

impl SecretWriter<'_> {
    async fn read(&self, name: &str) -> Result<Option<BTreeMap<String, Vec<u8>>>, Error> {
        let secret = self.api.get_opt(name).await.map_err(|e| secret_error(name, e))?;
        Ok(secret.map(|s| bytes(s.data)))
    }

    /// For a Secret known to exist: read it, then add what it lacks.
    async fn read_first(&self, name: &str, keys: &[String]) -> Result<Outcome, Error> {
        match self.read(name).await? {
            Some(current) => self.fill(name, keys, current).await,
            // Deleted since the cache saw it.
            None => self.create_first(name, keys).await,
        }
    }

    /// For a Secret no cache knows, which on a new project does not exist yet: create it
    /// with every key, and read it only when the create finds it exists.
    async fn create_first(&self, name: &str, keys: &[String]) -> Result<Outcome, Error> {
        let data = complete(&BTreeMap::new(), keys, &self.inputs, self.now)?;
        self.ctx.may_write()?;
        if self.create(name, &data).await? {
            let note = format!("generated Secret {name} (keys {})", key_list(&data));
            return Ok((data, Some(note)));
        }
        match self.read(name).await? {
            Some(current) => self.fill(name, keys, current).await,
            // Deleted again since the conflict: the next reconcile starts over.
            None => Err(Error::SecretWrite { name: name.into(), code: 409, reason: "AlreadyExists".into() }),
        }
    }

    /// Creates the Secret; `false` when it already exists (a POST never overwrites).
    async fn create(&self, name: &str, data: &BTreeMap<String, Vec<u8>>) -> Result<bool, Error> {
        let project = self.project;
        let secret = Secret {
            metadata: ObjectMeta {
                name: Some(name.into()),
                namespace: project.namespace(),
                labels: Some(crds::names::labels(&project.name_any(), "secrets")),
                owner_references: project.controller_owner_ref(&()).map(|o| vec![o]),
                ..Default::default()
            },
            type_: Some("Opaque".into()),
            data: Some(encoded(data)),
            ..Default::default()
        };
        let pp = PostParams { field_manager: Some(MANAGER.into()), ..Default::default() };
        match self.api.create(&pp, &secret).await {
            Ok(_) => Ok(true),
            Err(kube::Error::Api(s)) if s.code == 409 => Ok(false),
            Err(e) => Err(secret_error(name, e)),
        }
    }

    /// Adds the keys `current` lacks, leaving every existing key as it is.
    async fn fill(&self, name: &str, keys: &[String], current: BTreeMap<String, Vec<u8>>) -> Result<Outcome, Error> {
        let added = complete(&current, keys, &self.inputs, self.now)?;
        if added.is_empty() {
            return Ok((current, None));
        }
        self.ctx.may_write()?;
        // A merge patch writes only the keys sent: missing ones, and derived ones whose
        // source changed; every other key is untouched.
        let patch = json!({ "data": encoded(&added) });
        let pp = PatchParams { field_manager: Some(MANAGER.into()), ..Default::default() };
        self.api.patch(name, &pp, &Patch::Merge(&patch)).await.map_err(|e| secret_error(name, e))?;
        let (updated, new): (BTreeMap<_, _>, BTreeMap<_, _>) =
            added.iter().partition(|(k, _)| current.get(*k).is_some_and(|v| !v.is_empty()));
        let mut notes = Vec::new();
        if !new.is_empty() {
            notes.push(format!(
                "added keys {} to Secret {name}",
                new.keys().cloned().cloned().collect::<Vec<_>>().join(", ")
            ));
        }
        if !updated.is_empty() {
            let list = updated.keys().cloned().cloned().collect::<Vec<_>>().join(", ");
            notes.push(format!("re-derived keys {list} of Secret {name} from their sources"));
        }
        let note = notes.join("; ");
        let mut merged = current;
        merged.extend(added);
        Ok((merged, Some(note)))
    }
}

/// Creates or completes the generated Secrets (each write checks leadership first).
/// `user` holds the user's referenced Secrets (the new keys derive from the JWT secret
/// and signing keys there).
pub async fn ensure(
    ctx: &Context,
    api: &Api<Secret>,
    project: &SupabaseProject,
    user: &SecretData,
) -> Result<Ensured, Error> {
    let mut out = Ensured::default();
    let writer = SecretWriter { ctx, api, project, inputs: inputs(project, user), now: chrono::Utc::now().timestamp() };
    let namespace = project.namespace().unwrap_or_default();
    for (name, keys) in needed(project) {
        let cached = crate::cache::get(&ctx.caches.secrets, &namespace, &name);
        if let Some(current) = cached.as_ref().map(|s| bytes(s.data.clone()))
            && complete(&current, &keys, &writer.inputs, writer.now)?.is_empty()
        {
            out.data.insert(name, current);
            continue;
        }
        // A Secret without our labels (made by hand, restored) is only in the cache of
        // every Secret's metadata. Creating it would fail on every reconcile: read it.
        let exists = cached.is_some() || crate::cache::get(&ctx.caches.all_secrets, &namespace, &name).is_some();
        let (data, note) =
            if exists { writer.read_first(&name, &keys).await? } else { writer.create_first(&name, &keys).await? };
        out.changes.extend(note);
        out.data.insert(name, data);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use bytes::Bytes;
    use http_body_util::{BodyExt, Full};
    use hyper::{Method, Request, Response, StatusCode};
    use kube::runtime::reflector;
    use kube::runtime::watcher::Event;

    use super::*;

    const NOW: i64 = 1_800_000_000;
    const NONE: Inputs<'static> =
        Inputs { keys: new_keys::Inputs { jwt_secret: None, user_set: None, signing_key_id: None }, db_password: None };

    fn keys(ks: &[&str]) -> Vec<String> {
        ks.iter().map(|k| k.to_string()).collect()
    }

    #[test]
    fn a_new_jwt_secret_gets_keys_that_verify_for_five_years() {
        let added =
            complete(&BTreeMap::new(), &keys(&["secret", "anonKey", "serviceKey"]), &NONE, NOW).unwrap_or_default();
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
        let full = complete(&BTreeMap::new(), &all, &NONE, NOW).unwrap_or_default();
        assert!(complete(&full, &all, &NONE, NOW + 10).unwrap_or_default().is_empty());

        let mut partial = full.clone();
        partial.remove("serviceKey");
        let added = complete(&partial, &all, &NONE, NOW).unwrap_or_default();
        assert_eq!(added.keys().collect::<Vec<_>>(), ["serviceKey"]);
        let secret = String::from_utf8(full["secret"].clone()).unwrap_or_default();
        let token = String::from_utf8(added["serviceKey"].clone()).unwrap_or_default();
        assert!(jwt::verify(&secret, &token, Role::ServiceRole, NOW).is_ok());
    }

    #[test]
    fn internal_keys_have_their_lengths() {
        let added = complete(&BTreeMap::new(), &keys(&["secretKeyBase", "dbEncKey", "cryptoKey"]), &NONE, NOW)
            .unwrap_or_default();
        assert_eq!(added["secretKeyBase"].len(), 64);
        assert_eq!(added["dbEncKey"].len(), 16);
        assert!(added["cryptoKey"].len() >= 32);
        assert!(!added.contains_key("secret"));
        let mut existing = added.clone();
        existing.remove("dbEncKey");
        let again =
            complete(&existing, &keys(&["secretKeyBase", "dbEncKey", "cryptoKey"]), &NONE, NOW).unwrap_or_default();
        assert_eq!(again.keys().collect::<Vec<_>>(), ["dbEncKey"]);
    }

    #[test]
    fn studio_s_password_is_the_database_password_percent_encoded_and_follows_it() {
        let wanted = keys(&["studioPostgresPassword"]);
        let with = |pw: &'static [u8]| Inputs { db_password: Some(pw), ..NONE };
        let first = complete(&BTreeMap::new(), &wanted, &with(b"p@ss:w/rd%20?#&"), NOW).unwrap_or_default();
        assert_eq!(text(&first, "studioPostgresPassword"), "p%40ss%3Aw%2Frd%2520%3F%23%26");
        assert!(complete(&first, &wanted, &with(b"p@ss:w/rd%20?#&"), NOW).unwrap_or_default().is_empty());
        // A new database password is re-derived over the old copy.
        let next = complete(&first, &wanted, &with(b"new/one"), NOW).unwrap_or_default();
        assert_eq!(text(&next, "studioPostgresPassword"), "new%2Fone");
        // Not known yet (its Secret unread): the copy is left as it is.
        assert!(complete(&first, &wanted, &NONE, NOW).unwrap_or_default().is_empty());
    }

    /// A fake apiserver for the Secrets of namespace `ns`: GET, POST (409 when the name
    /// exists) and merge PATCH of `data`. It logs each request as verb, name and, for a
    /// write, the keys sent (never values); other paths (event discovery) answer 404.
    #[derive(Clone, Default)]
    struct Fake {
        secrets: Arc<Mutex<BTreeMap<String, serde_json::Value>>>,
        log: Arc<Mutex<Vec<String>>>,
    }

    const PREFIX: &str = "/api/v1/namespaces/ns/secrets";

    fn status(code: StatusCode, reason: &str) -> (StatusCode, serde_json::Value) {
        let body = json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": reason,
                          "code": code.as_u16(), "message": reason});
        (code, body)
    }

    fn sent_keys(body: &serde_json::Value) -> String {
        body["data"].as_object().map(|d| d.keys().cloned().collect::<Vec<_>>().join(",")).unwrap_or_default()
    }

    impl Fake {
        fn holding(secrets: &[Secret]) -> Fake {
            let fake = Fake::default();
            for s in secrets {
                fake.secrets.lock().unwrap().insert(s.name_any(), serde_json::to_value(s).unwrap());
            }
            fake
        }

        fn client(&self) -> kube::Client {
            let fake = self.clone();
            let service = tower::service_fn(move |req: Request<kube::client::Body>| {
                let fake = fake.clone();
                async move { Ok::<_, Infallible>(fake.answer(req).await) }
            });
            kube::Client::new(service, "ns")
        }

        async fn answer(&self, req: Request<kube::client::Body>) -> Response<Full<Bytes>> {
            let (parts, body) = req.into_parts();
            let body = body.collect().await.map(|b| b.to_bytes()).unwrap_or_default();
            let body: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
            let name = parts.uri.path().strip_prefix(PREFIX).map(|n| n.trim_start_matches('/').to_string());
            let mut secrets = self.secrets.lock().unwrap();
            let (code, answer) = match (parts.method, name) {
                (Method::GET, Some(name)) if !name.is_empty() => {
                    self.log.lock().unwrap().push(format!("GET {name}"));
                    match secrets.get(&name) {
                        Some(s) => (StatusCode::OK, s.clone()),
                        None => status(StatusCode::NOT_FOUND, "NotFound"),
                    }
                }
                (Method::POST, Some(name)) if name.is_empty() => {
                    let name = body["metadata"]["name"].as_str().unwrap_or_default().to_string();
                    let answer = if secrets.contains_key(&name) {
                        status(StatusCode::CONFLICT, "AlreadyExists")
                    } else {
                        secrets.insert(name.clone(), body.clone());
                        (StatusCode::CREATED, body.clone())
                    };
                    self.log.lock().unwrap().push(format!("POST {name} {} {}", answer.0.as_u16(), sent_keys(&body)));
                    answer
                }
                (Method::PATCH, Some(name)) if secrets.contains_key(&name) => {
                    let merge = parts.headers.get("content-type").is_some_and(|v| v == "application/merge-patch+json");
                    assert!(merge, "a merge patch");
                    self.log.lock().unwrap().push(format!("PATCH {name} {}", sent_keys(&body)));
                    let stored = secrets.get_mut(&name).unwrap();
                    for (k, v) in body["data"].as_object().cloned().unwrap_or_default() {
                        stored["data"][k] = v;
                    }
                    (StatusCode::OK, stored.clone())
                }
                _ => status(StatusCode::NOT_FOUND, "NotFound"),
            };
            let mut response = Response::new(Full::new(Bytes::from(serde_json::to_vec(&answer).unwrap())));
            *response.status_mut() = code;
            response.headers_mut().insert("content-type", hyper::header::HeaderValue::from_static("application/json"));
            response
        }

        fn log(&self) -> Vec<String> {
            self.log.lock().unwrap().clone()
        }

        fn data(&self, name: &str) -> BTreeMap<String, Vec<u8>> {
            let s: Secret = serde_json::from_value(self.secrets.lock().unwrap()[name].clone()).unwrap();
            bytes(s.data)
        }
    }

    fn secret(name: &str, data: &[(&str, &str)]) -> Secret {
        Secret {
            metadata: ObjectMeta { name: Some(name.into()), namespace: Some("ns".into()), ..Default::default() },
            data: Some(data.iter().map(|(k, v)| (k.to_string(), ByteString(v.as_bytes().to_vec()))).collect()),
            ..Default::default()
        }
    }

    /// The smallest project: both generated Secrets, in namespace `ns`.
    fn project() -> SupabaseProject {
        let spec = serde_yaml::from_str("apiExternalUrl: https://api.example.com\ndatabase: {secretRef: {name: db}}\n");
        let mut p = SupabaseProject::new("demo", crds::defaults(spec.unwrap()));
        p.metadata.namespace = Some("ns".into());
        p.metadata.uid = Some("0b5c1f5e-1111-2222-3333-444455556666".into());
        p
    }

    /// Runs [`ensure`] against `fake`, with `owned` in the owned-Secret cache and
    /// `others` only in the cache of every Secret's metadata.
    async fn run(fake: &Fake, leader: bool, owned: &[Secret], others: &[Secret]) -> Result<Ensured, Error> {
        let client = fake.client();
        let (mut caches, _writers) = crate::cache::new();
        let (store, mut writer) = reflector::store();
        for s in owned {
            writer.apply_watcher_event(&Event::Apply(s.clone()));
        }
        caches.secrets = store;
        let (store, mut all) = reflector::store();
        for s in owned.iter().chain(others) {
            all.apply_watcher_event(&Event::Apply(kube::core::PartialObjectMeta {
                metadata: s.metadata.clone(),
                ..Default::default()
            }));
        }
        caches.all_secrets = store;
        let leadership = if leader {
            crate::leader::Leadership::leading()
        } else {
            crate::leader::Leadership::new(Duration::from_secs(1))
        };
        let events = crate::events::Events::new(client.clone(), "test", leadership.clone());
        let ctx = Context::new(client.clone(), caches, events, Arc::new(crate::metrics::Metrics::new()), leadership);
        ensure(&ctx, &Api::namespaced(client, "ns"), &project(), &SecretData::new()).await
    }

    fn text(data: &BTreeMap<String, Vec<u8>>, key: &str) -> String {
        String::from_utf8(data[key].clone()).unwrap()
    }

    #[tokio::test]
    async fn a_new_project_s_secrets_are_created_with_every_key_and_no_read() {
        let fake = Fake::default();
        let out = run(&fake, true, &[], &[]).await.unwrap();
        assert_eq!(
            fake.log(),
            [
                "POST demo-internal 201 cryptoKey,dbEncKey,releaseCookie,s3ProtocolAccessKeyId,s3ProtocolAccessKeySecret,secretKeyBase",
                "POST demo-jwt 201 anonKey,secret,serviceKey"
            ]
        );
        assert_eq!(
            out.changes,
            [
                "generated Secret demo-internal (keys cryptoKey, dbEncKey, releaseCookie, s3ProtocolAccessKeyId, s3ProtocolAccessKeySecret, secretKeyBase)",
                "generated Secret demo-jwt (keys anonKey, secret, serviceKey)"
            ]
        );
        for name in ["demo-internal", "demo-jwt"] {
            assert_eq!(out.data[name], fake.data(name), "{name}");
            let stored: Secret = serde_json::from_value(fake.secrets.lock().unwrap()[name].clone()).unwrap();
            assert_eq!(stored.labels().get("app.kubernetes.io/component").map(String::as_str), Some("secrets"));
            assert_eq!(stored.labels().get("app.kubernetes.io/managed-by").map(String::as_str), Some(MANAGER));
            let owner = &stored.owner_references()[0];
            assert_eq!((owner.name.as_str(), owner.controller), ("demo", Some(true)));
        }
        let jwt = &out.data["demo-jwt"];
        assert!(
            jwt::verify(&text(jwt, "secret"), &text(jwt, "anonKey"), Role::Anon, chrono::Utc::now().timestamp())
                .is_ok()
        );
    }

    #[tokio::test]
    async fn a_secret_the_create_finds_is_read_and_only_its_missing_keys_are_added() {
        let existing = "an-existing-jwt-secret-of-at-least-forty-characters";
        let fake = Fake::holding(&[
            secret("demo-jwt", &[("secret", existing)]),
            secret("demo-internal", &[("dbEncKey", "0123456789abcdef"), ("secretKeyBase", "")]),
        ]);
        // Neither cache shows them yet: the create goes first and meets the conflict.
        let out = run(&fake, true, &[], &[]).await.unwrap();
        assert_eq!(
            fake.log(),
            [
                "POST demo-internal 409 cryptoKey,dbEncKey,releaseCookie,s3ProtocolAccessKeyId,s3ProtocolAccessKeySecret,secretKeyBase",
                "GET demo-internal",
                "PATCH demo-internal cryptoKey,releaseCookie,s3ProtocolAccessKeyId,s3ProtocolAccessKeySecret,secretKeyBase",
                "POST demo-jwt 409 anonKey,secret,serviceKey",
                "GET demo-jwt",
                "PATCH demo-jwt anonKey,serviceKey",
            ]
        );
        assert_eq!(
            out.changes,
            [
                "added keys cryptoKey, releaseCookie, s3ProtocolAccessKeyId, s3ProtocolAccessKeySecret, secretKeyBase to \
                 Secret demo-internal",
                "added keys anonKey, serviceKey to Secret demo-jwt"
            ]
        );
        let (jwt, internal) = (fake.data("demo-jwt"), fake.data("demo-internal"));
        assert_eq!((out.data["demo-jwt"].clone(), out.data["demo-internal"].clone()), (jwt.clone(), internal.clone()));
        assert_eq!(text(&jwt, "secret"), existing);
        let now = chrono::Utc::now().timestamp();
        for (key, role) in [("anonKey", Role::Anon), ("serviceKey", Role::ServiceRole)] {
            assert!(
                jwt::verify(existing, &text(&jwt, key), role, now).is_ok(),
                "{key} signed with the existing secret"
            );
        }
        assert_eq!(text(&internal, "dbEncKey"), "0123456789abcdef");
        assert_eq!(text(&internal, "secretKeyBase").len(), SECRET_KEY_BASE_LEN);
        assert_eq!(text(&internal, "cryptoKey").len(), CRYPTO_KEY_LEN);
        assert_eq!(text(&internal, "releaseCookie").len(), RELEASE_COOKIE_LEN);
        assert_eq!(text(&internal, "s3ProtocolAccessKeyId").len(), S3_PROTOCOL_KEY_ID_LEN);
        assert_eq!(text(&internal, "s3ProtocolAccessKeySecret").len(), S3_PROTOCOL_KEY_SECRET_LEN);
    }

    #[tokio::test]
    async fn a_cached_secret_is_read_only_when_a_key_is_missing_and_never_created() {
        let internal = secret(
            "demo-internal",
            &[
                ("cryptoKey", &"c".repeat(48)),
                ("dbEncKey", "0123456789abcdef"),
                ("releaseCookie", &"r".repeat(64)),
                ("s3ProtocolAccessKeyId", &"i".repeat(32)),
                ("s3ProtocolAccessKeySecret", &"s".repeat(64)),
                ("secretKeyBase", &"k".repeat(64)),
            ],
        );
        let jwt = secret("demo-jwt", &[("secret", "an-existing-jwt-secret-of-at-least-forty-characters")]);
        let fake = Fake::holding(&[internal.clone(), jwt.clone()]);
        // demo-internal is complete in the owned cache; demo-jwt, made by hand, has no
        // labels and so shows only in the cache of every Secret.
        let out = run(&fake, true, &[internal], &[jwt]).await.unwrap();
        assert_eq!(fake.log(), ["GET demo-jwt", "PATCH demo-jwt anonKey,serviceKey"]);
        assert_eq!(out.changes, ["added keys anonKey, serviceKey to Secret demo-jwt"]);
        assert_eq!(out.data["demo-internal"], fake.data("demo-internal"));
    }

    #[tokio::test]
    async fn a_replica_that_is_not_the_leader_sends_nothing() {
        let fake = Fake::default();
        assert!(matches!(run(&fake, false, &[], &[]).await, Err(Error::NotLeader)));
        assert!(fake.log().is_empty(), "{:?}", fake.log());
    }
}
