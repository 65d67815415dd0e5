//! A fully featured valid project with its Secrets, for the rules' unit tests. Keys are
//! signed by hand the way upstream's `generate-keys.sh` does (HMAC over the raw secret
//! string), not with the code under test.

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use crds::SupabaseProjectSpec;

use super::{Access, Input, Lookup, Report, SecretData};
use crate::policy::Policy;

/// The clock of every case: 2027-01-15T08:00:00Z.
pub const NOW: i64 = 1_800_000_000;
/// The JWT secret of the valid case.
pub const SECRET: &str = "a-jwt-secret-of-at-least-32-characters!!";

/// HS256 over `header.claims` with `key`, by hand.
pub fn hand_signed(header: &str, claims: &str, key: &[u8]) -> String {
    use hmac::{Hmac, Mac};
    let input = format!("{}.{}", URL_SAFE_NO_PAD.encode(header), URL_SAFE_NO_PAD.encode(claims));
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(key).unwrap();
    mac.update(input.as_bytes());
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes()))
}

/// An API key the upstream way.
pub fn key(role: &str, iss: &str, exp: i64, secret: &[u8]) -> String {
    hand_signed(
        r#"{"alg":"HS256","typ":"JWT"}"#,
        &format!(r#"{{"role":"{role}","iss":"{iss}","iat":{},"exp":{exp}}}"#, NOW - 100),
        secret,
    )
}

/// The kid the internal JWTs of `crds/src/keys/testdata/tokens.json` carry.
pub const KID: &str = "8a6c5bd3-3f0e-4c1c-9a57-0d5f0a1b2c3d";
/// A publishable key with the checksum Node computes:
/// `createHash("sha256").update("supabase-self-hosted|" + prefixAndRandom).digest("base64url").slice(0, 8)`.
pub const PUBLISHABLE: &str = "sb_publishable_fixtureFixtureFixture1_tExdzd7N";
/// A secret key, the same way.
pub const SECRET_API_KEY: &str = "sb_secret_fixtureFixtureFixture2_hlHkJxlW";

/// A private set (upstream's JWT_KEYS shape) and its public set (JWT_JWKS) by hand from
/// Node-made EC JWKs, `(jwk, kid, signs)` each, plus the oct key of [`SECRET`].
pub fn new_key_sets(keys: &[(&str, &str, bool)]) -> (String, String) {
    let mut private = Vec::new();
    let mut public = Vec::new();
    for (jwk, kid, signs) in keys {
        let mut k: serde_json::Value = serde_json::from_str(jwk).unwrap();
        k["kid"] = serde_json::json!(kid);
        k["use"] = serde_json::json!("sig");
        k["alg"] = serde_json::json!("ES256");
        k["key_ops"] = if *signs { serde_json::json!(["sign", "verify"]) } else { serde_json::json!(["verify"]) };
        let mut p = k.clone();
        p.as_object_mut().unwrap().remove("d");
        p["key_ops"] = serde_json::json!(["verify"]);
        private.push(k);
        public.push(p);
    }
    let oct = serde_json::json!({"kty": "oct", "k": URL_SAFE_NO_PAD.encode(SECRET), "alg": "HS256"});
    private.push(oct.clone());
    public.push(oct);
    (serde_json::Value::from(private).to_string(), serde_json::json!({ "keys": public }).to_string())
}

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
  keys: both
smtp: {host: smtp.example.com, sender: no-reply@example.com, secretRef: {name: smtp}}
dashboard: {secretRef: {name: dashboard}}
components:
  realtime: {secretRef: {name: realtime}}
  meta: {secretRef: {name: meta}}
"#;

/// One validation case, owning what [`Input`] borrows.
#[derive(Clone, Debug)]
pub struct Case {
    pub name: String,
    pub generated_name: bool,
    pub namespace: String,
    pub spec: SupabaseProjectSpec,
    pub old: Option<SupabaseProjectSpec>,
    pub secrets: BTreeMap<String, Lookup>,
    pub access: BTreeMap<String, Access>,
    pub policy: Policy,
}

pub fn found(pairs: &[(&str, &[u8])]) -> Lookup {
    Lookup::Found(SecretData::of(pairs.iter().map(|(k, v)| (*k, *v))))
}

impl Case {
    /// Every feature on, every Secret present and right.
    pub fn valid() -> Case {
        let spec = crds::defaults(serde_yaml::from_str(SPEC).unwrap());
        let year = NOW + 365 * 86_400;
        let anon = key("anon", "supabase", year, SECRET.as_bytes());
        let service = key("service_role", "supabase", year, SECRET.as_bytes());
        let secrets = BTreeMap::from([
            (
                "db".to_string(),
                found(&[
                    ("host", b"db.example.com"),
                    ("port", b"5432"),
                    ("database", b"postgres"),
                    ("password", b"pw"),
                ]),
            ),
            ("s3".into(), found(&[("accessKeyId", b"AKIA"), ("secretAccessKey", b"shh")])),
            (
                "jwt".into(),
                found(&[
                    ("secret", SECRET.as_bytes()),
                    ("anonKey", anon.as_bytes()),
                    ("serviceKey", service.as_bytes()),
                ]),
            ),
            ("smtp".into(), found(&[("username", b"u"), ("password", b"p")])),
            ("dashboard".into(), found(&[("username", b"admin"), ("password", b"p")])),
            ("realtime".into(), found(&[("secretKeyBase", &[b'k'; 64]), ("dbEncKey", b"0123456789abcdef")])),
            ("meta".into(), found(&[("cryptoKey", &[b'c'; 32])])),
        ]);
        Case {
            name: "demo".into(),
            generated_name: false,
            namespace: "team-a".into(),
            spec,
            old: None,
            secrets,
            access: BTreeMap::new(),
            policy: Policy::default(),
        }
    }

    /// [`Case::valid`] with every new key referenced: a private set (an EC key made by
    /// Node's crypto, as upstream's generator makes it, and the oct key), its public set,
    /// API keys whose checksums Node computed, and internal JWTs Node signed (see
    /// `crds/src/keys/testdata`). None of it is made by the code under test.
    pub fn new_keys() -> Case {
        let mut case = Case::valid().with(|s| {
            let jwt = s.jwt.as_mut().unwrap();
            jwt.signing_key_id = Some(KID.into());
            jwt.signing_keys_ref = Some(crds::project::SigningKeysSecretRef {
                name: "signing".into(),
                keys_key: Some("keys".into()),
                jwks_key: Some("jwks".into()),
            });
            jwt.api_keys_ref = Some(crds::project::ApiKeysSecretRef {
                name: "api".into(),
                publishable_key_key: Some("publishableKey".into()),
                secret_key_key: Some("secretKey".into()),
                anon_jwt_key: Some("anonJwt".into()),
                service_jwt_key: Some("serviceJwt".into()),
            });
        });
        let (private, public) = new_key_sets(&[(include_str!("../../../crds/src/keys/testdata/ec-a.json"), KID, true)]);
        let tokens: serde_json::Value =
            serde_json::from_str(include_str!("../../../crds/src/keys/testdata/tokens.json")).unwrap();
        let token = |name: &str| tokens[name].as_str().unwrap().to_string();
        case.secrets.insert("signing".into(), found(&[("keys", private.as_bytes()), ("jwks", public.as_bytes())]));
        case.secrets.insert(
            "api".into(),
            found(&[
                ("publishableKey", PUBLISHABLE.as_bytes()),
                ("secretKey", SECRET_API_KEY.as_bytes()),
                ("anonJwt", token("es256_anon_high_s").as_bytes()),
                ("serviceJwt", token("es256_service").as_bytes()),
            ]),
        );
        case
    }

    /// Changes the spec.
    pub fn with(mut self, f: impl FnOnce(&mut SupabaseProjectSpec)) -> Case {
        f(&mut self.spec);
        self
    }

    /// The same case as an UPDATE of the stored spec `old`.
    pub fn with_old(mut self, old: SupabaseProjectSpec) -> Case {
        self.old = Some(old);
        self
    }

    /// Sets (or with `None` removes) one key of a Secret.
    pub fn set_key(&mut self, secret: &str, key: &str, value: Option<&[u8]>) {
        if let Some(Lookup::Found(data)) = self.secrets.get_mut(secret) {
            data.set(key, value);
        }
    }

    pub fn input(&self) -> Input<'_> {
        Input {
            name: &self.name,
            generated_name: self.generated_name,
            namespace: &self.namespace,
            spec: &self.spec,
            old: self.old.as_ref(),
            secrets: &self.secrets,
            access: &self.access,
            user: "alice",
            policy: &self.policy,
            now: NOW,
        }
    }

    pub fn run(&self) -> Report {
        super::validate(&self.input())
    }

    /// The fields of every violation, in order.
    pub fn fields(&self) -> Vec<String> {
        self.run().causes.into_iter().map(|c| c.field).collect()
    }

    /// Every violation, as Kubernetes would print them, joined by "; ".
    pub fn messages(&self) -> String {
        self.run().causes.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")
    }
}
