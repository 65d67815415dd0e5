//! Supabase's JWT conventions (upstream `generate-keys.sh`): HS256, header
//! `{"alg":"HS256","typ":"JWT"}`, claims `role`, `iss`, `iat`, `exp`, and the HMAC
//! key is the raw bytes of the secret string — never its base64 decoding.
//!
//! Nothing here puts a secret or a token into an error message.

use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey};
use serde::{Deserialize, Serialize};

use crate::Error;

/// Issuer of keys this operator (and upstream's script) signs.
pub const ISSUER: &str = "supabase";
/// Issuer of the demo keys upstream ships in its docker setup.
pub const DEMO_ISSUER: &str = "supabase-demo";
/// Shortest JWT secret Supabase's services accept.
pub const MIN_SECRET_LEN: usize = 32;

/// The two API key roles.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    /// The public key clients embed.
    Anon,
    /// The key that bypasses row-level security.
    ServiceRole,
}

impl Role {
    /// The `role` claim value.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Anon => "anon",
            Role::ServiceRole => "service_role",
        }
    }
}

/// The claims of an API key.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct Claims {
    /// `anon` or `service_role`.
    pub role: String,
    /// `supabase`, or `supabase-demo` for upstream's demo keys.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    /// Issued at, seconds since the epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<i64>,
    /// Expiry, seconds since the epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exp: Option<i64>,
}

/// Signs an API key the upstream way.
pub fn sign(secret: &str, role: Role, issuer: &str, iat: i64, exp: i64) -> Result<String, Error> {
    let claims = Claims { role: role.as_str().into(), iss: Some(issuer.into()), iat: Some(iat), exp: Some(exp) };
    Ok(jsonwebtoken::encode(
        &jsonwebtoken::Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )?)
}

/// Why an API key is not usable with a secret. Messages name the problem, never the
/// key or the secret.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum KeyProblem {
    /// Not three base64url parts with JSON header and claims.
    #[error("is not a well-formed JWT ({0})")]
    Malformed(String),
    /// Signed with something other than HS256 (or unsigned).
    #[error("is signed with {0}, must be HS256")]
    WrongAlgorithm(String),
    /// The signature does not verify with the raw secret, but does with its base64 decoding.
    #[error(
        "signature does not verify with the JWT secret; it verifies with the base64-decoded secret, \
         but Supabase uses the secret string's raw bytes as the HMAC key"
    )]
    SignedWithDecodedSecret,
    /// The signature does not verify.
    #[error("signature does not verify with the JWT secret (signed with a different secret?)")]
    BadSignature,
    /// The `role` claim is not the expected one.
    #[error("has role {found:?}, must be {expected:?}")]
    WrongRole {
        /// The role found.
        found: String,
        /// The role required.
        expected: &'static str,
    },
    /// No `exp` claim.
    #[error("has no exp claim; keys must expire")]
    NoExpiry,
    /// `exp` is not in the future.
    #[error("expired at {0}")]
    Expired(String),
}

/// Formats seconds since the epoch as an RFC 3339 UTC date.
pub fn format_time(secs: i64) -> String {
    chrono::DateTime::from_timestamp(secs, 0).map(|t| t.to_rfc3339()).unwrap_or_else(|| secs.to_string())
}

fn signature_verifies(token: &str, key: &[u8]) -> bool {
    // `verify` has read the header (HS256) and the claims already; only the signature is
    // left, and a full `jsonwebtoken::decode` would parse both again (a third of a review).
    let Some((message, signature)) = token.rsplit_once('.') else { return false };
    matches!(
        jsonwebtoken::crypto::verify(signature, message.as_bytes(), &DecodingKey::from_secret(key), Algorithm::HS256),
        Ok(true)
    )
}

fn decoded_secrets(secret: &str) -> Vec<Vec<u8>> {
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    [STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD]
        .iter()
        .filter_map(|e| e.decode(secret.trim()).ok())
        .filter(|d| !d.is_empty())
        .collect()
}

fn decode_part<T: serde::de::DeserializeOwned>(part: &str, what: &str) -> Result<T, KeyProblem> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part.trim_end_matches('='))
        .map_err(|_| KeyProblem::Malformed(format!("{what} is not base64url")))?;
    serde_json::from_slice(&bytes)
        .map_err(|e| KeyProblem::Malformed(format!("{what} is not valid JSON: {}", e.classify_str())))
}

