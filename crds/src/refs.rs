//! Where each secret or connection value of a project comes from: a literal in the
//! spec, a key of a Secret the user referenced, or a key of a Secret the operator
//! generates. The webhook checks every user reference; the reconciler wires every
//! value into containers and watches the Secrets. One table keeps them in step.

use crate::names;
use crate::project::SupabaseProjectSpec;

/// A value some component consumes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Value {
    /// Database host.
    DbHost,
    /// Database port.
    DbPort,
    /// Database name.
    DbName,
    /// The one password every Supabase role uses.
    DbPassword,
    /// The JWT signing secret.
    JwtSecret,
    /// The `anon` API key.
    AnonKey,
    /// The `service_role` API key.
    ServiceKey,
    /// The private signing key set (a JSON array of JWKs; upstream's `JWT_KEYS`).
    SigningKeys,
    /// The private set as Auth reads it (`GOTRUE_JWT_KEYS`): the signing keys with
    /// `sign` in the `key_ops` of the signer alone, since Auth signs with the one key
    /// marked so and refuses a set with two.
    AuthSigningKeys,
    /// The public key set (`{"keys": [...]}`; upstream's `JWT_JWKS`).
    PublicKeys,
    /// The `sb_publishable_` API key.
    PublishableKey,
    /// The `sb_secret_` API key.
    SecretApiKey,
    /// The internal ES256 anon JWT the gateway sends for the publishable key.
    AnonJwt,
    /// The internal ES256 service_role JWT the gateway sends for the secret key.
    ServiceJwt,
    /// S3 access key id.
    S3AccessKeyId,
    /// S3 secret access key.
    S3SecretAccessKey,
    /// SMTP user name.
    SmtpUsername,
    /// SMTP password.
    SmtpPassword,
    /// Studio basic-auth user name.
    DashboardUsername,
    /// Studio basic-auth password.
    DashboardPassword,
    /// Realtime `SECRET_KEY_BASE`.
    RealtimeSecretKeyBase,
    /// Realtime `DB_ENC_KEY`.
    RealtimeDbEncKey,
    /// postgres-meta `CRYPTO_KEY`.
    MetaCryptoKey,
    /// Realtime's Erlang distribution cookie (`RELEASE_COOKIE`), shared by its replicas.
    RealtimeReleaseCookie,
    /// Storage's S3-protocol access key id (`S3_PROTOCOL_ACCESS_KEY_ID`).
    StorageS3ProtocolKeyId,
    /// Storage's S3-protocol secret (`S3_PROTOCOL_ACCESS_KEY_SECRET`).
    StorageS3ProtocolKeySecret,
    /// Studio's `OPENAI_API_KEY` (optional; only from the user's Secret).
    StudioOpenAiKey,
    /// Studio's `POSTGRES_PASSWORD`: the database password percent-encoded, derived by
    /// the reconciler, since Studio splices it into a connection URL unencoded.
    StudioDbPassword,
}

/// Where a value comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// Written in the spec.
    Literal(String),
    /// A key of a Secret in the project's namespace.
    Secret {
        /// Secret name.
        name: String,
        /// Key in the Secret's data.
        key: String,
        /// Whether the operator generates this Secret (else the user supplies it).
        generated: bool,
    },
}

/// A key of a user-supplied Secret the spec references, with the spec path that names it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyRef {
    /// The value it holds.
    pub value: Value,
    /// Secret name.
    pub secret: String,
    /// Key in the Secret's data.
    pub key: String,
    /// Path of the field naming the key, e.g. `spec.database.secretRef.passwordKey`,
    /// for admission messages. Static: built on every review, and formatting it cost
    /// a few percent of the webhook's CPU.
    pub path: &'static str,
}

