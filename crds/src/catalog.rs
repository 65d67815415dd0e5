//! The component catalog: one description per component (a file each in `catalog/`),
//! in rollout order, read by the defaults, the webhook's rules and the reconciler's
//! builders, so no crate keeps a per-component table of its own.

use std::fmt;

use crate::project::KeyScheme;
use crate::refs::Value;

mod auth;
mod functions;
mod imgproxy;
mod kong;
mod meta;
mod realtime;
mod rest;
mod storage;
mod studio;

/// The Supabase components, in rollout order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Component {
    /// API gateway.
    Kong,
    /// GoTrue.
    Auth,
    /// PostgREST.
    Rest,
    /// Realtime.
    Realtime,
    /// imgproxy, Storage's image transformation (optional).
    Imgproxy,
    /// Storage API.
    Storage,
    /// postgres-meta.
    Meta,
    /// Studio (optional).
    Studio,
    /// Edge Functions (optional).
    Functions,
}

/// How the kubelet decides a component's container is ready.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Probe {
    /// Run a command in the container.
    Exec(&'static [&'static str]),
    /// `GET path` on a port.
    Http {
        /// Request path.
        path: &'static str,
        /// Container port.
        port: i32,
    },
    /// Open a TCP connection to a port.
    Tcp {
        /// Container port.
        port: i32,
    },
}

/// CPU and memory, as Kubernetes quantities.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Resources {
    /// Memory quantity, e.g. `128Mi`.
    pub memory: &'static str,
    /// CPU quantity, e.g. `100m`.
    pub cpu: &'static str,
}

/// The Secret-sourced values a component reads (see `crate::refs::source`), so the
/// reconciler can hash exactly the Secret data that should roll its pods. Values a project
/// does not use (no SMTP, no S3, no dashboard) have no source and are skipped; database
/// host, port and name count only when they come from a Secret.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Consumes {
    /// Read under either key scheme.
    pub always: &'static [Value],
    /// Read only while the project uses the legacy keys alone (`spec.jwt.keys: legacy`).
    pub legacy_keys: &'static [Value],
    /// Read only with `spec.jwt.keys: both`: a legacy project's hash, and so its pods,
    /// stay as they were.
    pub new_keys: &'static [Value],
}

/// How a component logs in to PostgreSQL: the role db-init creates for it
/// (reconciler/src/workloads/dbinit.sql) and the roles it must be a member of, which the
/// database preflight checks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DatabaseLogin {
    /// The login role.
    pub role: &'static str,
    /// Roles it switches to, so it must be their member.
    pub member_of: &'static [&'static str],
}

/// Everything the operator knows about one component, read by the defaults, the webhook's
/// rules and the reconciler's builders alike: adding a component is its description (a
/// file in `catalog/`), its builder and, if it is routed, its gateway routes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Entry {
    /// Which component.
    pub component: Component,
    /// Short name: the key under `spec.components`, the object-name suffix and the
    /// `app.kubernetes.io/component` label.
    pub name: &'static str,
    /// Prefix of the component's condition, `<prefix>Ready`.
    pub condition_prefix: &'static str,
    /// The port the Service exposes.
    pub port: i32,
    /// Readiness probe.
    pub readiness: Probe,
    /// Default limits (from the upstream operator's table).
    pub limits: Resources,
    /// Default requests: what the component needs idle, so a small cluster can schedule it.
    pub requests: Resources,
    /// Whether the component is deployed unless the user opts in.
    pub enabled_by_default: bool,
    /// The uid (and gid) its container runs as; every component runs as non-root, and the
    /// uid is numeric because `runAsNonRoot` cannot verify a user given by name. The facts
    /// behind each (the image's `USER`, what its entrypoint does) are recorded, with their
    /// upstream source, in `reconciler/contracts/<name>.toml`, whose tests check this.
    pub user: i64,
    /// The environment variables the operator sets on its container. The reconciler
    /// refuses to render any other (so this list cannot fall behind the builder), and the
    /// webhook refuses extra `env` that would replace one of them.
    pub env: &'static [&'static str],
    /// The Secret-sourced values it reads.
    pub consumes: Consumes,
    /// Its PostgreSQL login; `None` for a component that never connects to the database.
    pub database: Option<DatabaseLogin>,
}

