//! The private signing key set (`JWT_KEYS`, what Auth reads as `GOTRUE_JWT_KEYS`) and
//! the public set (`JWT_JWKS`): parsing, and every check admission makes of them.
//!
//! Shapes (supabase/supabase `docker/utils/add-new-auth-keys.sh`
//! @ 12b126dc86a5949262fed769510e08197b9c27b9): the private set is a JSON **array** of
//! JWKs (`JSON.stringify(jwksKeypair.keys)`); the public set a JSON **object**
//! `{"keys": [...]}` (`JSON.stringify(jwksPublic)`). Auth's rules (supabase/auth
//! `internal/conf/jwk.go` @ 203bc7a4ac45f928a2a39adb4ab266ed468281e3): `Decode` reads
//! an array and keys it by `kid` (so two keys with one kid, or two without, replace each
//! other silently); `Validate` wants exactly one key whose `key_ops` holds `sign`.

use std::collections::BTreeMap;

use rsa::traits::PrivateKeyParts;
use serde_json::Value;

use super::jwk::{self, Jwk, ShapeProblem, kind_of};
use super::{b64, unb64};

/// Smallest RSA modulus accepted, in bits (NIST SP 800-131A: 2048).
pub const MIN_RSA_BITS: usize = 2048;

/// Where in a set a problem is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct At {
    /// Position in the set's key list, from 0.
    pub index: usize,
    /// The key's `kid`, when it has one.
    pub kid: Option<String>,
}

