//! The new keys in the generated `<project>-jwt` Secret (`spec.jwt.keys: both`): what is
//! generated once and what is derived from the signing keys.
//!
//! Generated once, never replaced while present: the private set (an EC P-256 key and
//! the legacy secret as an oct key) and the two API keys, as upstream's generator makes
//! them (supabase/supabase `docker/utils/add-new-auth-keys.sh`
//! @ 12b126dc86a5949262fed769510e08197b9c27b9, through `crds::keys::generate`).
//!
//! Derived, and rewritten when what they derive from changes: the public set, the
//! user's set re-marked for Auth, the internal JWTs (re-signed when the signer is not
//! the key that signed them, so a rotation's new signer takes over the gateway's tokens
//! before the old key leaves the set), and the oct key of the generated set (it follows
//! the legacy secret, which a user's `secretRef` may rotate). None of these is a secret
//! a client holds: the API keys and the legacy keys never change here.

use std::collections::BTreeMap;

use crds::jwt::Role;
use crds::keys::set::{Expect, PrivateSet, check_private};
use crds::keys::{self, ApiKeyKind, api_keys, derive, internal_jwt, jwk};
use crds::project::KeyScheme;
use crds::refs::jwt_keys;
use crds::status::KeysStatus;

use crate::Error;

/// What the new keys derive from besides the generated Secret itself.
#[derive(Clone, Copy, Debug, Default)]
pub struct Inputs<'a> {
    /// The legacy JWT secret.
    pub jwt_secret: Option<&'a str>,
    /// The user's private set (`signingKeysRef`), when referenced.
    pub user_set: Option<&'a str>,
    /// `spec.jwt.signingKeyId`.
    pub signing_key_id: Option<&'a str>,
}

/// The keys of the new-key scheme this Secret must hold, and their values to write
/// (added or replaced) given what it holds now.
pub fn complete(
    current: &BTreeMap<String, Vec<u8>>,
    wants: &dyn Fn(&str) -> bool,
    inputs: &Inputs<'_>,
    now: i64,
) -> Result<BTreeMap<String, Vec<u8>>, Error> {
    let mut out: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    let get = |k: &str| current.get(k).filter(|v| !v.is_empty()).map(|v| String::from_utf8_lossy(v).into_owned());
    let put = |out: &mut BTreeMap<String, Vec<u8>>, key: &str, value: String| {
        if get(key).as_deref() != Some(value.as_str()) {
            out.insert(key.to_string(), value.into_bytes());
        }
    };
    let Some(secret) = inputs.jwt_secret else {
        return Err(Error::Render("the new keys need the JWT secret, which is not there".into()));
    };

    // The private set: the generated one (made once; its oct key follows the secret),
    // or the user's.
    let set_text = if wants(jwt_keys::SIGNING_KEYS) {
        let text = match get(jwt_keys::SIGNING_KEYS) {
            Some(text) => text,
            None => keys::generate(secret, now)?.private_set,
        };
        let (set, _) = check_private(&text, &Expect::default());
        let oct = jwk::oct(secret);
        let followed = if set.oct().is_some_and(|k| k.same_key(&oct)) {
            text
        } else {
            let mut kept: Vec<_> = set.keys().iter().filter(|k| !k.is_oct()).cloned().collect();
            kept.push(oct);
            PrivateSet::from_keys(kept).to_json()
        };
        put(&mut out, jwt_keys::SIGNING_KEYS, followed.clone());
        Some(followed)
    } else {
        inputs.user_set.map(str::to_string)
    };
    let Some(set_text) = set_text else {
        return Err(Error::Render("spec.jwt.signingKeysRef: the signing keys are not there".into()));
    };
    let (set, _) = check_private(&set_text, &Expect::default());
    let signer_id = inputs.signing_key_id;
    if wants(jwt_keys::AUTH_KEYS) {
        let auth = derive::for_auth(&set, signer_id)
            .ok_or_else(|| Error::Render("spec.jwt.signingKeyId: the signing keys name no signer".into()))?;
        put(&mut out, jwt_keys::AUTH_KEYS, auth.to_json());
    }
    if wants(jwt_keys::PUBLIC_KEYS) {
        put(&mut out, jwt_keys::PUBLIC_KEYS, derive::public_set(&set, secret));
    }
    for (key, role) in [(jwt_keys::ANON_JWT, Role::Anon), (jwt_keys::SERVICE_JWT, Role::ServiceRole)] {
        if !wants(key) {
            continue;
        }
        let current = get(key).filter(|t| derive::internal_jwt_current(&set, signer_id, t, role, now));
        if current.is_none() {
            let signer = set
                .signer(signer_id)
                .ok_or_else(|| Error::Render("spec.jwt.signingKeyId: the signing keys name no signer".into()))?;
            let token = internal_jwt::sign(signer, role, now, now + internal_jwt::LIFETIME_SECONDS)?;
            out.insert(key.to_string(), token.into_bytes());
        }
    }
    for (key, kind) in
        [(jwt_keys::PUBLISHABLE_KEY, ApiKeyKind::Publishable), (jwt_keys::SECRET_KEY, ApiKeyKind::Secret)]
    {
        if wants(key) && get(key).is_none() {
            out.insert(key.to_string(), api_keys::generate(kind).into_bytes());
        }
    }
    Ok(out)
}