fn parts(token: &str) -> Result<(&str, &str), KeyProblem> {
    let mut parts = token.split('.');
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(header), Some(claims), Some(_), None) => Ok((header, claims)),
        _ => Err(KeyProblem::Malformed("expected three dot-separated parts".into())),
    }
}

/// The header's `alg`, read without trusting it (jsonwebtoken refuses to parse "none").
fn header_alg(token: &str) -> Result<String, KeyProblem> {
    #[derive(Deserialize)]
    struct Header {
        alg: String,
    }
    let (header, _) = parts(token)?;
    Ok(decode_part::<Header>(header, "header")?.alg)
}

/// Reads the claims without checking the signature (for warnings such as expiry).
pub fn peek(token: &str) -> Result<Claims, KeyProblem> {
    let (_, claims) = parts(token)?;
    decode_part(claims, "claims")
}

trait Classify {
    fn classify_str(&self) -> &'static str;
}

impl Classify for serde_json::Error {
    fn classify_str(&self) -> &'static str {
        // serde's own message may quote input (the claims), so only the category is shown.
        match self.classify() {
            serde_json::error::Category::Io => "I/O error",
            serde_json::error::Category::Syntax => "syntax error",
            serde_json::error::Category::Data => "missing or mistyped claim",
            serde_json::error::Category::Eof => "truncated",
        }
    }
}

/// Checks an API key against the secret, the expected role and the clock.
pub fn verify(secret: &str, token: &str, role: Role, now: i64) -> Result<Claims, KeyProblem> {
    verify_signed(secret, token, role).and_then(|claims| unexpired(claims, now))
}

/// The part of [`verify`] that does not depend on the clock: the same secret, key and
/// role always give the same answer, so a caller may remember it.
pub fn verify_signed(secret: &str, token: &str, role: Role) -> Result<Claims, KeyProblem> {
    let alg = header_alg(token)?;
    if alg != "HS256" {
        return Err(KeyProblem::WrongAlgorithm(alg));
    }
    let claims = peek(token)?;
    if !signature_verifies(token, secret.as_bytes()) {
        if decoded_secrets(secret).iter().any(|k| signature_verifies(token, k)) {
            return Err(KeyProblem::SignedWithDecodedSecret);
        }
        return Err(KeyProblem::BadSignature);
    }
    if claims.role != role.as_str() {
        return Err(KeyProblem::WrongRole { found: claims.role, expected: role.as_str() });
    }
    Ok(claims)
}

