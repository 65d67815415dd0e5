//! The platform team's policy, from a YAML file (typically a mounted ConfigMap).
//! No file means the permissive defaults. A broken file at start is a startup error;
//! a broken file later keeps the last good policy.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use serde::Deserialize;
use tokio_util::sync::CancellationToken;

use crate::Error;
use crate::metrics::Metrics;

/// Replicas allowed per component when the policy does not say.
pub const DEFAULT_MAX_REPLICAS: i32 = 10;

/// What the platform allows.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct Policy {
    /// Registries images may come from (`docker.io`, `ghcr.io`, `registry.example.com:5000`).
    /// Empty: any registry.
    pub allowed_registries: Vec<String>,
    /// Most replicas of any one component.
    pub max_replicas: i32,
    /// Every enabled component must set cpu and memory limits.
    pub require_resource_limits: bool,
    /// Whether upstream's public demo keys (`iss: supabase-demo`) may be used.
    pub allow_demo_keys: bool,
    /// Whether images tagged `latest` may be used.
    pub allow_latest_tag: bool,
    /// Namespaces where projects may live; a trailing `*` matches a prefix. Empty: any.
    pub allowed_namespaces: Vec<String>,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            allowed_registries: Vec::new(),
            max_replicas: DEFAULT_MAX_REPLICAS,
            require_resource_limits: false,
            allow_demo_keys: true,
            allow_latest_tag: false,
            allowed_namespaces: Vec::new(),
        }
    }
}

impl Policy {
    /// Parses a policy document and checks it makes sense.
    pub fn parse(text: &str) -> Result<Policy, String> {
        // An empty file (a ConfigMap key left blank) means the defaults.
        if text.trim().is_empty() {
            return Ok(Policy::default());
        }
        let policy: Policy = serde_yaml::from_str(text).map_err(|e| e.to_string())?;
        if policy.max_replicas < 0 {
            return Err(format!("maxReplicas: must be at least 0, got {}", policy.max_replicas));
        }
        if let Some(bad) = policy.allowed_registries.iter().find(|r| r.is_empty() || r.contains('/')) {
            return Err(format!("allowedRegistries: {bad:?} is not a registry host (e.g. ghcr.io)"));
        }
        Ok(policy)
    }

    /// Reads and parses a policy file.
    pub fn load(path: &Path) -> Result<Policy, Error> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::Policy { path: path.to_path_buf(), reason: format!("cannot read it: {e}") })?;
        Policy::parse(&text).map_err(|reason| Error::Policy { path: path.to_path_buf(), reason })
    }

    /// Whether projects may live in `namespace`.
    pub fn namespace_allowed(&self, namespace: &str) -> bool {
        self.allowed_namespaces.is_empty()
            || self.allowed_namespaces.iter().any(|pattern| match pattern.strip_suffix('*') {
                Some(prefix) => namespace.starts_with(prefix),
                None => namespace == pattern,
            })
    }

    /// Whether images may come from `registry`.
    pub fn registry_allowed(&self, registry: &str) -> bool {
        self.allowed_registries.is_empty() || self.allowed_registries.iter().any(|r| r == registry)
    }
}

/// The current policy, shared with every request.
#[derive(Clone, Debug, Default)]
pub struct PolicyHandle {
    current: Arc<RwLock<Arc<Policy>>>,
}

impl PolicyHandle {
    /// A handle holding `policy`.
    pub fn new(policy: Policy) -> PolicyHandle {
        PolicyHandle { current: Arc::new(RwLock::new(Arc::new(policy))) }
    }

    /// The policy in force.
    pub fn get(&self) -> Arc<Policy> {
        self.current.read().map(|p| p.clone()).unwrap_or_default()
    }

    fn set(&self, policy: Policy) {
        if let Ok(mut current) = self.current.write() {
            *current = Arc::new(policy);
        }
    }

    /// Re-reads `path` every `interval` until `stop`; a broken file keeps the last good policy.
    pub async fn watch(self, path: PathBuf, interval: Duration, metrics: Arc<Metrics>, stop: CancellationToken) {
        let mut last_text = std::fs::read_to_string(&path).ok();
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(interval) => {}
            }
            let text = match std::fs::read_to_string(&path) {
                Ok(t) => t,
                Err(e) => {
                    if last_text.take().is_some() {
                        metrics.policy_reload(false);
                        tracing::warn!(path = %path.display(), error = %e, "policy file unreadable; keeping the last good policy");
                    }
                    continue;
                }
            };
            if last_text.as_deref() == Some(text.as_str()) {
                continue;
            }
            last_text = Some(text.clone());
            match Policy::parse(&text) {
                Ok(policy) => {
                    metrics.policy_reload(true);
                    tracing::info!(path = %path.display(), ?policy, "policy reloaded");
                    self.set(policy);
                }
                Err(reason) => {
                    metrics.policy_reload(false);
                    tracing::warn!(path = %path.display(), %reason, "policy file broken; keeping the last good policy");
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_file_is_permissive_but_bounded() {
        // `{}` is what config/webhook's ConfigMap ships.
        assert_eq!(Policy::parse("{}").unwrap(), Policy::default());
        let p = Policy::parse("").unwrap();
        assert_eq!(p.max_replicas, 10);
        assert!(p.allow_demo_keys && !p.allow_latest_tag && !p.require_resource_limits);
        assert!(p.namespace_allowed("anything") && p.registry_allowed("evil.example.com"));
    }

    #[test]
    fn a_full_policy_parses() {
        let p = Policy::parse(
            "allowedRegistries: [docker.io, ghcr.io]\nmaxReplicas: 3\nrequireResourceLimits: true\n\
             allowDemoKeys: false\nallowLatestTag: true\nallowedNamespaces: [prod, team-*]\n",
        )
        .unwrap();
        assert_eq!(p.max_replicas, 3);
        assert!(p.registry_allowed("ghcr.io") && !p.registry_allowed("quay.io"));
        assert!(p.namespace_allowed("prod") && p.namespace_allowed("team-a") && !p.namespace_allowed("production"));
    }

    #[test]
    fn typos_and_nonsense_are_errors() {
        assert!(Policy::parse("maxReplica: 3").unwrap_err().contains("maxReplica"));
        assert!(Policy::parse("maxReplicas: -1").is_err());
        assert!(Policy::parse("allowedRegistries: [ghcr.io/org]").is_err());
        assert!(Policy::parse("[not, a, map]").is_err());
    }
}
