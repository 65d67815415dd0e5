//! The internal JWTs the gateway puts in place of an opaque API key: ES256, header
//! `{"alg":"ES256","typ":"JWT","kid":<the signing key's kid>}`, claims
//! `{"role":"anon"|"service_role","iss":"supabase","iat":…,"exp":iat + 5 years}`, and
//! the signature in JWS form (raw `r||s`, not DER) (`signES256` in supabase/supabase
//! `docker/utils/add-new-auth-keys.sh` @ 12b126dc86a5949262fed769510e08197b9c27b9).
//! Upstream's docs call them "internal, gateway-level-only pre-signed JWTs".
//!
//! Verification finds the key by the header's `kid`, as Auth does (supabase/auth
//! `internal/conf/jwk.go` @ 203bc7a4ac45f928a2a39adb4ab266ed468281e3,
//! `FindPublicKeyByKid`).

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey};
use p256::pkcs8::EncodePrivateKey;
use rsa::pkcs1::EncodeRsaPrivateKey;
use serde::{Deserialize, Serialize};

use super::jwk::{self, Jwk};
use super::set::PrivateSet;
use super::{b64, unb64};
use crate::Error;
use crate::jwt::{self, Claims, KeyProblem, Role};

/// Lifetime of an internal JWT, as upstream's generator gives it: five years of 365 days.
pub const LIFETIME_SECONDS: i64 = 5 * 365 * 24 * 3600;

/// Why an internal JWT does not verify against a set. Never quotes the token.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TokenProblem {
    /// Malformed, wrong role, no or past expiry: as for the legacy keys.
    #[error(transparent)]
    Jwt(#[from] KeyProblem),
    /// An algorithm other than ES256/RS256.
    #[error("is signed with {0}, must be ES256 or RS256 (a key of the signing keys)")]
    Alg(String),
    /// No `kid` in the header.
    #[error("has no kid in its header, so no key of the set verifies it")]
    NoKid,
    /// A `kid` the set does not hold.
    #[error("names kid {0:?}, which is not an EC or RSA key of the signing keys")]
    UnknownKid(String),
    /// Header `alg` and the key's `alg` differ.
    #[error("is signed with {alg} but key {kid:?} is {key_alg}")]
    AlgMismatch {
        /// The token's algorithm.
        alg: String,
        /// The key id.
        kid: String,
        /// The key's algorithm.
        key_alg: String,
    },
    /// The signature does not verify with the key named.
    #[error("signature does not verify with key {0:?}")]
    BadSignature(String),
}

/// What a verified internal JWT says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verified {
    /// The key that verified it.
    pub kid: String,
    /// Its claims.
    pub claims: Claims,
}

#[derive(Serialize)]
struct Header<'a> {
    alg: &'a str,
    typ: &'a str,
    kid: &'a str,
}

fn der(key: &Jwk) -> Result<(Algorithm, EncodingKey), Error> {
    let unusable = || Error::Keys("the signing key has no usable private part".into());
    match key.kty.as_str() {
        "EC" => {
            let secret = jwk::ec_secret(key).ok_or_else(unusable)?;
            let der = secret.to_pkcs8_der().map_err(|_| unusable())?;
            Ok((Algorithm::ES256, EncodingKey::from_ec_der(der.as_bytes())))
        }
        "RSA" => {
            let int = |v: &Option<String>| v.as_deref().and_then(unb64).map(|b| rsa::BigUint::from_bytes_be(&b));
            let (Some(n), Some(e), Some(d)) = (int(&key.n), int(&key.e), int(&key.d)) else { return Err(unusable()) };
            let primes = [int(&key.p), int(&key.q)].into_iter().flatten().collect();
            let private = rsa::RsaPrivateKey::from_components(n, e, d, primes).map_err(|_| unusable())?;
            let der = private.to_pkcs1_der().map_err(|_| unusable())?;
            Ok((Algorithm::RS256, EncodingKey::from_rsa_der(der.as_bytes())))
        }
        _ => Err(Error::Keys("the signing key must be an EC or RSA key".into())),
    }
}

