//! One JSON Web Key (RFC 7517) of the kinds Supabase uses: an EC P-256 key for ES256,
//! an RSA key for RS256, and the legacy HS256 secret as an `oct` key.

use p256::elliptic_curve::sec1::ToEncodedPoint;
use rand::RngCore;
use serde::Serialize;
use serde_json::{Map, Value};

use super::{b64, unb64};

/// `key_ops` of a key that signs (upstream's private EC JWK).
pub const OPS_SIGN_VERIFY: [&str; 2] = ["sign", "verify"];
/// `key_ops` of a key that only verifies (upstream's public EC JWK).
pub const OPS_VERIFY: [&str; 1] = ["verify"];

/// A JWK. Fields are declared in the order upstream's generator writes them
/// (`kty, kid, use, key_ops, alg, ext, crv, x, y, d` for the EC key, `kty, k, alg`
/// for the oct key; supabase/supabase `docker/utils/add-new-auth-keys.sh`
/// @ 12b126dc86a5949262fed769510e08197b9c27b9), so a generated set reads like theirs.
/// Members this operator does not use are not kept.
#[derive(Clone, Default, PartialEq, Eq, Serialize)]
pub struct Jwk {
    /// `EC`, `RSA` or `oct`.
    pub kty: String,
    /// The symmetric key (oct), base64url.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub k: Option<String>,
    /// Key id; asymmetric keys are found by the `kid` in a token's header.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kid: Option<String>,
    /// `sig`.
    #[serde(rename = "use", skip_serializing_if = "Option::is_none")]
    pub use_: Option<String>,
    /// `["sign","verify"]` on the one key Auth signs with, `["verify"]` on the others.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_ops: Option<Vec<String>>,
    /// `ES256`, `RS256` or `HS256`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alg: Option<String>,
    /// WebCrypto's `extractable` flag, as upstream's generator writes it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ext: Option<bool>,
    /// Curve (EC): `P-256`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub crv: Option<String>,
    /// Public point, x coordinate (EC).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub x: Option<String>,
    /// Public point, y coordinate (EC).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub y: Option<String>,
    /// Modulus (RSA).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub n: Option<String>,
    /// Public exponent (RSA).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub e: Option<String>,
    /// Private scalar (EC) or private exponent (RSA).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub d: Option<String>,
    /// First prime (RSA).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p: Option<String>,
    /// Second prime (RSA).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub q: Option<String>,
    /// CRT exponent of p (RSA).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dp: Option<String>,
    /// CRT exponent of q (RSA).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dq: Option<String>,
    /// CRT coefficient (RSA).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub qi: Option<String>,
}

impl std::fmt::Debug for Jwk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the key material.
        f.debug_struct("Jwk")
            .field("kty", &self.kty)
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .field("private", &self.has_private_part())
            .finish_non_exhaustive()
    }
}

/// Why a JSON value is not a JWK this operator can read. Names fields, never values.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ShapeProblem {
    /// Not a JSON object.
    #[error("is {0}, not a JWK object")]
    NotAnObject(&'static str),
    /// A member of the wrong JSON type.
    #[error("member {field:?} must be {expected}")]
    FieldType {
        /// Member name.
        field: &'static str,
        /// What it must be.
        expected: &'static str,
    },
    /// No `kty`.
    #[error("has no \"kty\"")]
    NoKty,
}

/// The JSON type of a value, for messages.
pub(crate) fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn string(map: &Map<String, Value>, field: &'static str) -> Result<Option<String>, ShapeProblem> {
    match map.get(field) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(ShapeProblem::FieldType { field, expected: "a string" }),
    }
}

impl Jwk {
    /// Reads a JWK from a JSON value. Member types are checked one by one so that a
    /// problem is named by member, without serde's messages, which quote the input.
    pub fn from_value(value: &Value) -> Result<Jwk, ShapeProblem> {
        let Value::Object(map) = value else { return Err(ShapeProblem::NotAnObject(kind_of(value))) };
        let key_ops = match map.get("key_ops") {
            None => None,
            Some(Value::Array(ops)) => Some(
                ops.iter()
                    .map(|op| op.as_str().map(str::to_string))
                    .collect::<Option<Vec<_>>>()
                    .ok_or(ShapeProblem::FieldType { field: "key_ops", expected: "an array of strings" })?,
            ),
            Some(_) => return Err(ShapeProblem::FieldType { field: "key_ops", expected: "an array of strings" }),
        };
        let ext = match map.get("ext") {
            None => None,
            Some(Value::Bool(b)) => Some(*b),
            Some(_) => return Err(ShapeProblem::FieldType { field: "ext", expected: "a boolean" }),
        };
        Ok(Jwk {
            kty: string(map, "kty")?.ok_or(ShapeProblem::NoKty)?,
            k: string(map, "k")?,
            kid: string(map, "kid")?,
            use_: string(map, "use")?,
            key_ops,
            alg: string(map, "alg")?,
            ext,
            crv: string(map, "crv")?,
            x: string(map, "x")?,
            y: string(map, "y")?,
            n: string(map, "n")?,
            e: string(map, "e")?,
            d: string(map, "d")?,
            p: string(map, "p")?,
            q: string(map, "q")?,
            dp: string(map, "dp")?,
            dq: string(map, "dq")?,
            qi: string(map, "qi")?,
        })
    }

