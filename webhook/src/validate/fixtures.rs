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

    /// Changes the spec.
    pub fn with(mut self, f: impl FnOnce(&mut SupabaseProjectSpec)) -> Case {
        f(&mut self.spec);
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
