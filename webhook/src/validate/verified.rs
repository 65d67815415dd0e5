//! API key checks, remembered. Every review of a project checks the same two keys
//! against the same JWT secret, and decoding them and the HMAC were the costliest
//! rule. Only the clock-free part is remembered (`crds::jwt::verify_signed`); expiry
//! is checked on every review. Bounded: when full, it starts over.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::{LazyLock, Mutex, PoisonError};

use crds::jwt::{self, Claims, KeyProblem, Role};

/// Distinct (secret, key) pairs kept: far more than the keys of every project a
/// webhook sees between restarts.
const CAPACITY: usize = 1024;

struct Seen {
    secret: String,
    token: String,
    role: Role,
    result: Result<Claims, KeyProblem>,
}

/// Keyed by a hash with a per-process random key; a hit is confirmed against the
/// strings themselves.
static SEEN: LazyLock<(RandomState, Mutex<HashMap<u64, Seen>>)> =
    LazyLock::new(|| (RandomState::new(), Mutex::new(HashMap::new())));

/// [`crds::jwt::verify`], remembering the clock-free part.
pub fn verify(secret: &str, token: &str, role: Role, now: i64) -> Result<Claims, KeyProblem> {
    let (hasher, seen) = &*SEEN;
    let hash = hasher.hash_one((secret, token, role));
    let known = {
        let seen = seen.lock().unwrap_or_else(PoisonError::into_inner);
        seen.get(&hash).filter(|s| s.role == role && s.token == token && s.secret == secret).map(|s| s.result.clone())
    };
    let signed = match known {
        Some(result) => result,
        None => {
            let result = jwt::verify_signed(secret, token, role);
            let mut seen = seen.lock().unwrap_or_else(PoisonError::into_inner);
            if seen.len() >= CAPACITY {
                seen.clear();
            }
            let entry = Seen { secret: secret.into(), token: token.into(), role, result: result.clone() };
            seen.insert(hash, entry);
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
