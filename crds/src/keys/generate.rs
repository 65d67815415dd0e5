//! Everything upstream's generator makes for a project's new keys, made at once:
//! the signing key set, its public set, the internal JWTs and the two API keys
//! (supabase/supabase `docker/utils/add-new-auth-keys.sh`
//! @ 12b126dc86a5949262fed769510e08197b9c27b9, which prints `JWT_KEYS`, `JWT_JWKS`,
//! `ANON_KEY_ASYMMETRIC`, `SERVICE_ROLE_KEY_ASYMMETRIC`, `SUPABASE_PUBLISHABLE_KEY`,
//! `SUPABASE_SECRET_KEY`).

use super::api_keys::{self, ApiKeyKind};
use super::internal_jwt::{self, LIFETIME_SECONDS};
use super::jwk;
use super::set::PrivateSet;
use crate::Error;
use crate::jwt::Role;

/// A project's new keys. `Debug` shows the key id only.
#[derive(Clone, PartialEq, Eq)]
pub struct Generated {
    /// The EC signing key's id.
    pub kid: String,
    /// `JWT_KEYS`: the EC private key (signs) and the oct key, a JSON array.
    pub private_set: String,
    /// `JWT_JWKS`: their public parts, `{"keys": [...]}`.
    pub public_set: String,
    /// `ANON_KEY_ASYMMETRIC`.
    pub anon_jwt: String,
    /// `SERVICE_ROLE_KEY_ASYMMETRIC`.
    pub service_jwt: String,
    /// `SUPABASE_PUBLISHABLE_KEY`.
    pub publishable_key: String,
    /// `SUPABASE_SECRET_KEY`.
    pub secret_key: String,
}

impl std::fmt::Debug for Generated {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Generated").field("kid", &self.kid).finish_non_exhaustive()
    }
}

/// New keys beside the legacy `jwt_secret`, the internal JWTs issued at `now`.
pub fn generate(jwt_secret: &str, now: i64) -> Result<Generated, Error> {
    let ec = jwk::generate_ec();
    let kid = ec.kid.clone().unwrap_or_default();
    let anon_jwt = internal_jwt::sign(&ec, Role::Anon, now, now + LIFETIME_SECONDS)?;
    let service_jwt = internal_jwt::sign(&ec, Role::ServiceRole, now, now + LIFETIME_SECONDS)?;
    let set = PrivateSet::from_keys(vec![ec, jwk::oct(jwt_secret)]);
    Ok(Generated {
        kid,
        private_set: set.to_json(),
        public_set: set.public_json(),
        anon_jwt,
        service_jwt,
        publishable_key: api_keys::generate(ApiKeyKind::Publishable),
        secret_key: api_keys::generate(ApiKeyKind::Secret),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::set::{Expect, check_private, check_public};

    const SECRET: &str = "a-jwt-secret-of-at-least-32-characters!!";
    const NOW: i64 = 1_800_000_000;

    #[test]
    fn what_is_generated_passes_every_admission_check() {
        let g = generate(SECRET, NOW).unwrap_or_else(|e| panic!("{e}"));
        let (set, problems) = check_private(&g.private_set, &Expect { signer: Some(&g.kid), jwt_secret: Some(SECRET) });
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(set.signer(None).and_then(|k| k.kid.clone()), Some(g.kid.clone()), "one key marked to sign");
        assert!(check_public(&set, &g.public_set).is_empty());
        for (token, role) in [(&g.anon_jwt, Role::Anon), (&g.service_jwt, Role::ServiceRole)] {
            let v = internal_jwt::verify(&set, token, role, NOW + 1);
            assert_eq!(v.as_ref().map(|v| v.claims.exp), Ok(Some(NOW + 157_680_000)));
        }
        assert!(api_keys::checksum_ok(ApiKeyKind::Publishable, &g.publishable_key));
        assert!(api_keys::checksum_ok(ApiKeyKind::Secret, &g.secret_key));
        let shown = format!("{g:?}");
        assert!(shown.contains(&g.kid) && !shown.contains(&g.secret_key) && !shown.contains(&g.anon_jwt));
    }
}