/// What is wrong. Names members, key ids and algorithms, never key material.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    /// Not JSON at all.
    #[error("is not JSON ({category} at line {line} column {column})")]
    NotJson {
        /// serde_json's category of the error.
        category: &'static str,
        /// Line of the error.
        line: usize,
        /// Column of the error.
        column: usize,
    },
    /// A private set that is not an array.
    #[error(
        "is {0}; the private set is a JSON array of JWKs, as Auth reads GOTRUE_JWT_KEYS \
         (the {{\"keys\": [...]}} object is the public set's shape)"
    )]
    NotAnArray(&'static str),
    /// A public set that is not `{"keys": [...]}`.
    #[error("is {0}; the public set is a JSON object {{\"keys\": [...]}} (Realtime refuses an array)")]
    NotAKeySet(&'static str),
    /// No keys.
    #[error("holds no keys")]
    Empty,
    /// A list member that is not a JWK.
    #[error("{0}")]
    Shape(ShapeProblem),
    /// A `kty` other than EC, RSA and oct.
    #[error("has kty {0:?}; only EC (ES256), RSA (RS256) and oct (HS256) keys are supported")]
    Kty(String),
    /// A wrong or missing `alg`.
    #[error("has {}, must be {expected} for a {kty} key{}", .found.as_ref().map(|a| format!("alg {a:?}")).unwrap_or_else(|| "no alg".into()), if .found.is_none() { " (Auth derives the algorithms it accepts from each key's alg)" } else { "" })]
    Alg {
        /// The key type.
        kty: String,
        /// The `alg` found.
        found: Option<String>,
        /// The `alg` required.
        expected: &'static str,
    },
    /// `use` other than `sig`.
    #[error("has use {0:?}, must be \"sig\"")]
    Use(String),
    /// An EC key on another curve.
    #[error("is on curve {0:?}, must be \"P-256\" (ES256)")]
    Curve(String),
    /// A required member is missing.
    #[error("has no {0:?}")]
    Missing(&'static str),
    /// A member that is not base64url of the right length.
    #[error("member {0:?} is not base64url of the length its key type needs")]
    Encoding(&'static str),
    /// `x`/`y` not a point on P-256.
    #[error("x and y are not a point on P-256")]
    NotOnCurve,
    /// `d` of another key pair.
    #[error("d does not belong to x and y (the private part is of another key pair)")]
    PrivateMismatch,
    /// n/e/d (and primes) not one RSA key pair.
    #[error("n, e and d are not one RSA key pair ({0})")]
    RsaMismatch(String),
    /// dp/dq/qi not those of the key's primes.
    #[error("{0} does not match the key's primes")]
    RsaCrt(&'static str),
    /// A short RSA modulus.
    #[error("has a {0}-bit modulus, must be at least {MIN_RSA_BITS} bits")]
    RsaSmall(usize),
    /// An asymmetric key without `kid`.
    #[error("has no kid; Auth and the services find an asymmetric key by the kid in a token's header")]
    NoKid,
    /// A `kid` used twice.
    #[error("repeats the kid of key {0}; Auth keys the set by kid, so one would silently replace the other")]
    DuplicateKid(usize),
    /// Two keys without `kid`.
    #[error("has no kid, nor has key {0}; Auth keys the set by kid, so one would silently replace the other")]
    DuplicateNoKid(usize),
    /// No key marked to sign, and none named.
    #[error("no key has \"sign\" in key_ops and spec.jwt.signingKeyId names none; Auth needs exactly one signing key")]
    NoSigner,
    /// Several keys marked to sign, and none named.
    #[error(
        "keys {0:?} all have \"sign\" in key_ops; Auth accepts exactly one: name the signer in spec.jwt.signingKeyId"
    )]
    ManySigners(Vec<String>),
    /// The named signer is not in the set.
    #[error("no key in the set has kid {0:?}")]
    SignerNotFound(String),
    /// The signer is the oct key.
    #[error("is the oct (HS256) key; the signing key must be an EC (ES256) or RSA (RS256) key")]
    SignerSymmetric,
    /// The signer has no private part.
    #[error("is the signing key but has no private part (d), so it cannot sign")]
    SignerPublicOnly,
    /// The oct key is not the project's JWT secret.
    #[error("the oct key is not the project's JWT secret (k must be base64url of the secret's raw bytes){}", if *.0 { "; it holds the base64-decoded secret, but Supabase uses the secret string's raw bytes" } else { "" })]
    OctMismatch(bool),
    /// A public set with private members.
    #[error("holds private members {0:?}; the public set goes to every service")]
    PrivateInPublic(Vec<&'static str>),
    /// A key of the private set missing from the public set.
    #[error("{0} of the private set is not in the public set")]
    MissingFromPublic(String),
    /// A public key that is not in the private set.
    #[error("is not in the private set")]
    NotInPrivate,
    /// A public key that differs from the private set's key of the same id.
    #[error("differs from the private set's key of the same kid")]
    DiffersFromPrivate,
}

/// One problem, and where it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SetProblem {
    /// The key it concerns; `None` for the set as a whole.
    pub at: Option<At>,
    /// What is wrong.
    pub problem: Problem,
}

impl std::fmt::Display for SetProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.at {
            None => write!(f, "{}", self.problem),
            Some(At { index, kid: None }) => write!(f, "key {index}: {}", self.problem),
            Some(At { index, kid: Some(kid) }) => write!(f, "key {index} (kid {kid:?}): {}", self.problem),
        }
    }
}

fn whole(problem: Problem) -> SetProblem {
    SetProblem { at: None, problem }
}

fn at(index: usize, key: &Jwk, problem: Problem) -> SetProblem {
    SetProblem { at: Some(At { index, kid: key.kid.clone() }), problem }
}

/// What the checks compare a private set with.
#[derive(Clone, Copy, Debug, Default)]
pub struct Expect<'a> {
    /// `spec.jwt.signingKeyId`, when set.
    pub signer: Option<&'a str>,
    /// The project's JWT secret, when known: every oct key must be it.
    pub jwt_secret: Option<&'a str>,
}

/// A private key set: the keys that passed their own checks, in order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PrivateSet {
    keys: Vec<Jwk>,
}