/// The key a Secret reference reads when the spec names no other: what `defaults`
/// writes into the spec, and what [`referenced`] assumes of a spec not defaulted yet.
pub mod default_keys {
    /// Database host.
    pub const HOST: &str = "host";
    /// Database port.
    pub const PORT: &str = "port";
    /// Database name.
    pub const DATABASE: &str = "database";
    /// A password (database, SMTP, dashboard).
    pub const PASSWORD: &str = "password";
    /// A user name (SMTP, dashboard).
    pub const USERNAME: &str = "username";
    /// JWT signing secret.
    pub const SECRET: &str = "secret";
    /// The anon key.
    pub const ANON_KEY: &str = "anonKey";
    /// The service_role key.
    pub const SERVICE_KEY: &str = "serviceKey";
    /// S3 access key id.
    pub const ACCESS_KEY_ID: &str = "accessKeyId";
    /// S3 secret access key.
    pub const SECRET_ACCESS_KEY: &str = "secretAccessKey";
    /// Realtime `SECRET_KEY_BASE`.
    pub const SECRET_KEY_BASE: &str = "secretKeyBase";
    /// Realtime `DB_ENC_KEY`.
    pub const DB_ENC_KEY: &str = "dbEncKey";
    /// postgres-meta `CRYPTO_KEY`.
    pub const CRYPTO_KEY: &str = "cryptoKey";
    /// Studio `OPENAI_API_KEY`.
    pub const OPENAI_API_KEY: &str = "openaiApiKey";
}

fn user(value: Value, secret: &str, key: Option<&String>, default: &str, path: &'static str) -> KeyRef {
    KeyRef { value, secret: secret.to_string(), key: key.cloned().unwrap_or_else(|| default.to_string()), path }
}

