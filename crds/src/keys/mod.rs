//! Supabase's new keys, beside the legacy HS256 secret of [`crate::jwt`]: asymmetric
//! signing keys as JWKs (an EC P-256 key, ES256) with the legacy secret as an `oct`
//! JWK, the internal ES256 JWTs the gateway swaps in for the opaque API keys, and the
//! opaque `sb_publishable_…` / `sb_secret_…` keys themselves.
//!
//! The shapes follow upstream's generator, supabase/supabase
//! `docker/utils/add-new-auth-keys.sh` @ 12b126dc86a5949262fed769510e08197b9c27b9, and
//! how Auth reads them, supabase/auth `internal/conf/jwk.go`
//! @ 203bc7a4ac45f928a2a39adb4ab266ed468281e3.
//!
//! Pure functions. Nothing here puts key material (`d`, `k`, RSA primes, tokens, API
//! keys) into a message or a `Debug` output; key ids are not secret (Auth publishes
//! them at `/.well-known/jwks.json`) and are named.

pub mod api_keys;
pub mod derive;
pub mod generate;
pub mod internal_jwt;
pub mod jwk;
pub mod set;

pub use api_keys::ApiKeyKind;
pub use generate::{Generated, generate};
pub use jwk::Jwk;
pub use set::{PrivateSet, SetProblem};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// base64url without padding, as JWKs and JWTs write bytes (RFC 7515 §2).
pub(crate) fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Reads base64url without padding; `None` when it is not.
pub(crate) fn unb64(text: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(text).ok()
}
