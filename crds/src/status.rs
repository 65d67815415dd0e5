//! The `SupabaseProject` status: what the reconciler observed.

use crate::project::KeyScheme;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Observed state of a project, written only by the reconciler.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SupabaseProjectStatus {
    /// Lifecycle phase: Pending, InitializingDatabase, DeployingSecrets, DeployingComponents,
    /// Running, Updating, Degraded or Failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<Phase>,
    /// Human-readable detail of the phase, e.g. `waiting for auth: 0/1 ready`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The `metadata.generation` this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// When the reconciler last changed this status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_reconcile_time: Option<Time>,
    /// The release every enabled component runs (`spec.release` once an upgrade has rolled
    /// through all of them; until then the one before), or `custom` when the images are no
    /// known release's set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub release: Option<String>,
    /// Ready components out of enabled components, e.g. `5/7`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ready_components: Option<String>,
    /// Standard conditions: Ready, Progressing, Available, Degraded, SecretsReady,
    /// DatabaseInitialized and `<Component>Ready` for each component.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    pub conditions: Vec<Condition>,
    /// Per-component rollout state, keyed by component name (kong, auth, rest, ...).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub components: BTreeMap<String, ComponentStatus>,
    /// In-cluster URLs of each component's Service keyed by component name, and the external
    /// API URL under `api`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub endpoints: BTreeMap<String, String>,
    /// The public URL of the API (`spec.apiExternalUrl`, no trailing slash) while
    /// `spec.gateway` routes it into the cluster: set once the Ingress or HTTPRoute is in
    /// place, removed when it is not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Generation of the spec whose database initialization Job succeeded; the Job is never
    /// run again once this is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database_initialized_generation: Option<i64>,
    /// The keys in use: the scheme, and with the new keys the signing key's id and the ids
    /// of the keys that verify. Never a key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keys: Option<KeysStatus>,
    /// What the database preflight found: reachability, server version and each missing
    /// prerequisite with the component that needs it and how to fix it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database: Option<DatabaseStatus>,
}

/// Which keys a project uses, by id only (key ids are public: Auth serves them at
/// `/auth/v1/.well-known/jwks.json`).
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct KeysStatus {
    /// `legacy` (the HS256 secret and the anon/service_role JWTs only) or `both` (those and
    /// the asymmetric signing keys with the publishable and secret API keys).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheme: Option<KeyScheme>,
    /// `kid` of the key Auth signs sessions with and the gateway's internal JWTs carry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signing_key_id: Option<String>,
    /// `kid`s of the asymmetric keys in the set, in its order: tokens signed by any of
    /// them verify.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub key_ids: Vec<String>,
}

/// The result of the last database preflight (a read-only Job that connects with the
/// project's database settings).
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DatabaseStatus {
    /// The preflight Job this result came from; its name carries a hash of the database
    /// settings, so a new name means a new check.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checked_by: Option<String>,
    /// Whether the preflight could connect; unknown while the first check runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reachable: Option<bool>,
    /// The server's `server_version`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_version: Option<String>,
    /// What is missing or wrong, each for one component.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub findings: Vec<DatabaseFinding>,
}

/// One thing the database lacks.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DatabaseFinding {
    /// What was checked: `reachable`, `version`, `walLevel`, `replicationSlots`,
    /// `extension:<name>`, `role:<name>`, `privileges`.
    pub check: String,
    /// The component that needs it (`all` for every component that uses the database).
    pub component: String,
    /// `required`: the component is held back until it is fixed; `optional`: a warning,
    /// a feature of the component will not work.
    pub severity: String,
    /// What is missing, and how to fix it.
    pub message: String,
}

// Lifecycle phases of a project. (A plain comment: schemars would let a type doc replace the
// field doc in the CRD, and `kubectl explain` should show the field's.)
#[derive(Deserialize, Serialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum Phase {
    /// Accepted, nothing done yet.
    Pending,
    /// The database initialization Job is running.
    InitializingDatabase,
    /// Generated Secrets are being created.
    DeployingSecrets,
    /// Components are being rolled out for the first time.
    DeployingComponents,
    /// Every enabled component is ready at the current generation.
    Running,
    /// A spec change is being rolled out.
    Updating,
    /// A component that was ready is not any more.
    Degraded,
    /// The reconciler cannot act on this spec; see `message`.
    Failed,
}

impl Phase {
    /// The phase as written in status.
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Pending => "Pending",
            Phase::InitializingDatabase => "InitializingDatabase",
            Phase::DeployingSecrets => "DeployingSecrets",
            Phase::DeployingComponents => "DeployingComponents",
            Phase::Running => "Running",
            Phase::Updating => "Updating",
            Phase::Degraded => "Degraded",
            Phase::Failed => "Failed",
        }
    }
}

/// Rollout state of one component.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ComponentStatus {
    /// `Pending` (not applied yet), `Progressing`, `Ready` or `Degraded`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<String>,
    /// Whether the Deployment is fully rolled out and available at the current generation.
    #[serde(default)]
    pub ready: bool,
    /// Image the Deployment runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// The release whose image the Deployment runs, when it is one's (`spec.release`'s
    /// first); omitted for an image no known release pins.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub release: Option<String>,
    /// Desired replicas.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replicas: Option<i32>,
    /// Ready replicas.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ready_replicas: Option<i32>,
}