/// Every key of a user-supplied Secret the spec references. Key names fall back to
/// the defaults, so this works on a spec before and after `defaults`.
pub fn referenced(spec: &SupabaseProjectSpec) -> Vec<KeyRef> {
    let mut refs = Vec::new();
    let db = &spec.database;
    let r = &db.secret_ref;
    if db.host.is_none() {
        refs.push(user(
            Value::DbHost,
            &r.name,
            r.host_key.as_ref(),
            default_keys::HOST,
            "spec.database.secretRef.hostKey",
        ));
    }
    if db.port.is_none() {
        refs.push(user(
            Value::DbPort,
            &r.name,
            r.port_key.as_ref(),
            default_keys::PORT,
            "spec.database.secretRef.portKey",
        ));
    }
    if db.name.is_none() {
        refs.push(user(
            Value::DbName,
            &r.name,
            r.database_key.as_ref(),
            default_keys::DATABASE,
            "spec.database.secretRef.databaseKey",
        ));
    }
    refs.push(user(
        Value::DbPassword,
        &r.name,
        r.password_key.as_ref(),
        default_keys::PASSWORD,
        "spec.database.secretRef.passwordKey",
    ));

    if let Some(r) = spec.jwt.as_ref().and_then(|j| j.secret_ref.as_ref()) {
        refs.push(user(
            Value::JwtSecret,
            &r.name,
            r.secret_key.as_ref(),
            default_keys::SECRET,
            "spec.jwt.secretRef.secretKey",
        ));
        refs.push(user(
            Value::AnonKey,
            &r.name,
            r.anon_key_key.as_ref(),
            default_keys::ANON_KEY,
            "spec.jwt.secretRef.anonKeyKey",
        ));
        refs.push(user(
            Value::ServiceKey,
            &r.name,
            r.service_key_key.as_ref(),
            default_keys::SERVICE_KEY,
            "spec.jwt.secretRef.serviceKeyKey",
        ));
    }
    let jwt = spec.jwt.as_ref();
    if let Some(r) = jwt.and_then(|j| j.signing_keys_ref.as_ref()) {
        refs.push(user(
            Value::SigningKeys,
            &r.name,
            r.keys_key.as_ref(),
            jwt_keys::SIGNING_KEYS,
            "spec.jwt.signingKeysRef.keysKey",
        ));
        // Optional: without a key name the operator derives the public set.
        if let Some(key) = &r.jwks_key {
            refs.push(user(Value::PublicKeys, &r.name, Some(key), "", "spec.jwt.signingKeysRef.jwksKey"));
        }
    }
    if let Some(r) = jwt.and_then(|j| j.api_keys_ref.as_ref()) {
        refs.push(user(
            Value::PublishableKey,
            &r.name,
            r.publishable_key_key.as_ref(),
            jwt_keys::PUBLISHABLE_KEY,
            "spec.jwt.apiKeysRef.publishableKeyKey",
        ));
        refs.push(user(
            Value::SecretApiKey,
            &r.name,
            r.secret_key_key.as_ref(),
            jwt_keys::SECRET_KEY,
            "spec.jwt.apiKeysRef.secretKeyKey",
        ));
        // Optional: without key names the operator signs them.
        if let Some(key) = &r.anon_jwt_key {
            refs.push(user(Value::AnonJwt, &r.name, Some(key), "", "spec.jwt.apiKeysRef.anonJwtKey"));
        }
        if let Some(key) = &r.service_jwt_key {
            refs.push(user(Value::ServiceJwt, &r.name, Some(key), "", "spec.jwt.apiKeysRef.serviceJwtKey"));
        }
    }
    let s3 = spec
        .storage
        .as_ref()
        .filter(|s| s.backend == Some(crate::project::StorageBackend::S3))
        .and_then(|s| s.s3.as_ref());
    if let Some(s3) = s3 {
        let r = &s3.secret_ref;
        refs.push(user(
            Value::S3AccessKeyId,
            &r.name,
            r.access_key_id_key.as_ref(),
            default_keys::ACCESS_KEY_ID,
            "spec.storage.s3.secretRef.accessKeyIdKey",
        ));
        refs.push(user(
            Value::S3SecretAccessKey,
            &r.name,
            r.secret_access_key_key.as_ref(),
            default_keys::SECRET_ACCESS_KEY,
            "spec.storage.s3.secretRef.secretAccessKeyKey",
        ));
    }
    if let Some(smtp) = &spec.smtp {
        let r = &smtp.secret_ref;
        refs.push(user(
            Value::SmtpUsername,
            &r.name,
            r.username_key.as_ref(),
            default_keys::USERNAME,
            "spec.smtp.secretRef.usernameKey",
        ));
        refs.push(user(
            Value::SmtpPassword,
            &r.name,
            r.password_key.as_ref(),
            default_keys::PASSWORD,
            "spec.smtp.secretRef.passwordKey",
        ));
    }
    if let Some(d) = &spec.dashboard {
        let r = &d.secret_ref;
        refs.push(user(
            Value::DashboardUsername,
            &r.name,
            r.username_key.as_ref(),
            default_keys::USERNAME,
            "spec.dashboard.secretRef.usernameKey",
        ));
        refs.push(user(
            Value::DashboardPassword,
            &r.name,
            r.password_key.as_ref(),
            default_keys::PASSWORD,
            "spec.dashboard.secretRef.passwordKey",
        ));
    }
    let components = spec.components.as_ref();
    if let Some(r) = components.and_then(|c| c.realtime.as_ref()).and_then(|r| r.secret_ref.as_ref()) {
        refs.push(user(
            Value::RealtimeSecretKeyBase,
            &r.name,
            r.secret_key_base_key.as_ref(),
            default_keys::SECRET_KEY_BASE,
            "spec.components.realtime.secretRef.secretKeyBaseKey",
        ));
        refs.push(user(
            Value::RealtimeDbEncKey,
            &r.name,
            r.db_enc_key_key.as_ref(),
            default_keys::DB_ENC_KEY,
            "spec.components.realtime.secretRef.dbEncKeyKey",
        ));
    }
    if let Some(r) = components.and_then(|c| c.meta.as_ref()).and_then(|m| m.secret_ref.as_ref()) {
        refs.push(user(
            Value::MetaCryptoKey,
            &r.name,
            r.crypto_key_key.as_ref(),
            default_keys::CRYPTO_KEY,
            "spec.components.meta.secretRef.cryptoKeyKey",
        ));
    }
    if let Some(r) = components.and_then(|c| c.studio.as_ref()).and_then(|s| s.ai_secret_ref.as_ref()) {
        refs.push(user(
            Value::StudioOpenAiKey,
            &r.name,
            r.openai_api_key_key.as_ref(),
            default_keys::OPENAI_API_KEY,
            "spec.components.studio.aiSecretRef.openaiApiKeyKey",
        ));
    }
    refs
}

