//! What this process last wrote, per project: the status, and the applied hash and
//! `resourceVersion` of each object. The caches may lag our own writes; the memo says
//! when a cache miss or an older cached version is only that lag.
//!
//! It is a hint, never the truth: the status memo stands in for the project's stored
//! status only because this replica is the only writer of status (a new leader
//! starts with an empty memo and reads the stored status), and an object memo only
//! ever turns a cache miss into one GET (see `skip`). Entries are keyed by project
//! and dropped with the project.

use std::collections::HashMap;
use std::sync::Mutex;

use crds::SupabaseProjectStatus;

use crate::skip::Seen;

#[derive(Debug, Default)]
struct Project {
    uid: String,
    status: Option<SupabaseProjectStatus>,
    objects: HashMap<String, Seen>,
}

/// The memo of every project this process reconciles.
#[derive(Debug, Default)]
pub struct Memo {
    projects: Mutex<HashMap<String, Project>>,
}

impl Memo {
    fn with<T>(&self, key: &str, uid: &str, f: impl FnOnce(&mut Project) -> T) -> Option<T> {
        let mut projects = self.projects.lock().ok()?;
        let p = projects.entry(key.to_string()).or_default();
        if p.uid != uid {
            // A project recreated under the same name: nothing carries over.
            *p = Project { uid: uid.to_string(), ..Default::default() };
        }
        Some(f(p))
    }

    /// The status we last wrote for this project, if any.
    pub fn status(&self, key: &str, uid: &str) -> Option<SupabaseProjectStatus> {
        self.with(key, uid, |p| p.status.clone()).flatten()
    }

    /// Records the status just written; `None` forgets it (a write of unknown outcome).
    pub fn set_status(&self, key: &str, uid: &str, status: Option<SupabaseProjectStatus>) {
        self.with(key, uid, |p| p.status = status);
    }

    /// What we last wrote or verified of `object` (`Kind/name`).
    pub fn seen(&self, key: &str, uid: &str, object: &str) -> Option<Seen> {
        self.with(key, uid, |p| p.objects.get(object).cloned()).flatten()
    }

    /// Records a write or verification of `object`; `None` forgets it.
    pub fn set_seen(&self, key: &str, uid: &str, object: &str, seen: Option<Seen>) {
        self.with(key, uid, |p| match seen {
            Some(s) => {
                p.objects.insert(object.to_string(), s);
            }
            None => {
                p.objects.remove(object);
            }
        });
    }

    /// Forgets a project (deleted, or gone from the cache).
    pub fn forget(&self, key: &str) {
        if let Ok(mut projects) = self.projects.lock() {
            projects.remove(key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_recreated_project_starts_empty() {
        let m = Memo::default();
        let status = SupabaseProjectStatus { message: Some("x".into()), ..Default::default() };
        m.set_status("ns/demo", "u1", Some(status.clone()));
        m.set_seen("ns/demo", "u1", "Deployment/demo-kong", Some(Seen { hash: "h".into(), ..Default::default() }));
        assert_eq!(m.status("ns/demo", "u1"), Some(status));
        assert!(m.seen("ns/demo", "u1", "Deployment/demo-kong").is_some());
        assert_eq!(m.status("ns/demo", "u2"), None);
        assert!(m.seen("ns/demo", "u2", "Deployment/demo-kong").is_none());
        m.set_status("ns/demo", "u2", Some(SupabaseProjectStatus::default()));
        m.forget("ns/demo");
        assert_eq!(m.status("ns/demo", "u2"), None);
    }
}