impl PrivateSet {
    /// A set of these keys (for generation; no checks).
    pub fn from_keys(keys: Vec<Jwk>) -> PrivateSet {
        PrivateSet { keys }
    }

    /// The keys.
    pub fn keys(&self) -> &[Jwk] {
        &self.keys
    }

    /// The asymmetric key with this id.
    pub fn find(&self, kid: &str) -> Option<&Jwk> {
        self.keys.iter().find(|k| k.is_asymmetric() && k.kid.as_deref() == Some(kid))
    }

    /// The ids of the asymmetric keys, in order.
    pub fn kids(&self) -> Vec<&str> {
        self.keys.iter().filter(|k| k.is_asymmetric()).filter_map(|k| k.kid.as_deref()).collect()
    }

    /// The oct key, if any.
    pub fn oct(&self) -> Option<&Jwk> {
        self.keys.iter().find(|k| k.is_oct())
    }

    /// The key that signs: the one named, else the one whose `key_ops` has `sign`.
    pub fn signer(&self, named: Option<&str>) -> Option<&Jwk> {
        match named {
            Some(kid) => self.find(kid),
            None => {
                let mut signers = self.keys.iter().filter(|k| k.signs());
                match (signers.next(), signers.next()) {
                    (Some(one), None) => Some(one),
                    _ => None,
                }
            }
        }
    }

    /// The `kid` of the key that signs (see [`PrivateSet::signer`]).
    pub fn signer_kid(&self, named: Option<&str>) -> Option<String> {
        self.signer(named).and_then(|k| k.kid.clone())
    }

    /// The public parts of the asymmetric keys: all that verifying a token needs, and
    /// nothing secret (no private part, no oct key), so it may be kept.
    pub fn verifying(&self) -> PrivateSet {
        PrivateSet { keys: self.keys.iter().filter(|k| k.is_asymmetric()).map(Jwk::public_part).collect() }
    }

    /// The private set as JSON text (an array), as `GOTRUE_JWT_KEYS` takes it.
    pub fn to_json(&self) -> String {
        serde_json::to_string(&self.keys).unwrap_or_else(|_| "[]".into())
    }

    /// The public set as JSON text (`{"keys": [...]}`), as `JWT_JWKS` holds it: each
    /// key's public part, the oct key as it is.
    pub fn public_json(&self) -> String {
        #[derive(serde::Serialize)]
        struct Set {
            keys: Vec<Jwk>,
        }
        let set = Set { keys: self.keys.iter().map(Jwk::public_part).collect() };
        serde_json::to_string(&set).unwrap_or_else(|_| r#"{"keys":[]}"#.into())
    }
}

fn category(e: &serde_json::Error) -> &'static str {
    // serde's own message may quote input (key material), so only the category is shown.
    match e.classify() {
        serde_json::error::Category::Io => "I/O error",
        serde_json::error::Category::Syntax => "syntax error",
        serde_json::error::Category::Data => "wrong type",
        serde_json::error::Category::Eof => "truncated",
    }
}

fn parse(text: &str) -> Result<Value, SetProblem> {
    serde_json::from_str(text)
        .map_err(|e| whole(Problem::NotJson { category: category(&e), line: e.line(), column: e.column() }))
}

fn bytes(value: Option<&String>, field: &'static str, len: Option<usize>) -> Result<Vec<u8>, Problem> {
    let value = value.ok_or(Problem::Missing(field))?;
    match unb64(value) {
        Some(b) if !b.is_empty() && len.is_none_or(|l| b.len() == l) => Ok(b),
        _ => Err(Problem::Encoding(field)),
    }
}

fn alg(key: &Jwk, expected: &'static str) -> Option<Problem> {
    (key.alg.as_deref() != Some(expected)).then(|| Problem::Alg {
        kty: key.kty.clone(),
        found: key.alg.clone(),
        expected,
    })
}