/// The names of the user-supplied Secrets the spec references, sorted, without repeats.
pub fn referenced_secrets(spec: &SupabaseProjectSpec) -> Vec<String> {
    let mut names: Vec<String> = referenced(spec).into_iter().map(|r| r.secret).collect();
    names.sort();
    names.dedup();
    names
}

/// Keys of the generated `<project>-jwt` Secret, and the default key names of the
/// user's signing keys and API keys Secrets (the same names, so a user can start from
/// a copy of the generated Secret).
pub mod jwt_keys {
    /// The signing secret.
    pub const SECRET: &str = "secret";
    /// The anon key.
    pub const ANON: &str = "anonKey";
    /// The service_role key.
    pub const SERVICE: &str = "serviceKey";
    /// The private signing key set.
    pub const SIGNING_KEYS: &str = "keys";
    /// The user's private set with the signer marked, as Auth reads it (only with
    /// `signingKeysRef`; the generated set is already so).
    pub const AUTH_KEYS: &str = "authKeys";
    /// The public key set.
    pub const PUBLIC_KEYS: &str = "jwks";
    /// The publishable API key.
    pub const PUBLISHABLE_KEY: &str = "publishableKey";
    /// The secret API key.
    pub const SECRET_KEY: &str = "secretKey";
    /// The internal anon JWT.
    pub const ANON_JWT: &str = "anonJwt";
    /// The internal service_role JWT.
    pub const SERVICE_JWT: &str = "serviceJwt";
}

/// Keys of the generated `<project>-internal` Secret.
pub mod internal_keys {
    /// Realtime `SECRET_KEY_BASE`.
    pub const SECRET_KEY_BASE: &str = "secretKeyBase";
    /// Realtime `DB_ENC_KEY`.
    pub const DB_ENC_KEY: &str = "dbEncKey";
    /// postgres-meta `CRYPTO_KEY`.
    pub const CRYPTO_KEY: &str = "cryptoKey";
    /// Realtime `RELEASE_COOKIE`.
    pub const RELEASE_COOKIE: &str = "releaseCookie";
    /// Storage `S3_PROTOCOL_ACCESS_KEY_ID`.
    pub const S3_PROTOCOL_KEY_ID: &str = "s3ProtocolAccessKeyId";
    /// Storage `S3_PROTOCOL_ACCESS_KEY_SECRET`.
    pub const S3_PROTOCOL_KEY_SECRET: &str = "s3ProtocolAccessKeySecret";
    /// Studio `POSTGRES_PASSWORD`: the database password percent-encoded (derived, and
    /// re-derived when the database Secret changes).
    pub const STUDIO_DB_PASSWORD: &str = "studioPostgresPassword";
}

/// The generated Secret that holds the new keys the operator generates or derives: the
/// generated JWT Secret, unless the user supplies the legacy keys (see [`source`]).
pub fn new_keys_home(project: &str, spec: &SupabaseProjectSpec) -> String {
    match spec.jwt.as_ref().and_then(|j| j.secret_ref.as_ref()) {
        Some(_) => names::internal_secret(project),
        None => names::jwt_secret(project),
    }
}

