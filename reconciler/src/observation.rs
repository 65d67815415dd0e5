//! What one reconcile saw, as plain data: the rollout and the database initialization
//! produce it, the status computation reads it. Kept apart from both so that the pure
//! status code depends on no module that talks to the apiserver.

use std::collections::BTreeSet;

use crds::Component;
use crds::status::DatabaseStatus;

use crate::deployment_view::DeploymentView;

/// What the cluster shows of one enabled component.
#[derive(Clone, Debug)]
pub struct Observed {
    /// Which component.
    pub component: Component,
    /// Its Deployment as the cache holds it, when it exists.
    pub deployment: Option<DeploymentView>,
}

/// Where database initialization stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DbInit {
    /// `spec.database.initialize` is off and nothing was ever recorded.
    NotRequested,
    /// Succeeded for this generation (recorded in status).
    Done(i64),
    /// The Job was just created or is still running.
    Running(String),
    /// The Job failed; the message says how to retry.
    Failed(String),
    /// Not started: the database preflight has no answer yet, or the database is not
    /// reachable (the message says which).
    Waiting(String),
}

impl DbInit {
    /// Whether components may roll out.
    pub fn allows_rollout(&self) -> bool {
        matches!(self, DbInit::NotRequested | DbInit::Done(_))
    }
}

/// Everything one reconcile learned.
#[derive(Clone, Debug)]
pub struct Observation {
    /// Project name, namespace and generation.
    pub name: String,
    /// Namespace.
    pub namespace: String,
    /// `metadata.generation`.
    pub generation: Option<i64>,
    /// `spec.apiExternalUrl`.
    pub api_url: String,
    /// Why the reconciler cannot act (phase Failed); empty when it can.
    pub problems: Vec<String>,
    /// Whether every Secret the components consume exists.
    pub secrets_ready: bool,
    /// Database initialization, when it was reached.
    pub db: Option<DbInit>,
    /// The enabled components, in order.
    pub components: Vec<Observed>,
    /// The keys in use, once the generated Secrets are there.
    pub keys: Option<crds::status::KeysStatus>,
    /// The database preflight's result (or that it runs), when it was reached.
    pub database: Option<DatabaseStatus>,
    /// Components held back by a missing hard prerequisite of the database.
    pub held: BTreeSet<Component>,
    /// `spec.release` (after defaulting: inferred for a project stored without it).
    pub release: Option<String>,
    /// What the gateway step did; `None` when it was not reached.
    pub gateway: Option<crate::gateway::Exposure>,
}