/// The checks of one EC key: ES256 on P-256, a point on the curve, `d` of that point.
fn ec(key: &Jwk) -> Vec<Problem> {
    let mut problems: Vec<Problem> = alg(key, "ES256").into_iter().collect();
    match key.crv.as_deref() {
        Some("P-256") => {}
        Some(other) => return [problems, vec![Problem::Curve(other.into())]].concat(),
        None => return [problems, vec![Problem::Missing("crv")]].concat(),
    }
    let (x, y) = match (bytes(key.x.as_ref(), "x", Some(32)), bytes(key.y.as_ref(), "y", Some(32))) {
        (Ok(x), Ok(y)) => (x, y),
        (x, y) => {
            problems.extend([x.err(), y.err()].into_iter().flatten());
            return problems;
        }
    };
    // SEC1 uncompressed: 0x04, x, y. Parsing checks the point is on the curve.
    let sec1 = [&[0x04u8][..], &x, &y].concat();
    let Ok(public) = p256::PublicKey::from_sec1_bytes(&sec1) else {
        problems.push(Problem::NotOnCurve);
        return problems;
    };
    if key.d.is_some() {
        match jwk::ec_secret(key) {
            None => problems.push(Problem::Encoding("d")),
            Some(secret) if secret.public_key() != public => problems.push(Problem::PrivateMismatch),
            Some(_) => {}
        }
    }
    problems
}

fn big(value: Option<&String>, field: &'static str) -> Result<rsa::BigUint, Problem> {
    bytes(value, field, None).map(|b| rsa::BigUint::from_bytes_be(&b))
}

/// The checks of one RSA key: RS256, a sound public key of at least 2048 bits, and
/// `d` (with the primes and CRT values when given) of that key.
fn rsa_key(key: &Jwk) -> Vec<Problem> {
    let mut problems: Vec<Problem> = alg(key, "RS256").into_iter().collect();
    let (n, e) = match (big(key.n.as_ref(), "n"), big(key.e.as_ref(), "e")) {
        (Ok(n), Ok(e)) => (n, e),
        (n, e) => {
            problems.extend([n.err(), e.err()].into_iter().flatten());
            return problems;
        }
    };
    if let Err(err) = rsa::RsaPublicKey::new(n.clone(), e.clone()) {
        problems.push(Problem::RsaMismatch(err.to_string()));
        return problems;
    }
    if n.bits() < MIN_RSA_BITS {
        problems.push(Problem::RsaSmall(n.bits()));
    }
    if key.d.is_none() {
        // Primes or CRT values without the private exponent.
        if key.has_private_part() {
            problems.push(Problem::Missing("d"));
        }
        return problems;
    }
    let d = match big(key.d.as_ref(), "d") {
        Ok(d) => d,
        Err(p) => {
            problems.push(p);
            return problems;
        }
    };
    let primes = match (key.p.is_some(), key.q.is_some()) {
        (false, false) => Vec::new(),
        _ => match (big(key.p.as_ref(), "p"), big(key.q.as_ref(), "q")) {
            (Ok(p), Ok(q)) => vec![p, q],
            (p, q) => {
                problems.extend([p.err(), q.err()].into_iter().flatten());
                return problems;
            }
        },
    };
    let given_primes = !primes.is_empty();
    let private = match rsa::RsaPrivateKey::from_components(n, e, d, primes) {
        Ok(k) => k,
        Err(err) => {
            problems.push(Problem::RsaMismatch(err.to_string()));
            return problems;
        }
    };
    if given_primes {
        let crt = [
            ("dp", key.dp.as_ref(), private.dp().cloned()),
            ("dq", key.dq.as_ref(), private.dq().cloned()),
            ("qi", key.qi.as_ref(), private.crt_coefficient()),
        ];
        for (field, given, computed) in crt {
            if let Some(given) = given
                && big(Some(given), field).ok() != computed
            {
                problems.push(Problem::RsaCrt(field));
            }
        }
    }
    problems
}

