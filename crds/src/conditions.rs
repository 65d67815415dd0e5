//! `metav1.Condition` helpers shared by the reconciler and the tests.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};

/// Condition types every project carries (component conditions come from the catalog).
pub const READY: &str = "Ready";
/// The reconciler is rolling something out.
pub const PROGRESSING: &str = "Progressing";
/// The API gateway answers (Kong ready).
pub const AVAILABLE: &str = "Available";
/// A component that was ready is not.
pub const DEGRADED: &str = "Degraded";
/// Every Secret the components consume exists.
pub const SECRETS_READY: &str = "SecretsReady";
/// The database initialization Job succeeded (or initialization is off).
pub const DATABASE_INITIALIZED: &str = "DatabaseInitialized";
/// The database preflight found every hard prerequisite of the enabled components.
pub const DATABASE_READY: &str = "DatabaseReady";

/// Looks a condition up by type.
pub fn find<'a>(conditions: &'a [Condition], type_: &str) -> Option<&'a Condition> {
    conditions.iter().find(|c| c.type_ == type_)
}

/// Whether the condition of that type is `True`.
pub fn is_true(conditions: &[Condition], type_: &str) -> bool {
    find(conditions, type_).is_some_and(|c| c.status == "True")
}

/// Sets a condition the way apimachinery's `meta.SetStatusCondition` does:
/// `lastTransitionTime` moves only when the status changes, so rewriting an
/// unchanged condition leaves the object byte-for-byte the same.
pub fn set(
    conditions: &mut Vec<Condition>,
    type_: &str,
    status: bool,
    reason: &str,
    message: &str,
    generation: Option<i64>,
    now: &Time,
) {
    let status = if status { "True" } else { "False" }.to_string();
    match conditions.iter_mut().find(|c| c.type_ == type_) {
        Some(existing) => {
            if existing.status != status {
                existing.status = status;
                existing.last_transition_time = now.clone();
            }
            existing.reason = reason.to_string();
            existing.message = message.to_string();
            existing.observed_generation = generation;
        }
        None => conditions.push(Condition {
            type_: type_.to_string(),
            status,
            reason: reason.to_string(),
            message: message.to_string(),
            observed_generation: generation,
            last_transition_time: now.clone(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::jiff::Timestamp;

    fn at(secs: i64) -> Time {
        Time(Timestamp::from_second(secs).unwrap_or(Timestamp::UNIX_EPOCH))
    }

    #[test]
    fn transition_time_moves_only_on_status_change() {
        let mut c = Vec::new();
        set(&mut c, READY, false, "Deploying", "waiting", Some(1), &at(10));
        set(&mut c, READY, false, "Deploying", "still waiting", Some(2), &at(20));
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].last_transition_time, at(10));
        assert_eq!(c[0].message, "still waiting");
        assert_eq!(c[0].observed_generation, Some(2));
        set(&mut c, READY, true, "AllReady", "ok", Some(2), &at(30));
        assert_eq!(c[0].last_transition_time, at(30));
        assert!(is_true(&c, READY));
        assert!(!is_true(&c, PROGRESSING));
    }
}
