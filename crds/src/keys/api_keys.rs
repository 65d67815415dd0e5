//! The opaque API keys, `sb_publishable_…` and `sb_secret_…`, as upstream's generator
//! makes them (`generateOpaqueKey` in supabase/supabase
//! `docker/utils/add-new-auth-keys.sh` @ 12b126dc86a5949262fed769510e08197b9c27b9):
//!
//! `prefix + rand + "_" + checksum`, where `rand` is base64url of 17 random bytes cut to
//! 22 characters and `checksum` is base64url(sha256("supabase-self-hosted|" + prefix +
//! rand)) cut to 8 characters. The gateway matches keys as opaque strings and does not
//! check the checksum (upstream's self-hosting docs, "New API Keys and Asymmetric
//! Authentication"), so a bad checksum is only worth a warning.

use rand::RngCore;
use sha2::{Digest, Sha256};

use super::b64;

/// The project ref upstream's self-hosted keys are checksummed with (`PROJECT_REF`).
pub const PROJECT_REF: &str = "supabase-self-hosted";
/// Length of the random part.
pub const RANDOM_LEN: usize = 22;
/// Length of the checksum.
pub const CHECKSUM_LEN: usize = 8;

/// The two kinds of opaque key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ApiKeyKind {
    /// `sb_publishable_…`: the key clients embed; the gateway treats it as `anon`.
    Publishable,
    /// `sb_secret_…`: the server key; the gateway treats it as `service_role`.
    Secret,
}

impl ApiKeyKind {
    /// The prefix.
    pub fn prefix(self) -> &'static str {
        match self {
            ApiKeyKind::Publishable => "sb_publishable_",
            ApiKeyKind::Secret => "sb_secret_",
        }
    }

    /// The length of a key: prefix, 22, `_`, 8 (46 publishable, 41 secret).
    pub fn key_len(self) -> usize {
        self.prefix().len() + RANDOM_LEN + 1 + CHECKSUM_LEN
    }

    /// For messages: `publishable` or `secret`.
    pub fn label(self) -> &'static str {
        match self {
            ApiKeyKind::Publishable => "publishable",
            ApiKeyKind::Secret => "secret",
        }
    }
}

/// The checksum of `prefix + rand`.
pub fn checksum(intermediate: &str) -> String {
    let digest = Sha256::digest(format!("{PROJECT_REF}|{intermediate}").as_bytes());
    let mut sum = b64(&digest);
    sum.truncate(CHECKSUM_LEN);
    sum
}

/// A new key of `kind`.
pub fn generate(kind: ApiKeyKind) -> String {
    let mut random = [0u8; 17];
    rand::rng().fill_bytes(&mut random);
    let mut rand = b64(&random);
    rand.truncate(RANDOM_LEN);
    let intermediate = format!("{}{rand}", kind.prefix());
    let sum = checksum(&intermediate);
    format!("{intermediate}_{sum}")
}

/// Why a value is not an API key of its kind. Never quotes the value.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ApiKeyProblem {
    /// Another prefix.
    #[error("does not start with {0:?}")]
    Prefix(&'static str),
    /// Another length.
    #[error("has {found} characters, must have {expected} ({prefix:?}, 22 random, \"_\", 8 checksum)")]
    Length {
        /// The prefix of the kind.
        prefix: &'static str,
        /// Characters found.
        found: usize,
        /// Characters required.
        expected: usize,
    },
    /// Characters outside base64url, or no `_` before the checksum.
    #[error("is not prefix, 22 base64url characters, \"_\" and an 8-character checksum")]
    Shape,
}

fn base64url(s: &str) -> bool {
    s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Checks prefix, length and alphabet (what a denial is for).
pub fn check(kind: ApiKeyKind, key: &str) -> Result<(), ApiKeyProblem> {
    let Some(rest) = key.strip_prefix(kind.prefix()) else { return Err(ApiKeyProblem::Prefix(kind.prefix())) };
    let found = key.chars().count();
    if found != kind.key_len() {
        return Err(ApiKeyProblem::Length { prefix: kind.prefix(), found, expected: kind.key_len() });
    }
    let (rand, sum) = rest.split_at(RANDOM_LEN);
    match sum.strip_prefix('_') {
        Some(sum) if base64url(rand) && base64url(sum) => Ok(()),
        _ => Err(ApiKeyProblem::Shape),
    }
}

/// Whether a well-formed key's checksum is right (what a warning is for).
pub fn checksum_ok(kind: ApiKeyKind, key: &str) -> bool {
    if check(kind, key).is_err() {
        return false;
    }
    let (intermediate, sum) = key.split_at(kind.key_len() - CHECKSUM_LEN - 1);
    sum.strip_prefix('_') == Some(checksum(intermediate).as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_have_upstreams_lengths_and_check() {
        for (kind, len) in [(ApiKeyKind::Publishable, 46), (ApiKeyKind::Secret, 41)] {
            assert_eq!(kind.key_len(), len);
            let key = generate(kind);
            assert_eq!(key.len(), len, "{kind:?}");
            assert!(key.starts_with(kind.prefix()));
            assert_eq!(check(kind, &key), Ok(()));
            assert!(checksum_ok(kind, &key));
            assert_ne!(generate(kind), key);
        }
    }

    #[test]
    fn the_checksum_is_upstreams() {
        // Computed outside this code, the way upstream does: in Node,
        // createHash("sha256").update("supabase-self-hosted|sb_publishable_AAAAAAAAAAAAAAAAAAAAAA")
        //   .digest("base64url").slice(0, 8)
        assert_eq!(checksum("sb_publishable_AAAAAAAAAAAAAAAAAAAAAA"), "qcQJXLgl");
        assert!(checksum_ok(ApiKeyKind::Publishable, "sb_publishable_AAAAAAAAAAAAAAAAAAAAAA_qcQJXLgl"));
        assert!(!checksum_ok(ApiKeyKind::Publishable, "sb_publishable_AAAAAAAAAAAAAAAAAAAAAA_qcQJXLgm"));
    }

    #[test]
    fn wrong_prefix_length_and_alphabet_are_named_without_the_key() {
        let secret = generate(ApiKeyKind::Secret);
        assert_eq!(check(ApiKeyKind::Publishable, &secret), Err(ApiKeyProblem::Prefix("sb_publishable_")));
        let short = &secret[..40];
        let problem = check(ApiKeyKind::Secret, short);
        assert_eq!(problem, Err(ApiKeyProblem::Length { prefix: "sb_secret_", found: 40, expected: 41 }));
        let shown = problem.err().map(|p| p.to_string()).unwrap_or_default();
        assert!(!shown.contains(short), "{shown}");
        let dotted = format!("sb_secret_{}_{}", "a.b".repeat(7) + "c", "abcdefgh");
        assert_eq!(dotted.len(), 41);
        assert_eq!(check(ApiKeyKind::Secret, &dotted), Err(ApiKeyProblem::Shape));
        let no_separator = format!("sb_secret_{}X{}", "a".repeat(22), "abcdefgh");
        assert_eq!(check(ApiKeyKind::Secret, &no_separator), Err(ApiKeyProblem::Shape));
        assert!(!checksum_ok(ApiKeyKind::Secret, &no_separator));
    }
}