/// The clock's part of [`verify`]: the key has an expiry, and it is in the future.
pub fn unexpired(claims: Claims, now: i64) -> Result<Claims, KeyProblem> {
    match claims.exp {
        None => Err(KeyProblem::NoExpiry),
        Some(exp) if exp <= now => Err(KeyProblem::Expired(format_time(exp))),
        Some(_) => Ok(claims),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};

    const SECRET: &str = "super-secret-jwt-token-with-at-least-32-characters-long";
    const NOW: i64 = 1_800_000_000;

    /// Builds a token by hand, the way `generate-keys.sh` does with openssl, so the
    /// fixtures do not come from the code under test.
    fn hand_signed(header: &str, claims: &str, key: &[u8]) -> String {
        use hmac::{Hmac, Mac};
        let signing_input = format!("{}.{}", URL_SAFE_NO_PAD.encode(header), URL_SAFE_NO_PAD.encode(claims));
        let Ok(mut mac) = Hmac::<sha2::Sha256>::new_from_slice(key) else {
            return String::new();
        };
        mac.update(signing_input.as_bytes());
        format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes()))
    }

    fn upstream(role: &str, exp: i64) -> String {
        let claims = format!(r#"{{"role":"{role}","iss":"supabase","iat":{},"exp":{exp}}}"#, NOW - 10);
        hand_signed(r#"{"alg":"HS256","typ":"JWT"}"#, &claims, SECRET.as_bytes())
    }

    #[test]
    fn upstream_keys_verify() {
        let claims = verify(SECRET, &upstream("anon", NOW + 100), Role::Anon, NOW);
        assert_eq!(claims.map(|c| c.iss), Ok(Some("supabase".into())));
        assert!(verify(SECRET, &upstream("service_role", NOW + 100), Role::ServiceRole, NOW).is_ok());
    }

    #[test]
    fn signed_keys_verify_the_upstream_way() {
        let t = sign(SECRET, Role::ServiceRole, ISSUER, NOW, NOW + 10).unwrap_or_default();
        // Recompute the signature by hand over the token's own signing input.
        let (input, _) = t.rsplit_once('.').unwrap_or_default();
        let (h, c) = input.split_once('.').unwrap_or_default();
        let header = String::from_utf8(URL_SAFE_NO_PAD.decode(h).unwrap_or_default()).unwrap_or_default();
        let claims = String::from_utf8(URL_SAFE_NO_PAD.decode(c).unwrap_or_default()).unwrap_or_default();
        assert_eq!(hand_signed(&header, &claims, SECRET.as_bytes()), t);
        assert!(header.contains(r#""alg":"HS256""#) && header.contains(r#""typ":"JWT""#));
        assert!(verify(SECRET, &t, Role::ServiceRole, NOW).is_ok());
    }

    #[test]
    fn key_signed_with_decoded_secret_is_named() {
        let secret = STANDARD.encode("0123456789abcdef0123456789abcdef");
        let decoded = STANDARD.decode(&secret).unwrap_or_default();
        let claims = format!(r#"{{"role":"anon","iss":"supabase","exp":{}}}"#, NOW + 100);
        let t = hand_signed(r#"{"alg":"HS256","typ":"JWT"}"#, &claims, &decoded);
        assert_eq!(verify(&secret, &t, Role::Anon, NOW), Err(KeyProblem::SignedWithDecodedSecret));
    }

    #[test]
    fn each_wrong_key_is_reported_precisely() {
        let other = hand_signed(
            r#"{"alg":"HS256","typ":"JWT"}"#,
            &format!(r#"{{"role":"anon","exp":{}}}"#, NOW + 100),
            b"another-secret-another-secret-another",
        );
        assert_eq!(verify(SECRET, &other, Role::Anon, NOW), Err(KeyProblem::BadSignature));
        assert_eq!(
            verify(SECRET, &upstream("anon", NOW + 100), Role::ServiceRole, NOW),
            Err(KeyProblem::WrongRole { found: "anon".into(), expected: "service_role" })
        );
        assert_eq!(
            verify(SECRET, &upstream("anon", NOW - 1), Role::Anon, NOW),
            Err(KeyProblem::Expired(format_time(NOW - 1)))
        );
        let no_exp = hand_signed(r#"{"alg":"HS256"}"#, r#"{"role":"anon"}"#, SECRET.as_bytes());
        assert_eq!(verify(SECRET, &no_exp, Role::Anon, NOW), Err(KeyProblem::NoExpiry));
    }

    #[test]
    fn unsigned_and_asymmetric_and_garbage_keys_are_refused() {
        let none = format!(
            "{}.{}.",
            URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#),
            URL_SAFE_NO_PAD.encode(format!(r#"{{"role":"anon","exp":{}}}"#, NOW + 100))
        );
        assert_eq!(verify(SECRET, &none, Role::Anon, NOW), Err(KeyProblem::WrongAlgorithm("none".into())));
        let rs256 = hand_signed(r#"{"alg":"RS256","typ":"JWT"}"#, r#"{"role":"anon"}"#, SECRET.as_bytes());
        assert_eq!(verify(SECRET, &rs256, Role::Anon, NOW), Err(KeyProblem::WrongAlgorithm("RS256".into())));
        for garbage in ["", "abc", "a.b", "a.b.c.d", "!!!.###.$$$", "eyJhbGciOiJIUzI1NiJ9.bm90IGpzb24.x"] {
            let r = verify(SECRET, garbage, Role::Anon, NOW);
            assert!(matches!(r, Err(KeyProblem::Malformed(_))), "{garbage:?}: {r:?}");
        }
    }

    #[test]
    fn messages_never_contain_the_key_or_secret() {
        let t = upstream("anon", NOW - 1);
        for problem in [
            verify(SECRET, &t, Role::Anon, NOW),
            verify(SECRET, &t, Role::ServiceRole, NOW),
            verify("x".repeat(40).as_str(), &t, Role::Anon, NOW),
        ] {
            let msg = problem.err().map(|p| p.to_string()).unwrap_or_default();
            assert!(!msg.is_empty());
            assert!(!msg.contains(SECRET) && !msg.contains(&t), "{msg}");
        }
    }
}
