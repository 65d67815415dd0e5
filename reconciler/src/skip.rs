//! Whether an object must be applied, decided from the cached live object and what
//! this process last wrote, without an API call in the common case.
//!
//! Each applied object carries [`APPLIED_HASH_ANNOTATION`], a SHA-256 of exactly what
//! was sent. Then:
//!
//! - the live hash differs from the desired one: what we want changed, so apply at
//!   once (no dry run: the result differs by construction);
//! - the hashes match and the live object is the version we last wrote or verified
//!   (same `resourceVersion`, or for kinds with a generation the same
//!   `metadata.generation`, which status updates leave alone): skip;
//! - the hashes match but someone else may have changed the object since (another
//!   resourceVersion or generation), or this process has not seen it yet (after a
//!   restart or a change of leader): verify once with a GET and a dry-run apply, and
//!   write only when the result differs.
//!
//! Trade-offs: drift made by others is found on the next reconcile of the project
//! (their write triggers one), at the cost of one GET and one dry run per changed
//! object; a restarted reconciler pays one GET and one dry run per object, once.
//! Objects written by a version without the annotation are applied once (one write
//! each) after an upgrade. Kubernetes 1.20 bumps `resourceVersion` on an identical
//! apply, so a blind re-apply would wake every watcher and make a restarted
//! reconciler write; this decision never applies an object it has not shown to differ.

use sha2::{Digest, Sha256};

/// Annotation holding the SHA-256 (hex) of the object as the reconciler last sent it.
pub const APPLIED_HASH_ANNOTATION: &str = "supabase-operator.io/applied-hash";

/// What this process last wrote or verified of one object.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Seen {
    /// The applied hash.
    pub hash: String,
    /// The `resourceVersion` that holds it.
    pub resource_version: Option<String>,
    /// The `metadata.generation` that holds it, for kinds that have one.
    pub generation: Option<i64>,
}

/// What the cache shows of the live object.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Live<'a> {
    /// Its applied-hash annotation.
    pub hash: Option<&'a str>,
    /// Its `resourceVersion`.
    pub resource_version: Option<&'a str>,
    /// Its `metadata.generation`.
    pub generation: Option<i64>,
}

/// What to do with one object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// Nothing: the live object is what we want.
    Skip,
    /// The cache may lag our own write: GET the object and decide again.
    Confirm,
    /// GET and dry-run apply, and write only a difference.
    Verify,
    /// Apply now.
    Apply,
}

/// The applied hash of an object's serialized form (annotation absent).
pub fn digest(serialized: &[u8]) -> String {
    hex::encode(Sha256::digest(serialized))
}

/// The step for one object with the desired `hash`. `live` is the cached (or, when
/// `confirmed`, freshly read) live object; `seen` what this process last wrote or
/// verified.
pub fn decide(hash: &str, live: Option<Live<'_>>, seen: Option<&Seen>, confirmed: bool) -> Step {
    let seen = seen.filter(|s| s.hash == hash);
    let lagging = if seen.is_some() && !confirmed { Step::Confirm } else { Step::Apply };
    let Some(live) = live else { return lagging };
    if live.hash != Some(hash) {
        return lagging;
    }
    let Some(seen) = seen else { return Step::Verify };
    let same_version = live.resource_version.is_some() && seen.resource_version.as_deref() == live.resource_version;
    let same_generation = live.generation.is_some() && seen.generation == live.generation;
    if same_version || same_generation { Step::Skip } else { Step::Verify }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn live<'a>(hash: &'a str, rv: &'a str, generation: Option<i64>) -> Option<Live<'a>> {
        Some(Live { hash: Some(hash), resource_version: Some(rv), generation })
    }

    fn seen(hash: &str, rv: &str, generation: Option<i64>) -> Seen {
        Seen { hash: hash.into(), resource_version: Some(rv.into()), generation }
    }

    #[test]
    fn an_object_we_wrote_is_skipped_without_any_call_whatever_its_status_does() {
        assert_eq!(decide("h", live("h", "7", None), Some(&seen("h", "7", None)), false), Step::Skip);
        // A status update moved the resourceVersion, not the generation.
        assert_eq!(decide("h", live("h", "9", Some(2)), Some(&seen("h", "7", Some(2))), false), Step::Skip);
    }

    #[test]
    fn a_changed_object_is_applied_without_a_dry_run() {
        assert_eq!(decide("new", live("old", "7", None), None, false), Step::Apply);
        assert_eq!(decide("new", live("old", "7", None), Some(&seen("old", "7", None)), false), Step::Apply);
        assert_eq!(decide("h", None, None, false), Step::Apply);
        // Written by a version without the annotation.
        let bare = Live { hash: None, resource_version: Some("7"), generation: None };
        assert_eq!(decide("h", Some(bare), None, false), Step::Apply);
    }

    #[test]
    fn a_cache_behind_our_own_write_is_confirmed_once_then_trusted() {
        let ours = seen("new", "8", Some(3));
        assert_eq!(decide("new", live("old", "7", Some(2)), Some(&ours), false), Step::Confirm);
        assert_eq!(decide("new", None, Some(&ours), false), Step::Confirm);
        assert_eq!(decide("new", live("new", "8", Some(3)), Some(&ours), true), Step::Skip);
        // The fresh read still shows the old object, or none: apply.
        assert_eq!(decide("new", live("old", "9", Some(4)), Some(&ours), true), Step::Apply);
        assert_eq!(decide("new", None, Some(&ours), true), Step::Apply);
    }

    #[test]
    fn a_change_by_someone_else_or_an_object_not_seen_yet_is_verified() {
        // Another writer: a new generation, or a new resourceVersion of a kind without one.
        assert_eq!(decide("h", live("h", "9", Some(3)), Some(&seen("h", "7", Some(2))), false), Step::Verify);
        assert_eq!(decide("h", live("h", "9", None), Some(&seen("h", "7", None)), false), Step::Verify);
        // After a restart.
        assert_eq!(decide("h", live("h", "9", Some(3)), None, false), Step::Verify);
    }

    #[test]
    fn the_digest_is_content_sensitive() {
        let a = digest(b"{\"a\":1}");
        assert_eq!(a, digest(b"{\"a\":1}"));
        assert_ne!(a, digest(b"{\"a\":2}"));
        assert_eq!(a.len(), 64);
    }
}