/// Signs an internal JWT for `role` with `key` (an EC or RSA JWK with its private
/// part and a `kid`), issued at `iat`, expiring at `exp`.
pub fn sign(key: &Jwk, role: Role, iat: i64, exp: i64) -> Result<String, Error> {
    let kid = key.kid.as_deref().ok_or_else(|| Error::Keys("the signing key has no kid".into()))?;
    let (alg, encoding) = der(key)?;
    let alg_name = if alg == Algorithm::ES256 { "ES256" } else { "RS256" };
    // Header members in upstream's order; jsonwebtoken's own header writes `typ` first.
    let header = serde_json::to_vec(&Header { alg: alg_name, typ: "JWT", kid })?;
    let claims = Claims { role: role.as_str().into(), iss: Some(jwt::ISSUER.into()), iat: Some(iat), exp: Some(exp) };
    let message = format!("{}.{}", b64(&header), b64(&serde_json::to_vec(&claims)?));
    let signature = jsonwebtoken::crypto::sign(message.as_bytes(), &encoding, alg)?;
    Ok(format!("{message}.{signature}"))
}

#[derive(Deserialize)]
struct ReadHeader {
    alg: String,
    #[serde(default)]
    kid: Option<String>,
}

fn header(token: &str) -> Result<ReadHeader, KeyProblem> {
    let part = token.split('.').next().unwrap_or_default();
    let bytes =
        unb64(part.trim_end_matches('=')).ok_or_else(|| KeyProblem::Malformed("header is not base64url".into()))?;
    serde_json::from_slice(&bytes).map_err(|_| KeyProblem::Malformed("header is not a JSON object with alg".into()))
}

fn decoding(key: &Jwk) -> Option<DecodingKey> {
    match key.kty.as_str() {
        "EC" => DecodingKey::from_ec_components(key.x.as_deref()?, key.y.as_deref()?).ok(),
        "RSA" => DecodingKey::from_rsa_components(key.n.as_deref()?, key.e.as_deref()?).ok(),
        _ => None,
    }
}

/// Checks an internal JWT against a set: the key its `kid` names, that key's
/// algorithm, the signature, the role, and the clock.
pub fn verify(set: &PrivateSet, token: &str, role: Role, now: i64) -> Result<Verified, TokenProblem> {
    let verified = verify_signed(set, token, role)?;
    Ok(Verified { claims: jwt::unexpired(verified.claims, now)?, ..verified })
}

/// The part of [`verify`] that does not depend on the clock: the same set, token and
/// role always give the same answer, so a caller may remember it. Only the public
/// parts of the set's keys are used.
pub fn verify_signed(set: &PrivateSet, token: &str, role: Role) -> Result<Verified, TokenProblem> {
    let claims = jwt::peek(token)?; // also checks the three parts
    let header = header(token)?;
    let alg = match header.alg.as_str() {
        "ES256" => Algorithm::ES256,
        "RS256" => Algorithm::RS256,
        other => return Err(TokenProblem::Alg(other.to_string())),
    };
    let kid = header.kid.ok_or(TokenProblem::NoKid)?;
    let key = set.find(&kid).ok_or_else(|| TokenProblem::UnknownKid(kid.clone()))?;
    if key.alg.as_deref() != Some(header.alg.as_str()) {
        return Err(TokenProblem::AlgMismatch { alg: header.alg, kid, key_alg: key.alg.clone().unwrap_or_default() });
    }
    let verifies = match (token.rsplit_once('.'), decoding(key)) {
        (Some((message, signature)), Some(decoding)) => {
            matches!(jsonwebtoken::crypto::verify(signature, message.as_bytes(), &decoding, alg), Ok(true))
        }
        _ => false,
    };
    if !verifies {
        return Err(TokenProblem::BadSignature(kid));
    }
    if claims.role != role.as_str() {
        return Err(KeyProblem::WrongRole { found: claims.role, expected: role.as_str() }.into());
    }
    Ok(Verified { kid, claims })
}

#[cfg(test)]
#[path = "internal_jwt_tests.rs"]
mod tests;