    /// Whether this is an asymmetric key (EC or RSA): those are found by `kid`.
    pub fn is_asymmetric(&self) -> bool {
        self.kty == "EC" || self.kty == "RSA"
    }

    /// Whether this is the legacy symmetric key.
    pub fn is_oct(&self) -> bool {
        self.kty == "oct"
    }

    /// Whether `key_ops` lists `sign` (how Auth picks its signing key).
    pub fn signs(&self) -> bool {
        self.key_ops.iter().flatten().any(|op| op == "sign")
    }

    /// Whether the key carries private material: EC/RSA `d` or the RSA primes.
    pub fn has_private_part(&self) -> bool {
        self.private_members().next().is_some()
    }

    /// The names of the private members present (never their values).
    pub fn private_members(&self) -> impl Iterator<Item = &'static str> + '_ {
        [("d", &self.d), ("p", &self.p), ("q", &self.q), ("dp", &self.dp), ("dq", &self.dq), ("qi", &self.qi)]
            .into_iter()
            .filter(|(_, v)| v.is_some())
            .map(|(name, _)| name)
    }

    /// The public part, as upstream writes it into `JWT_JWKS`: an asymmetric key without
    /// its private members and with `key_ops: ["verify"]` (as Auth also does when it
    /// reads `GOTRUE_JWT_KEYS`, supabase/auth `internal/conf/jwk.go`
    /// @ 203bc7a4ac45f928a2a39adb4ab266ed468281e3); the oct key unchanged (upstream
    /// puts the same oct key in both sets).
    pub fn public_part(&self) -> Jwk {
        if !self.is_asymmetric() {
            return self.clone();
        }
        Jwk {
            key_ops: Some(OPS_VERIFY.iter().map(|s| s.to_string()).collect()),
            d: None,
            p: None,
            q: None,
            dp: None,
            dq: None,
            qi: None,
            ..self.clone()
        }
    }

    /// The same public key: kind, id, algorithm and public parameters (or, for oct, the
    /// secret), whatever the other members say.
    pub fn same_key(&self, other: &Jwk) -> bool {
        self.kty == other.kty
            && self.kid == other.kid
            && self.alg == other.alg
            && match self.kty.as_str() {
                "EC" => self.crv == other.crv && self.x == other.x && self.y == other.y,
                "RSA" => self.n == other.n && self.e == other.e,
                _ => self.k == other.k,
            }
    }
}

/// The legacy JWT secret as an oct JWK, exactly as upstream's generator makes it:
/// `{"kty":"oct","k": base64url of the secret string's raw bytes,"alg":"HS256"}`, no
/// `kid`, no `use`, no `key_ops` (`octKey` in supabase/supabase
/// `docker/utils/add-new-auth-keys.sh` @ 12b126dc86a5949262fed769510e08197b9c27b9:
/// `Buffer.from(jwtSecret).toString("base64url")` — the raw bytes, never a base64
/// decoding of the secret).
pub fn oct(jwt_secret: &str) -> Jwk {
    Jwk { kty: "oct".into(), k: Some(b64(jwt_secret.as_bytes())), alg: Some("HS256".into()), ..Jwk::default() }
}

/// A new EC P-256 signing key as upstream's generator makes it: `kid` a random UUID
/// (v4), `use: "sig"`, `key_ops: ["sign","verify"]`, `alg: "ES256"`, `ext: true`,
/// `crv: "P-256"`, `x`, `y`, `d` (supabase/supabase `docker/utils/add-new-auth-keys.sh`
/// @ 12b126dc86a5949262fed769510e08197b9c27b9: `openssl ecparam -name prime256v1`,
/// `crypto.randomUUID()`).
pub fn generate_ec() -> Jwk {
    let mut rng = rand::rng();
    // A uniformly random 32-byte string is a valid P-256 scalar except with probability
    // about 2^-32 (zero or at least the group order); draw again then.
    let secret = loop {
        let mut bytes = p256::FieldBytes::default();
        rng.fill_bytes(&mut bytes);
        if let Ok(secret) = p256::SecretKey::from_bytes(&bytes) {
            break secret;
        }
    };
    let mut id = [0u8; 16];
    rng.fill_bytes(&mut id);
    let kid = uuid::Builder::from_random_bytes(id).into_uuid().to_string();
    ec_jwk(&secret, kid)
}

/// The JWK of an EC P-256 private key, in upstream's shape.
pub(crate) fn ec_jwk(secret: &p256::SecretKey, kid: String) -> Jwk {
    let point = secret.public_key().to_encoded_point(false);
    Jwk {
        kty: "EC".into(),
        kid: Some(kid),
        use_: Some("sig".into()),
        key_ops: Some(OPS_SIGN_VERIFY.iter().map(|s| s.to_string()).collect()),
        alg: Some("ES256".into()),
        ext: Some(true),
        crv: Some("P-256".into()),
        x: point.x().map(|c| b64(c)),
        y: point.y().map(|c| b64(c)),
        d: Some(b64(&secret.to_bytes())),
        ..Jwk::default()
    }
}