impl Entry {
    /// The component's image in the operator's newest release (see `release`).
    pub fn image(&self) -> &'static str {
        crate::release::current().image(self.component)
    }

    /// The `<Component>Ready` condition type.
    pub fn condition_type(&self) -> String {
        format!("{}Ready", self.condition_prefix)
    }

    /// The values it reads under `scheme`, sorted.
    pub fn consumed(&self, scheme: KeyScheme) -> Vec<Value> {
        let by_scheme = match scheme {
            KeyScheme::Legacy => self.consumes.legacy_keys,
            KeyScheme::Both => self.consumes.new_keys,
        };
        let mut values = [self.consumes.always, by_scheme].concat();
        values.sort();
        values.dedup();
        values
    }

    /// Whether the operator sets the variable `name` on its container.
    pub fn owns_env(&self, name: &str) -> bool {
        self.env.contains(&name)
    }
}

/// Every component, in rollout order. Images are per release: see `release`.
pub const CATALOG: [Entry; 9] = [
    kong::ENTRY,
    auth::ENTRY,
    rest::ENTRY,
    realtime::ENTRY,
    // Before Storage, which calls it: Storage starts serving transformations only once
    // imgproxy answers (upstream's compose has Storage depend on it).
    imgproxy::ENTRY,
    storage::ENTRY,
    meta::ENTRY,
    studio::ENTRY,
    functions::ENTRY,
];

/// PostgREST's admin server port (readiness and liveness endpoints).
pub const REST_ADMIN_PORT: i32 = 3001;

/// Default replicas of every component.
pub const DEFAULT_REPLICAS: i32 = 1;

impl Component {
    /// The catalog row of this component.
    pub const fn entry(self) -> &'static Entry {
        // The enum's discriminants follow the catalog's order; a test keeps them in step.
        &CATALOG[self as usize]
    }

    /// Short name (`kong`, `auth`, ...).
    pub fn name(self) -> &'static str {
        self.entry().name
    }

    /// Looks a component up by its short name.
    pub fn from_name(name: &str) -> Option<Component> {
        CATALOG.iter().find(|e| e.name == name).map(|e| e.component)
    }
}

impl fmt::Display for Component {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enum_order_matches_catalog_order() {
        for (i, e) in CATALOG.iter().enumerate() {
            assert_eq!(e.component as usize, i, "{} out of place", e.name);
            assert_eq!(Component::from_name(e.name), Some(e.component));
        }
    }

    #[test]
    fn rollout_order_is_the_designed_one() {
        let names: Vec<_> = CATALOG.iter().map(|e| e.name).collect();
        assert_eq!(names, ["kong", "auth", "rest", "realtime", "imgproxy", "storage", "meta", "studio", "functions"]);
    }

    #[test]
    fn each_description_lists_valid_distinct_variables() {
        for e in &CATALOG {
            let mut seen = std::collections::BTreeSet::new();
            for name in e.env {
                assert!(
                    name.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'),
                    "{}: {name}",
                    e.name
                );
                assert!(seen.insert(name), "{}: {name} listed twice", e.name);
            }
        }
    }

    #[test]
    fn the_key_schemes_consume_disjoint_extras() {
        for e in &CATALOG {
            let c = e.consumes;
            for v in c.legacy_keys.iter().chain(c.new_keys) {
                assert!(!c.always.contains(v), "{}: {v:?} is both always and per scheme", e.name);
            }
            assert!(!c.legacy_keys.iter().any(|v| c.new_keys.contains(v)), "{}", e.name);
        }
        // PostgREST swaps the secret for the key set; every other component only adds.
        let rest = Component::Rest.entry();
        assert!(rest.consumed(KeyScheme::Legacy).contains(&Value::JwtSecret));
        assert!(!rest.consumed(KeyScheme::Both).contains(&Value::JwtSecret));
        assert!(rest.consumed(KeyScheme::Both).contains(&Value::PublicKeys));
    }

    #[test]
    fn every_component_that_reads_the_database_password_has_a_login() {
        for e in &CATALOG {
            let reads = e.consumes.always.contains(&Value::DbPassword);
            assert_eq!(reads, e.database.is_some(), "{}", e.name);
            assert!(e.user > 0, "{} runs as root", e.name);
        }
    }

    #[test]
    fn only_imgproxy_studio_and_functions_are_opt_in() {
        let opt_in: Vec<_> = CATALOG.iter().filter(|e| !e.enabled_by_default).map(|e| e.name).collect();
        assert_eq!(opt_in, ["imgproxy", "studio", "functions"]);
    }
}
