//! API key checks, remembered. Every review of a project checks the same two keys
//! against the same JWT secret, and decoding them and the HMAC were the costliest
//! rule. Only the clock-free part is remembered (`crds::jwt::verify_signed`); expiry
//! is checked on every review. Entries are keyed by an HMAC of the secret, the key and
//! the role under a per-process random key, so the map holds no Secret value and its
//! size does not depend on theirs. Bounded: when full, it starts over.

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex, PoisonError};

use crds::jwt::{self, Claims, KeyProblem, Role};
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Distinct (secret, key, role) checks kept: far more than the keys of every project a
/// webhook sees between restarts.
const CAPACITY: usize = 1024;

type Digest = [u8; 32];

static KEY: LazyLock<[u8; 32]> = LazyLock::new(rand::random);

static SEEN: LazyLock<Mutex<HashMap<Digest, Result<Claims, KeyProblem>>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

fn digest(secret: &str, token: &str, role: Role) -> Option<Digest> {
    // HMAC takes a key of any length; `None` is not expected, and only means no memo.
    let mut mac = Hmac::<Sha256>::new_from_slice(&*KEY).ok()?;
    // The secret's length first: no two (secret, key) pairs give the same input.
    mac.update(&(secret.len() as u64).to_le_bytes());
    mac.update(secret.as_bytes());
    mac.update(token.as_bytes());
    mac.update(role.as_str().as_bytes());
    Some(mac.finalize().into_bytes().into())
}

/// [`crds::jwt::verify`], remembering the clock-free part.
pub fn verify(secret: &str, token: &str, role: Role, now: i64) -> Result<Claims, KeyProblem> {
    let Some(key) = digest(secret, token, role) else { return jwt::verify(secret, token, role, now) };
    let known = SEEN.lock().unwrap_or_else(PoisonError::into_inner).get(&key).cloned();
    let signed = match known {
        Some(result) => result,
        None => {
            let result = jwt::verify_signed(secret, token, role);
            let mut seen = SEEN.lock().unwrap_or_else(PoisonError::into_inner);
            if seen.len() >= CAPACITY {
                seen.clear();
            }
            seen.insert(key, result.clone());
            result
        }
    };
    signed.and_then(|claims| jwt::unexpired(claims, now))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "a-jwt-secret-of-at-least-thirty-two-characters";
    const NOW: i64 = 1_700_000_000;

    #[test]
    fn answers_match_the_uncached_check_whatever_was_seen_before() {
        let token = jwt::sign(SECRET, Role::Anon, jwt::ISSUER, NOW, NOW + 1000).unwrap();
        let other = "another-jwt-secret-of-at-least-thirty-two-chars";
        // Each case twice: the second answer comes from what was remembered.
        for _ in 0..2 {
            assert_eq!(verify(SECRET, &token, Role::Anon, NOW), jwt::verify(SECRET, &token, Role::Anon, NOW));
            assert!(verify(SECRET, &token, Role::Anon, NOW).is_ok());
            assert_eq!(verify(other, &token, Role::Anon, NOW), Err(KeyProblem::BadSignature));
            assert!(matches!(verify(SECRET, &token, Role::ServiceRole, NOW), Err(KeyProblem::WrongRole { .. })));
        }
        // Remembered as valid, but the clock is read on every check.
        assert!(matches!(verify(SECRET, &token, Role::Anon, NOW + 1000), Err(KeyProblem::Expired(_))));
    }
}
