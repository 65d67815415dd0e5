//! Whether an object must be applied, decided from the cached live object without
//! an API call in the common case.
//!
//! Each applied object carries [`APPLIED_HASH_ANNOTATION`], a SHA-256 of exactly what
//! was sent. Then:
//!
//! - the live hash differs from the desired one: what we want changed, apply at once
//!   (no dry run: the result differs by construction);
//! - the hashes match and the live object is the version we wrote or last verified
//!   (same `resourceVersion`): skip;
//! - the hashes match and every field we send has the same value in the live object
//!   ([`covers`]): skip — this is what catches drift made by others to fields we set,
//!   on every reconcile, for free;
//! - the hashes match but some field differs: verify with a dry-run apply (the
//!   apiserver may normalize a value we send, e.g. a quantity), and write only when
//!   the result differs from the live object.
//!
//! Trade-offs. Drift is judged by [`covers`], not by the apiserver: a change by someone
//! else that [`covers`] cannot see (a field the apiserver defaults, that we leave
//! unset) is not reverted, exactly as a server-side apply would not revert it either,
//! since we do not own such a field. Objects written by a version without the
//! annotation are applied once (one write each) after an upgrade. Kubernetes 1.20
//! bumps `resourceVersion` on an identical apply, so a blind re-apply would wake every
//! watcher and make a restarted reconciler write; this decision never applies an
//! object whose hash and fields already match.

use serde_json::Value;
use sha2::{Digest, Sha256};

/// Annotation holding the SHA-256 (hex) of the object as the reconciler last sent it.
pub const APPLIED_HASH_ANNOTATION: &str = "supabase-operator.io/applied-hash";

/// What this process last wrote or verified of one object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Seen {
    /// The applied hash.
    pub hash: String,
    /// The `resourceVersion` that holds it.
    pub resource_version: Option<String>,
}

/// What to do with one object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// Nothing: the live object is what we want.
    Skip,
    /// The cache may lag our own write: GET the object and decide again.
    Confirm,
    /// Dry-run apply and compare with the live object; write only a difference.
    Verify,
    /// Apply now.
    Apply,
}

/// The applied hash of an object's JSON (annotation absent).
pub fn digest(obj: &Value) -> String {
    // Serializing a `Value` cannot fail; its map is sorted, so the bytes are stable.
    hex::encode(Sha256::digest(obj.to_string().as_bytes()))
}

fn annotation<'a>(obj: &'a Value, key: &str) -> Option<&'a str> {
    obj.get("metadata")?.get("annotations")?.get(key)?.as_str()
}

fn resource_version(obj: &Value) -> Option<&str> {
    obj.get("metadata")?.get("resourceVersion")?.as_str()
}

/// A value the apiserver drops when it stores an object (Go's `omitempty`).
fn empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
    }
}

/// Whether `live` holds every field of `want` with the same value. Fields the
/// apiserver adds (defaults, status) are ignored; lists must match element by element.
pub fn covers(live: &Value, want: &Value) -> bool {
    match (want, live) {
        (Value::Object(w), Value::Object(l)) => w.iter().all(|(k, wv)| match l.get(k) {
            Some(lv) => covers(lv, wv),
            None => empty(wv),
        }),
        (Value::Array(w), Value::Array(l)) => w.len() == l.len() && w.iter().zip(l).all(|(wv, lv)| covers(lv, wv)),
        (w, Value::Null) => empty(w),
        (w, l) => w == l,
    }
}

