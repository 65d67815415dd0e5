//! Secret data as a reconcile holds it, and the memory of the user's Secrets' data by
//! resourceVersion that spares a GET per reconcile (see `inputs`). A module of its own
//! because the context holds the memory while the readers and the generator use the
//! data, and none of them should depend on another for the types.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

/// Data of Secrets, by Secret name and key: the user's and the generated ones.
pub type SecretData = BTreeMap<String, Data>;

/// One Secret's data, by key.
pub type Data = BTreeMap<String, Vec<u8>>;

/// Objects the user owns and a project reads (Secrets' data; Edge Functions' code
/// ConfigMap), by namespace/name, with the resourceVersion read: a reconcile whose cache
/// shows the same version reads nothing from the apiserver.
pub struct ByVersion<T> {
    data: Mutex<HashMap<String, (String, T)>>,
}

/// The data of referenced user Secrets.
pub type UserSecrets = ByVersion<Data>;

impl<T> Default for ByVersion<T> {
    fn default() -> Self {
        ByVersion { data: Mutex::new(HashMap::new()) }
    }
}

impl<T> std::fmt::Debug for ByVersion<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the data.
        let n = self.data.lock().map(|d| d.len()).unwrap_or(0);
        f.debug_struct("ByVersion").field("objects", &n).finish()
    }
}

impl<T: Clone> ByVersion<T> {
    /// The data read at `version`, if that is the version held.
    pub(crate) fn get(&self, key: &str, version: &str) -> Option<T> {
        let data = self.data.lock().ok()?;
        data.get(key).filter(|(v, _)| v == version).map(|(_, d)| d.clone())
    }

    /// Holds what was read (or forgets an object that is gone).
    pub(crate) fn put(&self, key: String, read: Option<(String, T)>) {
        if let Ok(mut data) = self.data.lock() {
            match read {
                Some(r) => data.insert(key, r),
                None => data.remove(&key),
            };
        }
    }
}
