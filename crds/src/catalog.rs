//! The component catalog: one ordered table used by the defaults, the webhook's rules
//! and the reconciler's builders. The order is the rollout order.

use std::fmt;

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
    /// Storage API.
    Storage,
    /// postgres-meta.
    Meta,
    /// Studio (optional).
    Studio,
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

/// One row of the catalog.
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
}

/// Every component, in rollout order. Images are per release: see `release`.
pub const CATALOG: [Entry; 7] = [
    Entry {
        component: Component::Kong,
        name: "kong",
        condition_prefix: "Kong",
        port: 8000,
        readiness: Probe::Exec(&["kong", "health"]),
        limits: Resources { memory: "2.5Gi", cpu: "500m" },
        requests: Resources { memory: "256Mi", cpu: "100m" },
        enabled_by_default: true,
    },
    Entry {
        component: Component::Auth,
        name: "auth",
        condition_prefix: "Auth",
        port: 9999,
        readiness: Probe::Http { path: "/health", port: 9999 },
        limits: Resources { memory: "128Mi", cpu: "100m" },
        requests: Resources { memory: "64Mi", cpu: "50m" },
        enabled_by_default: true,
    },
    Entry {
        component: Component::Rest,
        name: "rest",
        condition_prefix: "PostgREST",
        port: 3000,
        // PostgREST answers readiness on its admin server, not on the API port.
        readiness: Probe::Http { path: "/ready", port: REST_ADMIN_PORT },
        limits: Resources { memory: "256Mi", cpu: "200m" },
        requests: Resources { memory: "128Mi", cpu: "50m" },
        enabled_by_default: true,
    },
    Entry {
        component: Component::Realtime,
        name: "realtime",
        condition_prefix: "Realtime",
        port: 4000,
        // Realtime's unauthenticated health route (lib/realtime_web/router.ex, supabase/realtime
        // @ v2.129.8 2aa99787): the tenant's `/api/tenants/<t>/health`, which upstream's compose
        // asks, needs a bearer key that a kubelet probe cannot carry without putting it in the
        // pod spec; `/healthcheck` answers once the endpoint serves.
        readiness: Probe::Http { path: "/healthcheck", port: 4000 },
        limits: Resources { memory: "256Mi", cpu: "200m" },
        requests: Resources { memory: "128Mi", cpu: "50m" },
        enabled_by_default: true,
    },
    Entry {
        component: Component::Storage,
        name: "storage",
        condition_prefix: "Storage",
        port: 5000,
        readiness: Probe::Http { path: "/status", port: 5000 },
        limits: Resources { memory: "128Mi", cpu: "100m" },
        requests: Resources { memory: "64Mi", cpu: "50m" },
        enabled_by_default: true,
    },
    Entry {
        component: Component::Meta,
        name: "meta",
        condition_prefix: "Meta",
        port: 8080,
        readiness: Probe::Http { path: "/health", port: 8080 },
        limits: Resources { memory: "128Mi", cpu: "100m" },
        requests: Resources { memory: "64Mi", cpu: "50m" },
        enabled_by_default: true,
    },
    Entry {
        component: Component::Studio,
        name: "studio",
        condition_prefix: "Studio",
        port: 3000,
        readiness: Probe::Http { path: "/api/platform/profile", port: 3000 },
        limits: Resources { memory: "256Mi", cpu: "100m" },
        requests: Resources { memory: "128Mi", cpu: "50m" },
        enabled_by_default: false,
    },
];

/// PostgREST's admin server port (readiness and liveness endpoints).
pub const REST_ADMIN_PORT: i32 = 3001;

/// Default replicas of every component.
pub const DEFAULT_REPLICAS: i32 = 1;

impl Component {
    /// The catalog row of this component.
    pub fn entry(self) -> &'static Entry {
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
        assert_eq!(names, ["kong", "auth", "rest", "realtime", "storage", "meta", "studio"]);
    }

    #[test]
    fn only_studio_is_opt_in() {
        let opt_in: Vec<_> = CATALOG.iter().filter(|e| !e.enabled_by_default).map(|e| e.name).collect();
        assert_eq!(opt_in, ["studio"]);
    }
}