/// The EC private key of a JWK, when it has a well-formed P-256 `d`.
pub(crate) fn ec_secret(jwk: &Jwk) -> Option<p256::SecretKey> {
    let d = unb64(jwk.d.as_deref()?)?;
    if d.len() != 32 {
        return None;
    }
    p256::SecretKey::from_slice(&d).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_generated_key_has_upstreams_members_in_upstreams_order() {
        let key = generate_ec();
        let text = serde_json::to_string(&key).unwrap_or_default();
        let names: Vec<&str> = [
            "\"kty\"",
            "\"kid\"",
            "\"use\"",
            "\"key_ops\"",
            "\"alg\"",
            "\"ext\"",
            "\"crv\"",
            "\"x\"",
            "\"y\"",
            "\"d\"",
        ]
        .into_iter()
        .collect();
        let positions: Vec<usize> = names.iter().filter_map(|n| text.find(n)).collect();
        assert_eq!(positions.len(), names.len(), "{names:?} in {}", text.len());
        assert!(positions.windows(2).all(|w| w[0] < w[1]), "members out of upstream's order");
        let value: Value = serde_json::from_str(&text).unwrap_or_default();
        assert_eq!(value["kty"], "EC");
        assert_eq!(value["crv"], "P-256");
        assert_eq!(value["alg"], "ES256");
        assert_eq!(value["use"], "sig");
        assert_eq!(value["key_ops"], json!(["sign", "verify"]));
        assert_eq!(value["ext"], true);
        // A UUID v4: 8-4-4-4-12 hex digits, version nibble 4, variant 10xx.
        let kid = value["kid"].as_str().unwrap_or_default();
        let groups: Vec<usize> = kid.split('-').map(str::len).collect();
        assert_eq!(groups, [8, 4, 4, 4, 12], "{kid}");
        assert_eq!(&kid[14..15], "4");
        assert!(matches!(&kid[19..20], "8" | "9" | "a" | "b"), "{kid}");
        for c in ["x", "y", "d"] {
            let bytes = unb64(value[c].as_str().unwrap_or_default()).unwrap_or_default();
            assert_eq!(bytes.len(), 32, "{c}");
        }
    }

    #[test]
    fn two_generated_keys_differ() {
        let (a, b) = (generate_ec(), generate_ec());
        assert_ne!(a.kid, b.kid);
        assert_ne!(a.d, b.d);
        assert_ne!(a.x, b.x);
    }

    #[test]
    fn the_oct_key_holds_the_secrets_raw_bytes() {
        let key = oct("super-secret-jwt-token-with-at-least-32-characters-long");
        // The value upstream's `Buffer.from(secret).toString("base64url")` gives for
        // upstream's documented example secret, computed outside this code.
        assert_eq!(
            serde_json::to_string(&key).unwrap_or_default(),
            r#"{"kty":"oct","k":"c3VwZXItc2VjcmV0LWp3dC10b2tlbi13aXRoLWF0LWxlYXN0LTMyLWNoYXJhY3RlcnMtbG9uZw","alg":"HS256"}"#
        );
    }

    #[test]
    fn the_public_part_drops_private_members_and_only_verifies() {
        let key = generate_ec();
        let public = key.public_part();
        assert!(!public.has_private_part());
        assert_eq!(public.key_ops, Some(vec!["verify".to_string()]));
        assert!(public.same_key(&key));
        assert_eq!((public.x.clone(), public.kid.clone()), (key.x.clone(), key.kid.clone()));
        let oct = oct("a-jwt-secret-of-at-least-32-characters!!");
        assert_eq!(oct.public_part(), oct);
    }

    #[test]
    fn members_of_the_wrong_type_are_named_without_their_values() {
        assert_eq!(Jwk::from_value(&json!([1])), Err(ShapeProblem::NotAnObject("an array")));
        assert_eq!(Jwk::from_value(&json!({"kid": "a"})), Err(ShapeProblem::NoKty));
        let wrong = json!({"kty": "EC", "d": 12345});
        assert_eq!(Jwk::from_value(&wrong), Err(ShapeProblem::FieldType { field: "d", expected: "a string" }));
        let wrong = json!({"kty": "EC", "key_ops": "sign"});
        assert!(matches!(Jwk::from_value(&wrong), Err(ShapeProblem::FieldType { field: "key_ops", .. })));
        let read = Jwk::from_value(&json!({"kty": "oct", "k": "c2VjcmV0", "alg": "HS256", "x5c": ["ignored"]}));
        assert_eq!(read.map(|k| k.k), Ok(Some("c2VjcmV0".into())));
    }

    #[test]
    fn debug_never_shows_key_material() {
        let key = generate_ec();
        let shown = format!("{key:?}");
        for secret in [key.d.clone(), key.x.clone()].into_iter().flatten() {
            assert!(!shown.contains(&secret), "{shown}");
        }
        let o = oct("a-jwt-secret-of-at-least-32-characters!!");
        assert!(!format!("{o:?}").contains(o.k.as_deref().unwrap_or("-")));
    }
}