/// The status of a project's keys, from its spec and the Secret data (user and
/// generated) this reconcile holds: ids only.
pub fn status(spec: &crds::SupabaseProjectSpec, project: &str, data: &crate::secret_data::SecretData) -> KeysStatus {
    let scheme = spec.key_scheme();
    let mut out = KeysStatus { scheme: Some(scheme), ..Default::default() };
    if scheme != KeyScheme::Both {
        return out;
    }
    let text = match crds::refs::source(project, spec, crds::refs::Value::SigningKeys) {
        Some(crds::refs::Source::Secret { name, key, .. }) => data.get(&name).and_then(|d| d.get(&key)).cloned(),
        _ => None,
    };
    if let Some(text) = text {
        let (set, _) = check_private(&String::from_utf8_lossy(&text), &Expect::default());
        let signing_key_id = spec.jwt.as_ref().and_then(|j| j.signing_key_id.as_deref());
        out.signing_key_id = set.signer_kid(signing_key_id);
        out.key_ids = set.kids().into_iter().map(str::to_string).collect();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crds::keys::Jwk;

    const SECRET: &str = "a-jwt-secret-of-at-least-32-characters!!";
    const NOW: i64 = 1_800_000_000;

    fn all(keys: &'static [&'static str]) -> impl Fn(&str) -> bool {
        move |k| keys.contains(&k)
    }

    const GENERATED: &[&str] = &["keys", "jwks", "publishableKey", "secretKey", "anonJwt", "serviceJwt"];

    fn text(m: &BTreeMap<String, Vec<u8>>, k: &str) -> String {
        String::from_utf8(m[k].clone()).unwrap_or_default()
    }

    fn inputs(secret: &str) -> Inputs<'_> {
        Inputs { jwt_secret: Some(secret), ..Default::default() }
    }

    #[test]
    fn generated_once_and_nothing_rewritten_on_the_next_pass() {
        let first = complete(&BTreeMap::new(), &all(GENERATED), &inputs(SECRET), NOW).unwrap_or_default();
        assert_eq!(first.keys().map(String::as_str).collect::<Vec<_>>(), {
            let mut k = GENERATED.to_vec();
            k.sort();
            k
        });
        let (set, problems) = check_private(&text(&first, "keys"), &Expect { signer: None, jwt_secret: Some(SECRET) });
        assert!(problems.is_empty(), "{problems:?}");
        assert!(internal_jwt::verify(&set, &text(&first, "anonJwt"), Role::Anon, NOW).is_ok());
        assert!(api_keys::check(ApiKeyKind::Secret, &text(&first, "secretKey")).is_ok());
        let again = complete(&first, &all(GENERATED), &inputs(SECRET), NOW + 10).unwrap_or_default();
        assert!(again.is_empty(), "{:?}", again.keys());
    }

    #[test]
    fn a_changed_legacy_secret_changes_the_oct_key_and_nothing_a_client_holds() {
        let first = complete(&BTreeMap::new(), &all(GENERATED), &inputs(SECRET), NOW).unwrap_or_default();
        let other = "another-jwt-secret-of-at-least-32-characters";
        let next = complete(&first, &all(GENERATED), &inputs(other), NOW).unwrap_or_default();
        assert_eq!(next.keys().map(String::as_str).collect::<Vec<_>>(), ["jwks", "keys"]);
        let (set, problems) = check_private(&text(&next, "keys"), &Expect { signer: None, jwt_secret: Some(other) });
        assert!(problems.is_empty(), "{problems:?}");
        let (old, _) = check_private(&text(&first, "keys"), &Expect::default());
        assert_eq!(set.kids(), old.kids(), "the EC key is kept");
    }

    #[test]
    fn a_user_set_is_marked_for_auth_and_its_new_signer_reissues_the_internal_jwts() {
        let (a, b) = (jwk::generate_ec(), jwk::generate_ec());
        let (ka, kb) = (a.kid.clone().unwrap_or_default(), b.kid.clone().unwrap_or_default());
        let wanted = &["authKeys", "jwks", "anonJwt", "serviceJwt"];
        let set = |keys: Vec<Jwk>| PrivateSet::from_keys(keys).to_json();
        let one = set(vec![a.clone()]);
        let user = |text, kid| Inputs { jwt_secret: Some(SECRET), user_set: Some(text), signing_key_id: kid };
        let first = complete(&BTreeMap::new(), &all(wanted), &user(&one, None), NOW).unwrap_or_default();
        assert_eq!(first.keys().map(String::as_str).collect::<Vec<_>>(), ["anonJwt", "authKeys", "jwks", "serviceJwt"]);
        let kid_of = |m: &BTreeMap<String, Vec<u8>>, k| {
            let (s, _) = check_private(&one, &Expect::default());
            internal_jwt::verify(&s, &text(m, k), Role::Anon, NOW).map(|v| v.kid)
        };
        assert_eq!(kid_of(&first, "anonJwt"), Ok(ka.clone()));
        // The jwks gets the legacy secret, which the user's set lacks.
        assert!(text(&first, "jwks").contains(jwk::oct(SECRET).k.as_deref().unwrap_or("?")));

        // Add b and make it the signer: Auth's set and the internal JWTs follow.
        let two = set(vec![a, b]);
        let mut held = first.clone();
        let next = complete(&held, &all(wanted), &user(&two, Some(&kb)), NOW + 5).unwrap_or_default();
        assert_eq!(next.keys().map(String::as_str).collect::<Vec<_>>(), ["anonJwt", "authKeys", "jwks", "serviceJwt"]);
        let (s2, _) = check_private(&text(&next, "authKeys"), &Expect::default());
        assert_eq!(s2.signer_kid(None), Some(kb.clone()));
        assert_eq!(
            internal_jwt::verify(&s2, &text(&next, "serviceJwt"), Role::ServiceRole, NOW).map(|v| v.kid),
            Ok(kb.clone())
        );
        held.extend(next);
        assert!(
            complete(&held, &all(wanted), &user(&two, Some(&s2.signer_kid(None).unwrap_or_default())), NOW + 6)
                .unwrap_or_default()
                .is_empty()
        );
    }
}
