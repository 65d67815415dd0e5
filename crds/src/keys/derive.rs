//! What the operator derives from a project's signing keys for the components: the
//! private set as Auth reads it, the public set the others verify with, and whether an
//! internal JWT is still the one the signer would issue. Pure functions; the reconciler
//! writes their results into the generated Secret.

use super::internal_jwt;
use super::jwk::{self, OPS_SIGN_VERIFY, OPS_VERIFY};
use super::set::PrivateSet;
use crate::jwt::Role;

fn ops(list: &[&str]) -> Option<Vec<String>> {
    Some(list.iter().map(|s| s.to_string()).collect())
}

/// The set as Auth's `GOTRUE_JWT_KEYS` must hold it: Auth signs with the one key whose
/// `key_ops` has `sign` and refuses a set with none or two (supabase/auth
/// `internal/conf/jwk.go` @ v2.196.0 0204331ca41a5b49f076b6fa3dc6c0d20b996590,
/// `Validate` and `GetSigningJwk`). So the signer (`signingKeyId`, else the one key
/// marked) gets `["sign","verify"]` and every other asymmetric key `["verify"]`; the oct
/// key stays as it is (it has no `key_ops`). `None` when the set names no signer.
pub fn for_auth(set: &PrivateSet, signing_key_id: Option<&str>) -> Option<PrivateSet> {
    let signer = set.signer_kid(signing_key_id)?;
    let keys = set
        .keys()
        .iter()
        .map(|k| {
            let mut k = k.clone();
            if k.is_asymmetric() {
                let signs = k.kid.as_deref() == Some(signer.as_str());
                k.key_ops = ops(if signs { &OPS_SIGN_VERIFY } else { &OPS_VERIFY });
            }
            k
        })
        .collect();
    Some(PrivateSet::from_keys(keys))
}

/// The public set the components verify with (`JWT_JWKS`): the public part of every key
/// and the legacy secret as an oct key, which upstream's generator always puts in it
/// (supabase/supabase `docker/utils/add-new-auth-keys.sh`
/// @ 12b126dc86a5949262fed769510e08197b9c27b9), so the legacy anon and service keys
/// keep verifying where the JWKS replaces the secret (PostgREST's `PGRST_JWT_SECRET`).
/// A set without an oct key gets the project's.
pub fn public_set(set: &PrivateSet, jwt_secret: &str) -> String {
    if set.oct().is_some() {
        return set.public_json();
    }
    let mut keys = set.keys().to_vec();
    keys.push(jwk::oct(jwt_secret));
    PrivateSet::from_keys(keys).public_json()
}

/// Whether `token` is an internal JWT for `role` that the signer of `set` issued and
/// that is valid at `now`: otherwise the operator signs a new one (after a rotation the
/// gateway must send tokens of the new signer before the old key leaves the set).
pub fn internal_jwt_current(set: &PrivateSet, signing_key_id: Option<&str>, token: &str, role: Role, now: i64) -> bool {
    let Some(signer) = set.signer_kid(signing_key_id) else { return false };
    internal_jwt::verify(set, token, role, now).is_ok_and(|v| v.kid == signer)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::generate;
    use crate::keys::set::{Expect, check_private};

    const SECRET: &str = "a-jwt-secret-of-at-least-32-characters!!";
    const NOW: i64 = 1_800_000_000;

    fn two_keys() -> (PrivateSet, String, String) {
        let (a, b) = (jwk::generate_ec(), jwk::generate_ec());
        let (ka, kb) = (a.kid.clone().unwrap_or_default(), b.kid.clone().unwrap_or_default());
        (PrivateSet::from_keys(vec![a, b, jwk::oct(SECRET)]), ka, kb)
    }

    fn signing(set: &PrivateSet) -> Vec<String> {
        set.keys().iter().filter(|k| k.signs()).filter_map(|k| k.kid.clone()).collect()
    }

    #[test]
    fn auth_gets_exactly_one_signing_key_the_one_named() {
        let (set, a, b) = two_keys();
        assert_eq!(signing(&set).len(), 2, "both generated keys are marked sign");
        let for_b = for_auth(&set, Some(&b)).unwrap_or_default();
        assert_eq!(signing(&for_b), vec![b.clone()]);
        assert_eq!(for_b.find(&a).and_then(|k| k.key_ops.clone()), Some(vec!["verify".to_string()]));
        assert_eq!(for_b.oct(), set.oct(), "the oct key is untouched");
        // It passes the checks Auth's own rules stand for: one signer, unnamed.
        let (_, problems) = check_private(&for_b.to_json(), &Expect { signer: None, jwt_secret: Some(SECRET) });
        assert!(problems.is_empty(), "{problems:?}");
        assert!(for_auth(&set, Some("no-such-kid")).is_none());
        assert!(for_auth(&set, None).is_none(), "two keys marked and none named: no signer");
    }

    #[test]
    fn the_public_set_always_holds_the_legacy_secret() {
        let (set, _, _) = two_keys();
        assert_eq!(public_set(&set, "ignored: the set has its oct key"), set.public_json());
        let without = PrivateSet::from_keys(set.keys().iter().filter(|k| k.is_asymmetric()).cloned().collect());
        let public: serde_json::Value = serde_json::from_str(&public_set(&without, SECRET)).unwrap_or_default();
        let keys = public["keys"].as_array().cloned().unwrap_or_default();
        assert_eq!(keys.len(), 3);
        assert_eq!(keys[2]["k"].as_str(), jwk::oct(SECRET).k.as_deref());
        assert!(keys.iter().all(|k| k.get("d").is_none()), "no private part");
    }

    #[test]
    fn an_internal_jwt_is_current_only_when_the_signer_issued_it_and_it_is_unexpired() {
        let g = generate(SECRET, NOW).unwrap_or_else(|e| panic!("{e}"));
        let (set, _) = check_private(&g.private_set, &Expect::default());
        assert!(internal_jwt_current(&set, None, &g.anon_jwt, Role::Anon, NOW + 1));
        assert!(!internal_jwt_current(&set, None, &g.anon_jwt, Role::ServiceRole, NOW + 1), "wrong role");
        assert!(!internal_jwt_current(&set, None, &g.anon_jwt, Role::Anon, NOW + 200_000_000), "expired");
        // A second key becomes the signer: the old token still verifies but is not current.
        let new = jwk::generate_ec();
        let kid = new.kid.clone().unwrap_or_default();
        let mut keys = set.keys().to_vec();
        keys.push(new);
        let rotated = PrivateSet::from_keys(keys);
        assert!(internal_jwt::verify(&rotated, &g.anon_jwt, Role::Anon, NOW + 1).is_ok());
        assert!(!internal_jwt_current(&rotated, Some(&kid), &g.anon_jwt, Role::Anon, NOW + 1));
    }
}
