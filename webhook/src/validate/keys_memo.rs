//! The new keys' checks, remembered. Every review of a project checks the same signing
//! keys and internal JWTs again, and their elliptic-curve arithmetic (deriving each
//! public point from `d`, two signature verifications) costs several times all the
//! other rules of a review together. As in `verified`, entries are keyed by an HMAC of
//! their inputs under a per-process random key, only clock-free results are kept, and
//! what is kept holds no key material: problems (which name none), key ids, and the
//! public parts of the asymmetric keys. Bounded: when full, a map starts over.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex, PoisonError};

use crds::jwt::Role;
use crds::keys::internal_jwt::{self, TokenProblem, Verified};
use crds::keys::set::{self, Expect, PrivateSet, SetProblem};
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Distinct inputs kept per map: far more than the key sets of every project a webhook
/// sees between restarts.
const CAPACITY: usize = 1024;

type Digest = [u8; 32];

static KEY: LazyLock<[u8; 32]> = LazyLock::new(rand::random);

/// What the checks of a private set (and of its public set, when referenced) found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checked {
    /// Problems of the private set.
    pub problems: Vec<SetProblem>,
    /// Problems of the public set; `None` when none is referenced or the private set
    /// has problems of its keys.
    pub public: Option<Vec<SetProblem>>,
    /// The public parts of the sound asymmetric keys, to verify tokens with.
    pub verifying: PrivateSet,
    /// The signer's kid, when there is exactly one.
    pub signer: Option<String>,
    /// Whether the set holds an oct key.
    pub oct: bool,
}

struct Memo<V>(LazyLock<Mutex<HashMap<Digest, V>>>);

impl<V: Clone> Memo<V> {
    const fn new() -> Memo<V> {
        Memo(LazyLock::new(|| Mutex::new(HashMap::new())))
    }

    fn get_or(&self, key: Option<Digest>, compute: impl FnOnce() -> V) -> V {
        let Some(key) = key else { return compute() };
        if let Some(v) = self.0.lock().unwrap_or_else(PoisonError::into_inner).get(&key) {
            return v.clone();
        }
        let v = compute();
        let mut map = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if map.len() >= CAPACITY {
            map.clear();
        }
        map.insert(key, v.clone());
        v
    }
}

static SETS: Memo<Arc<Checked>> = Memo::new();
static TOKENS: Memo<Result<Verified, TokenProblem>> = Memo::new();

/// An HMAC over the parts, each length-prefixed (so no two inputs run together), with
/// `None` told apart from `Some("")`. `None` only means no memo.
fn digest(label: &str, parts: &[Option<&str>], extra: &[u8]) -> Option<Digest> {
    let mut mac = Hmac::<Sha256>::new_from_slice(&*KEY).ok()?;
    mac.update(label.as_bytes());
    for part in parts {
        match part {
            None => mac.update(&[0]),
            Some(p) => {
                mac.update(&[1]);
                mac.update(&(p.len() as u64).to_le_bytes());
                mac.update(p.as_bytes());
            }
        }
    }
    mac.update(extra);
    Some(mac.finalize().into_bytes().into())
}

/// Every check of a private set and, when given, its public set.
pub fn check(private: &str, expect: &Expect<'_>, public: Option<&str>) -> Arc<Checked> {
    let key = digest("sets", &[Some(private), expect.signer, expect.jwt_secret, public], b"");
    SETS.get_or(key, || {
        let (keys, problems) = set::check_private(private, expect);
        // Which key signs does not change what the keys verify.
        let sound = problems.iter().all(|p| {
            matches!(
                p.problem,
                set::Problem::SignerNotFound(_) | set::Problem::SignerSymmetric | set::Problem::SignerPublicOnly
            )
        });
        let public = public.filter(|_| sound).map(|text| set::check_public(&keys, text));
        Arc::new(Checked {
            problems,
            public,
            verifying: keys.verifying(),
            signer: keys.signer_kid(expect.signer),
            oct: keys.oct().is_some(),
        })
    })
}

/// [`internal_jwt::verify_signed`] against the set `private` was read into.
pub fn verify(private: &str, verifying: &PrivateSet, token: &str, role: Role) -> Result<Verified, TokenProblem> {
    let key = digest("token", &[Some(private), Some(token)], role.as_str().as_bytes());
    TOKENS.get_or(key, || internal_jwt::verify_signed(verifying, token, role))
}

#[cfg(test)]
mod tests {
    use super::*;

    const EC_A: &str = include_str!("../../../crds/src/keys/testdata/ec-a.json");

    fn private() -> String {
        let (private, _) = super::super::fixtures::new_key_sets(&[(EC_A, super::super::fixtures::KID, true)]);
        private
    }

    #[test]
    fn answers_match_the_unremembered_checks_whatever_was_seen_before() {
        let text = private();
        let secret = super::super::fixtures::SECRET;
        let other = "another-secret-of-at-least-32-characters";
        for _ in 0..2 {
            let (keys, problems) = set::check_private(&text, &Expect { signer: None, jwt_secret: Some(secret) });
            let checked = check(&text, &Expect { signer: None, jwt_secret: Some(secret) }, None);
            assert_eq!(checked.problems, problems);
            assert!(checked.problems.is_empty());
            assert_eq!(checked.verifying, keys.verifying());
            // Another secret is another entry, with its own answer.
            let wrong = check(&text, &Expect { signer: None, jwt_secret: Some(other) }, None);
            assert_eq!(wrong.problems.len(), 1);
        }
    }

    #[test]
    fn what_is_kept_holds_no_key_material() {
        let text = private();
        let checked = check(&text, &Expect { signer: None, jwt_secret: Some(super::super::fixtures::SECRET) }, None);
        let kept = format!("{checked:?} {}", serde_json::to_string(checked.verifying.keys()).unwrap_or_default());
        let d = serde_json::from_str::<serde_json::Value>(EC_A).unwrap()["d"].as_str().unwrap().to_string();
        assert!(!kept.contains(&d));
        assert!(checked.verifying.keys().iter().all(|k| !k.has_private_part() && k.k.is_none()));
        assert!(checked.oct && checked.signer.is_some());
    }

    #[test]
    fn token_answers_are_clock_free_and_per_token() {
        let text = private();
        let checked = check(&text, &Expect::default(), None);
        let tokens: serde_json::Value =
            serde_json::from_str(include_str!("../../../crds/src/keys/testdata/tokens.json")).unwrap();
        let anon = tokens["es256_anon_low_s"].as_str().unwrap();
        for _ in 0..2 {
            assert!(verify(&text, &checked.verifying, anon, Role::Anon).is_ok());
            assert!(verify(&text, &checked.verifying, anon, Role::ServiceRole).is_err());
        }
    }
}