/// The checks of one key on its own.
fn key_problems(key: &Jwk) -> Vec<Problem> {
    let mut problems = match key.kty.as_str() {
        "EC" => ec(key),
        "RSA" => rsa_key(key),
        "oct" => {
            let mut p: Vec<Problem> = alg(key, "HS256").into_iter().collect();
            if let Err(e) = bytes(key.k.as_ref(), "k", None) {
                p.push(e);
            }
            p
        }
        other => return vec![Problem::Kty(other.to_string())],
    };
    if key.is_asymmetric() && key.kid.as_deref().is_none_or(str::is_empty) {
        problems.push(Problem::NoKid);
    }
    if let Some(u) = key.use_.as_deref().filter(|u| *u != "sig") {
        problems.push(Problem::Use(u.to_string()));
    }
    problems
}

/// Reads the list of a set; `None` after reporting when there is none.
fn list<'v>(value: &'v Value, private: bool, problems: &mut Vec<SetProblem>) -> Option<&'v Vec<Value>> {
    let keys = match (private, value) {
        (true, Value::Array(keys)) => keys,
        (true, Value::Object(m)) if m.contains_key("keys") => {
            problems.push(whole(Problem::NotAnArray("an object {\"keys\": [...]}")));
            return None;
        }
        (true, other) => {
            problems.push(whole(Problem::NotAnArray(kind_of(other))));
            return None;
        }
        (false, Value::Object(m)) => match m.get("keys") {
            Some(Value::Array(keys)) => keys,
            Some(other) => {
                problems.push(whole(Problem::NotAKeySet(match other {
                    Value::Array(_) => "an array",
                    _ => "an object whose \"keys\" is not an array",
                })));
                return None;
            }
            None => {
                problems.push(whole(Problem::NotAKeySet("an object without \"keys\"")));
                return None;
            }
        },
        (false, other) => {
            problems.push(whole(Problem::NotAKeySet(kind_of(other))));
            return None;
        }
    };
    if keys.is_empty() {
        problems.push(whole(Problem::Empty));
        return None;
    }
    Some(keys)
}

/// Checks a private set, naming every problem: each key on its own, key ids, the
/// signer, and the oct key against the project's JWT secret. Returns the keys that
/// passed their own checks (the signer and oct rules do not remove keys).
pub fn check_private(text: &str, expect: &Expect<'_>) -> (PrivateSet, Vec<SetProblem>) {
    let mut problems = Vec::new();
    let value = match parse(text) {
        Ok(v) => v,
        Err(p) => return (PrivateSet::default(), vec![p]),
    };
    let Some(list) = list(&value, true, &mut problems) else { return (PrivateSet::default(), problems) };
    let mut read: Vec<(usize, Jwk, bool)> = Vec::new();
    for (index, item) in list.iter().enumerate() {
        match Jwk::from_value(item) {
            Err(shape) => {
                problems.push(SetProblem { at: Some(At { index, kid: None }), problem: Problem::Shape(shape) })
            }
            Ok(key) => {
                let own = key_problems(&key);
                let sound = own.is_empty();
                problems.extend(own.into_iter().map(|p| at(index, &key, p)));
                read.push((index, key, sound));
            }
        }
    }
    // Key ids, as Auth's map of keys by kid sees them ("" for none).
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    for (index, key, _) in &read {
        let id = key.kid.as_deref().unwrap_or("");
        match seen.get(id) {
            Some(first) if id.is_empty() => problems.push(at(*index, key, Problem::DuplicateNoKid(*first))),
            Some(first) => problems.push(at(*index, key, Problem::DuplicateKid(*first))),
            None => {
                seen.insert(id, *index);
            }
        }
    }
    // A member that is no JWK at all may be the signer: looking for one among the
    // others would only add a misleading second problem.
    if read.len() == list.len() {
        signer_problems(&read, expect.signer, &mut problems);
    }
    if let Some(secret) = expect.jwt_secret {
        let want = b64(secret.as_bytes());
        for (index, key, _) in read.iter().filter(|(_, k, _)| k.is_oct()) {
            if key.k.as_deref() != Some(want.as_str()) {
                problems.push(at(*index, key, Problem::OctMismatch(holds_decoded(key, secret))));
            }
        }
    }
    let keys = read.into_iter().filter(|(_, _, sound)| *sound).map(|(_, k, _)| k).collect();
    (PrivateSet { keys }, problems)
}