/// The step for one object. `want` is the object to send, annotation included;
/// `live` the cached (or, when `confirmed`, freshly read) live object; `seen` what
/// this process last wrote or verified.
pub fn decide(hash: &str, want: &Value, live: Option<&Value>, seen: Option<&Seen>, confirmed: bool) -> Step {
    let we_wrote_it = seen.is_some_and(|s| s.hash == hash);
    let Some(live) = live else {
        return if we_wrote_it && !confirmed { Step::Confirm } else { Step::Apply };
    };
    if annotation(live, APPLIED_HASH_ANNOTATION) != Some(hash) {
        return if we_wrote_it && !confirmed { Step::Confirm } else { Step::Apply };
    }
    let version = resource_version(live);
    if version.is_some() && seen.is_some_and(|s| s.hash == hash && s.resource_version.as_deref() == version) {
        return Step::Skip;
    }
    if covers(live, want) { Step::Skip } else { Step::Verify }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn want(hash: &str) -> Value {
        json!({
            "metadata": {"name": "demo-kong", "annotations": {APPLIED_HASH_ANNOTATION: hash}, "labels": {"a": "b"}},
            "spec": {"replicas": 1, "paused": false, "template": {"spec": {"containers": [{"name": "kong", "args": []}]}}},
        })
    }

    fn live(hash: &str, rv: &str) -> Value {
        json!({
            "metadata": {
                "name": "demo-kong", "resourceVersion": rv, "uid": "u",
                "annotations": {APPLIED_HASH_ANNOTATION: hash}, "labels": {"a": "b"},
            },
            "spec": {"replicas": 1, "template": {"spec": {"containers": [{"name": "kong", "imagePullPolicy": "Always"}]}}},
            "status": {"readyReplicas": 1},
        })
    }

    fn seen(hash: &str, rv: &str) -> Seen {
        Seen { hash: hash.into(), resource_version: Some(rv.into()) }
    }

    #[test]
    fn an_unchanged_object_is_skipped_without_any_call() {
        assert_eq!(decide("h", &want("h"), Some(&live("h", "7")), None, false), Step::Skip);
        assert_eq!(decide("h", &want("h"), Some(&live("h", "7")), Some(&seen("h", "7")), false), Step::Skip);
    }

    #[test]
    fn a_changed_object_is_applied_without_a_dry_run() {
        assert_eq!(decide("new", &want("new"), Some(&live("old", "7")), None, false), Step::Apply);
        assert_eq!(decide("h", &want("h"), None, None, false), Step::Apply);
        // Written by a version without the annotation.
        let mut bare = live("h", "7");
        bare["metadata"]["annotations"] = json!({});
        assert_eq!(decide("h", &want("h"), Some(&bare), None, false), Step::Apply);
    }

    #[test]
    fn a_cache_behind_our_own_write_is_confirmed_once_then_trusted() {
        assert_eq!(decide("new", &want("new"), Some(&live("old", "7")), Some(&seen("new", "8")), false), Step::Confirm);
        assert_eq!(decide("new", &want("new"), None, Some(&seen("new", "8")), false), Step::Confirm);
        // The fresh read still shows the old object (someone reverted it): apply.
        assert_eq!(decide("new", &want("new"), Some(&live("old", "9")), Some(&seen("new", "8")), true), Step::Apply);
        assert_eq!(decide("new", &want("new"), None, Some(&seen("new", "8")), true), Step::Apply);
    }

    #[test]
    fn drift_in_a_field_we_set_is_verified_by_a_dry_run() {
        let mut drifted = live("h", "9");
        drifted["spec"]["replicas"] = json!(3);
        assert_eq!(decide("h", &want("h"), Some(&drifted), Some(&seen("h", "7")), false), Step::Verify);
        let mut extra = live("h", "9");
        extra["spec"]["template"]["spec"]["containers"] = json!([{"name": "kong"}, {"name": "sidecar"}]);
        assert_eq!(decide("h", &want("h"), Some(&extra), None, false), Step::Verify);
        // Once verified at this version, not again.
        assert_eq!(decide("h", &want("h"), Some(&drifted), Some(&seen("h", "9")), false), Step::Skip);
    }

    #[test]
    fn covers_ignores_defaults_and_dropped_empty_values_but_not_changes() {
        assert!(covers(&json!({"a": 1, "b": {"c": "x", "d": true}}), &json!({"b": {"c": "x"}, "e": [], "f": false})));
        assert!(!covers(&json!({"a": 1}), &json!({"a": 2})));
        assert!(!covers(&json!({"a": [1, 2]}), &json!({"a": [1]})));
        assert!(!covers(&json!({}), &json!({"a": "x"})));
        assert!(covers(&json!({"l": [{"n": "a", "x": 1}]}), &json!({"l": [{"n": "a"}]})));
    }

    #[test]
    fn the_digest_is_stable_and_content_sensitive() {
        let a = digest(&json!({"b": 1, "a": [1, 2]}));
        assert_eq!(a, digest(&json!({"a": [1, 2], "b": 1})));
        assert_ne!(a, digest(&json!({"a": [2, 1], "b": 1})));
        assert_eq!(a.len(), 64);
    }
}