/// Where `value` comes from for project `project`, or `None` when the spec does not
/// use it (no S3, SMTP or dashboard credentials configured).
pub fn source(project: &str, spec: &SupabaseProjectSpec, value: Value) -> Option<Source> {
    let db = &spec.database;
    let literal = match value {
        Value::DbHost => db.host.clone(),
        Value::DbPort => db.port.map(|p| p.to_string()),
        Value::DbName => db.name.clone(),
        _ => None,
    };
    if let Some(l) = literal {
        return Some(Source::Literal(l));
    }
    if let Some(r) = referenced(spec).into_iter().find(|r| r.value == value) {
        return Some(Source::Secret { name: r.secret, key: r.key, generated: false });
    }
    let generated = |name: String, key: &str| Some(Source::Secret { name, key: key.to_string(), generated: true });
    match value {
        Value::JwtSecret => generated(names::jwt_secret(project), jwt_keys::SECRET),
        Value::AnonKey => generated(names::jwt_secret(project), jwt_keys::ANON),
        Value::ServiceKey => generated(names::jwt_secret(project), jwt_keys::SERVICE),
        // The new keys: generated, or (public set, internal JWTs, Auth's set) derived from
        // the user's signing keys, into `<name>-jwt` beside the generated legacy keys.
        // With the user's own legacy Secret, `<name>-jwt` is not the operator's (the
        // user's may even bear that name): they go into `<name>-internal`, which is.
        Value::SigningKeys => generated(new_keys_home(project, spec), jwt_keys::SIGNING_KEYS),
        // The user's set is re-marked for Auth; a generated set marks its one key already.
        Value::AuthSigningKeys => match spec.jwt.as_ref().and_then(|j| j.signing_keys_ref.as_ref()) {
            Some(_) => generated(new_keys_home(project, spec), jwt_keys::AUTH_KEYS),
            None => generated(new_keys_home(project, spec), jwt_keys::SIGNING_KEYS),
        },
        Value::PublicKeys => generated(new_keys_home(project, spec), jwt_keys::PUBLIC_KEYS),
        Value::PublishableKey => generated(new_keys_home(project, spec), jwt_keys::PUBLISHABLE_KEY),
        Value::SecretApiKey => generated(new_keys_home(project, spec), jwt_keys::SECRET_KEY),
        Value::AnonJwt => generated(new_keys_home(project, spec), jwt_keys::ANON_JWT),
        Value::ServiceJwt => generated(new_keys_home(project, spec), jwt_keys::SERVICE_JWT),
        Value::RealtimeSecretKeyBase => generated(names::internal_secret(project), internal_keys::SECRET_KEY_BASE),
        Value::RealtimeDbEncKey => generated(names::internal_secret(project), internal_keys::DB_ENC_KEY),
        Value::MetaCryptoKey => generated(names::internal_secret(project), internal_keys::CRYPTO_KEY),
        Value::RealtimeReleaseCookie => generated(names::internal_secret(project), internal_keys::RELEASE_COOKIE),
        Value::StorageS3ProtocolKeyId => generated(names::internal_secret(project), internal_keys::S3_PROTOCOL_KEY_ID),
        Value::StorageS3ProtocolKeySecret => {
            generated(names::internal_secret(project), internal_keys::S3_PROTOCOL_KEY_SECRET)
        }
        Value::StudioDbPassword => generated(names::internal_secret(project), internal_keys::STUDIO_DB_PASSWORD),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(yaml: &str) -> SupabaseProjectSpec {
        serde_yaml::from_str(yaml).expect("spec")
    }

    #[test]
    fn minimal_spec_reads_every_database_value_from_its_secret_and_generates_the_rest() {
        let s = spec("apiExternalUrl: https://x\ndatabase: {secretRef: {name: db}}\n");
        let keys: Vec<(String, String)> = referenced(&s).into_iter().map(|r| (r.secret, r.key)).collect();
        let expected: Vec<(String, String)> =
            ["host", "port", "database", "password"].iter().map(|k| ("db".to_string(), k.to_string())).collect();
        assert_eq!(keys, expected);
        assert_eq!(
            source("p", &s, Value::AnonKey),
            Some(Source::Secret { name: "p-jwt".into(), key: "anonKey".into(), generated: true })
        );
        assert_eq!(source("p", &s, Value::SmtpPassword), None);
        assert_eq!(source("p", &s, Value::S3AccessKeyId), None);
    }

    #[test]
    fn literals_replace_secret_keys_and_overrides_are_honoured() {
        // A CloudNativePG app Secret: host and port literal here, dbname/password by key.
        let s = spec(
            "apiExternalUrl: https://x\ndatabase:\n  host: pg-rw\n  port: 5432\n  \
             secretRef: {name: pg-app, databaseKey: dbname, passwordKey: password}\n",
        );
        assert_eq!(source("p", &s, Value::DbHost), Some(Source::Literal("pg-rw".into())));
        assert_eq!(source("p", &s, Value::DbPort), Some(Source::Literal("5432".into())));
        let paths: Vec<String> = referenced(&s).into_iter().map(|r| format!("{}={}", r.path, r.key)).collect();
        assert_eq!(
            paths,
            ["spec.database.secretRef.databaseKey=dbname", "spec.database.secretRef.passwordKey=password"]
        );
    }

    #[test]
    fn new_key_references_list_only_the_keys_the_user_supplies() {
        let s = spec(
            "apiExternalUrl: https://x\ndatabase: {secretRef: {name: db}}\njwt:\n  keys: both\n  \
             signingKeysRef: {name: sk}\n  apiKeysRef: {name: ak, anonJwtKey: anon, serviceJwtKey: service}\n",
        );
        let paths: Vec<String> =
            referenced(&s).into_iter().filter(|r| r.secret != "db").map(|r| format!("{}={}", r.path, r.key)).collect();
        assert_eq!(
            paths,
            [
                "spec.jwt.signingKeysRef.keysKey=keys",
                "spec.jwt.apiKeysRef.publishableKeyKey=publishableKey",
                "spec.jwt.apiKeysRef.secretKeyKey=secretKey",
                "spec.jwt.apiKeysRef.anonJwtKey=anon",
                "spec.jwt.apiKeysRef.serviceJwtKey=service",
            ]
        );
        // Without a key name, the public set is derived into the generated Secret.
        assert_eq!(
            source("p", &s, Value::PublicKeys),
            Some(Source::Secret { name: "p-jwt".into(), key: "jwks".into(), generated: true })
        );
        assert_eq!(referenced_secrets(&s), ["ak", "db", "sk"]);
    }

    #[test]
    fn new_keys_the_operator_makes_never_go_into_the_users_legacy_secret() {
        let own = spec("apiExternalUrl: https://x\ndatabase: {secretRef: {name: db}}\njwt: {keys: both}\n");
        let home = |s: &SupabaseProjectSpec, v| match source("p", s, v) {
            Some(Source::Secret { name, key, generated: true }) => format!("{name}/{key}"),
            other => format!("{other:?}"),
        };
        assert_eq!(home(&own, Value::PublishableKey), "p-jwt/publishableKey");
        assert_eq!(home(&own, Value::AuthSigningKeys), "p-jwt/keys", "a generated set is Auth's as it is");
        // The user's legacy Secret may well be named p-jwt: the new keys go elsewhere.
        let users = spec(
            "apiExternalUrl: https://x\ndatabase: {secretRef: {name: db}}\njwt:\n  keys: both\n  \
             secretRef: {name: p-jwt}\n  signingKeysRef: {name: sk}\n",
        );
        assert_eq!(home(&users, Value::AnonJwt), "p-internal/anonJwt");
        assert_eq!(home(&users, Value::AuthSigningKeys), "p-internal/authKeys");
        assert_eq!(home(&users, Value::PublicKeys), "p-internal/jwks");
    }

    #[test]
    fn s3_credentials_count_only_with_the_s3_backend() {
        let base = "apiExternalUrl: https://x\ndatabase: {secretRef: {name: db}}\nstorage:\n  \
                    s3: {bucket: b, region: r, secretRef: {name: s3}}\n";
        assert!(!referenced_secrets(&spec(base)).contains(&"s3".to_string()));
        let with_backend = base.replace("storage:\n", "storage:\n  backend: s3\n");
        assert_eq!(referenced_secrets(&spec(&with_backend)), ["db", "s3"]);
    }
}