/// Whether an oct key holds the base64 decoding of the secret instead of its bytes:
/// the mistake the legacy keys invite too.
fn holds_decoded(key: &Jwk, secret: &str) -> bool {
    use base64::Engine;
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    let Some(k) = key.k.as_deref().and_then(unb64) else { return false };
    [STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD]
        .iter()
        .filter_map(|e| e.decode(secret.trim()).ok())
        .any(|d| !d.is_empty() && d == k)
}

fn signer_problems(read: &[(usize, Jwk, bool)], named: Option<&str>, problems: &mut Vec<SetProblem>) {
    let chosen = match named {
        Some(kid) => match read.iter().find(|(_, k, _)| k.kid.as_deref() == Some(kid)) {
            Some(found) => found,
            None => {
                problems.push(whole(Problem::SignerNotFound(kid.to_string())));
                return;
            }
        },
        None => {
            let signers: Vec<&(usize, Jwk, bool)> = read.iter().filter(|(_, k, _)| k.signs()).collect();
            match signers.as_slice() {
                [] => {
                    problems.push(whole(Problem::NoSigner));
                    return;
                }
                [one] => *one,
                many => {
                    let kids =
                        many.iter().map(|(i, k, _)| k.kid.clone().unwrap_or_else(|| format!("key {i}"))).collect();
                    problems.push(whole(Problem::ManySigners(kids)));
                    return;
                }
            }
        }
    };
    let (index, key, _) = chosen;
    if !key.is_asymmetric() {
        problems.push(at(*index, key, Problem::SignerSymmetric));
    } else if key.d.is_none() {
        problems.push(at(*index, key, Problem::SignerPublicOnly));
    }
}

/// Checks a public set against a (checked) private set: the same keys, each the
/// private key's public part, and nothing private.
pub fn check_public(private: &PrivateSet, text: &str) -> Vec<SetProblem> {
    let mut problems = Vec::new();
    let value = match parse(text) {
        Ok(v) => v,
        Err(p) => return vec![p],
    };
    let Some(list) = list(&value, false, &mut problems) else { return problems };
    let mut matched = vec![false; private.keys.len()];
    for (index, item) in list.iter().enumerate() {
        let key = match Jwk::from_value(item) {
            Ok(k) => k,
            Err(shape) => {
                problems.push(SetProblem { at: Some(At { index, kid: None }), problem: Problem::Shape(shape) });
                continue;
            }
        };
        let private_members: Vec<&'static str> = key.private_members().collect();
        if !private_members.is_empty() && key.is_asymmetric() {
            problems.push(at(index, &key, Problem::PrivateInPublic(private_members)));
        }
        let counterpart = private.keys.iter().position(|p| p.kty == key.kty && p.kid == key.kid);
        match counterpart {
            None => problems.push(at(index, &key, Problem::NotInPrivate)),
            Some(i) => {
                matched[i] = true;
                if !private.keys[i].public_part().same_key(&key) {
                    problems.push(at(index, &key, Problem::DiffersFromPrivate));
                }
            }
        }
    }
    for (key, found) in private.keys.iter().zip(matched) {
        if !found {
            let name = match &key.kid {
                Some(kid) => format!("key {kid:?}"),
                None => format!("the {} key", key.kty),
            };
            problems.push(whole(Problem::MissingFromPublic(name)));
        }
    }
    problems
}

#[cfg(test)]
#[path = "set_tests.rs"]
mod tests;
