//! The `DatabaseReady` condition and the hold-back messages, from the preflight's
//! result. Pure, like `status`.

use crds::Component;
use crds::status::DatabaseStatus;

use crate::findings::{ALL, REQUIRED};

/// `DatabaseReady`: status, reason and message. Reasons: `Pending` (the reconcile did
/// not get as far), `Checking`, `Unreachable`, `Missing`, `Ready`.
pub fn condition(database: Option<&DatabaseStatus>) -> (bool, &'static str, String) {
    let Some(d) = database else {
        return (false, "Pending", "the database preflight waits for the Secrets".into());
    };
    let job = d.checked_by.clone().unwrap_or_default();
    match d.reachable {
        None => (false, "Checking", format!("the database preflight Job {job} is running")),
        Some(false) => {
            let why = d.findings.first().map(|f| f.message.clone()).unwrap_or_default();
            (false, "Unreachable", why)
        }
        Some(true) => {
            let required: Vec<String> = d
                .findings
                .iter()
                .filter(|f| f.severity == REQUIRED)
                .map(|f| format!("{} ({}): {}", f.check, f.component, f.message))
                .collect();
            let warnings = d.findings.len() - required.len();
            if required.is_empty() {
                let version = d.server_version.clone().unwrap_or_default();
                (true, "Ready", format!("PostgreSQL {version}: nothing required is missing, {warnings} warning(s)"))
            } else {
                (false, "Missing", required.join("; "))
            }
        }
    }
}

/// Why `component` is held back: the first required finding about it.
pub fn held_because(database: Option<&DatabaseStatus>, component: Component) -> String {
    let why = database
        .into_iter()
        .flat_map(|d| d.findings.iter())
        .find(|f| f.severity == REQUIRED && (f.component == component.name() || f.component == ALL));
    match why {
        Some(f) => format!("{} is held back by the database ({}): {}", component.name(), f.check, f.message),
        None => format!("{} is held back by the database", component.name()),
    }
}
