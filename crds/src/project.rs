//! The `SupabaseProject` spec: what a user writes. Every field carries a doc
//! comment because it becomes the CRD description that `kubectl explain` shows.
//!
//! Fields the mutating webhook fills are `Option`s, so "omitted" and "set to the
//! default" stay distinguishable and the defaulting patch is exact.

use k8s_openapi::api::core::v1::{Affinity, EnvVar, ResourceRequirements, Toleration};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use crate::catalog::{CATALOG, Component};
use crate::status::SupabaseProjectStatus;

/// A self-hosted Supabase project: the API gateway, Auth, PostgREST, Realtime, Storage,
/// postgres-meta and (optionally) Studio, connected to an external PostgreSQL and, for
/// storage, an optional external S3 bucket.
#[derive(CustomResource, Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "supabase-operator.io",
    version = "v1alpha1",
    kind = "SupabaseProject",
    plural = "supabaseprojects",
    singular = "supabaseproject",
    shortname = "sbp",
    shortname = "supabase",
    category = "supabase",
    namespaced,
    status = "SupabaseProjectStatus",
    printcolumn = r#"{"name":"Phase","type":"string","jsonPath":".status.phase","description":"Lifecycle phase of the project"}"#,
    printcolumn = r#"{"name":"Release","type":"string","jsonPath":".status.release","description":"The Supabase release every component runs (custom: images of no known release)"}"#,
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.readyComponents","description":"Ready components out of enabled components"}"#,
    printcolumn = r#"{"name":"Database","type":"string","jsonPath":".status.conditions[?(@.type==\"DatabaseReady\")].reason","description":"The database preflight: Ready, Missing (what, in status.database), Unreachable or Checking"}"#,
    printcolumn = r#"{"name":"API URL","type":"string","jsonPath":".spec.apiExternalUrl","description":"External URL of the API gateway"}"#,
    printcolumn = r#"{"name":"URL","type":"string","priority":1,"jsonPath":".status.url","description":"The public URL of the API, while spec.gateway exposes it"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct SupabaseProjectSpec {
    /// Absolute http(s) URL under which clients reach the API gateway (Kong), e.g.
    /// `https://api.example.com`. Auth builds its callback URLs from it.
    pub api_external_url: String,

    /// Absolute http(s) URL of the application that uses this project; Auth redirects
    /// there after sign-in. Defaults to `apiExternalUrl`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub site_url: Option<String>,

    /// The Supabase release: a named set of component images that upstream publishes as
    /// tested together (its self-hosted release, e.g. `0.8.1`). Defaulted on creation to
    /// the operator's newest; a project keeps its release until this field changes, also
    /// when a newer operator knows newer ones. Changing it is an upgrade (or a rollback):
    /// every image that followed the old release moves to the new one's, component by
    /// component in rollout order; an image set under `components` stays as set. Omitted
    /// on projects stored before the field existed: they keep their stored images.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub release: Option<String>,

    /// The external PostgreSQL database. Every service connects as its own Supabase role
    /// (`supabase_auth_admin`, `authenticator`, `supabase_storage_admin`, `supabase_admin`)
    /// with the one project password from the referenced Secret.
    pub database: DatabaseSpec,

    /// Where Storage keeps objects: a local volume (`file`) or an external S3 bucket (`s3`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage: Option<StorageSpec>,

    /// JWT signing secret and API keys: the legacy ones and, with `keys: both`, Supabase's
    /// new ones. What is not referenced the reconciler generates into a Secret
    /// `<name>-jwt` once and never rotates by itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwt: Option<JwtSpec>,

    /// Outgoing mail for Auth (confirmation, recovery, magic links). Omit to disable mail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub smtp: Option<SmtpSpec>,

    /// Basic-auth credentials that protect Studio behind the API gateway.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dashboard: Option<DashboardSpec>,

    /// Per-component settings: image, replicas, resources, extra env and scheduling.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub components: Option<ComponentsSpec>,

    /// Reach the API from outside the cluster: an Ingress or a Gateway API HTTPRoute for
    /// the host of `apiExternalUrl`, routing everything (WebSockets included) to Kong.
    /// Omit to keep the API inside the cluster (Kong's Service only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway: Option<crate::gateway::GatewaySpec>,
}

/// The external PostgreSQL database and how to reach it.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DatabaseSpec {
    /// Secret in the project's namespace holding the connection details. Only the password
    /// is always read from it; host, port and database name are read from it unless given
    /// literally below.
    pub secret_ref: DatabaseSecretRef,

    /// Database host name. When set, the Secret's host key is not read (useful for
    /// Secrets that hold only credentials, e.g. Zalando postgres-operator's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,

    /// Database port. When set, the Secret's port key is not read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<i32>,

    /// Database name. When set, the Secret's database key is not read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,

    /// libpq `sslmode` every service uses. Defaults to `prefer`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssl_mode: Option<SslMode>,

    /// Run a one-off Job that creates the Supabase roles, schemas and extensions before the
    /// components start. It runs once per project and is recorded in status, so it never
    /// re-runs on upgrade. Defaults to `false` (the database is already prepared, e.g. the
    /// `supabase/postgres` image).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initialize: Option<bool>,
}

// libpq `sslmode` values. (A plain comment: schemars would let a type doc replace the
// field doc in the CRD, and `kubectl explain` should show the field's.)
#[derive(Deserialize, Serialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum SslMode {
    /// No TLS.
    Disable,
    /// TLS if the server insists.
    Allow,
    /// TLS when the server offers it.
    Prefer,
    /// TLS always, certificate not verified.
    Require,
    /// TLS always, certificate chain verified.
    VerifyCa,
    /// TLS always, chain and host name verified.
    VerifyFull,
}

impl SslMode {
    /// The libpq spelling, as used in connection URLs.
    pub fn as_str(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Allow => "allow",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        }
    }
}

/// A Secret with the database connection details; the key names are overridable so that
/// Secrets written by other operators work as they are (e.g. CloudNativePG's `dbname`).
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DatabaseSecretRef {
    /// Name of the Secret in the project's namespace.
    pub name: String,
    /// Key holding the host name. Defaults to `host`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_key: Option<String>,
    /// Key holding the port. Defaults to `port`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port_key: Option<String>,
    /// Key holding the database name. Defaults to `database`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database_key: Option<String>,
    /// Key holding the password of the Supabase roles. Defaults to `password`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_key: Option<String>,
}

/// Object storage for the Storage API.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct StorageSpec {
    /// `file` (a volume of the Storage pod, see `volume`) or `s3`. Defaults to `file`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backend: Option<StorageBackend>,
    /// Largest accepted upload in bytes. Defaults to 52428800 (50 MiB).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_size_limit: Option<i64>,
    /// The S3 bucket; required when `backend` is `s3`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s3: Option<S3Spec>,
    /// The PersistentVolumeClaim `<name>-storage` that holds the `file` backend's objects,
    /// so they survive a restart of the Storage pod. A project created with this operator
    /// version and the `file` backend gets one with the defaults below. A project stored
    /// before keeps its emptyDir (objects lost whenever the pod restarts) until its owner
    /// sets this field, e.g. to `{}`. Not used with the `s3` backend.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volume: Option<StorageVolumeSpec>,
}

/// The claim behind the `file` backend. Kubernetes keeps most of a claim fixed once it
/// exists: only `size` may change afterwards, and only upwards.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct StorageVolumeSpec {
    /// Requested capacity, a Kubernetes quantity such as `1Gi`. Defaults to `1Gi` (the
    /// community Helm chart's `persistence.storage.size`). May grow later where the
    /// storage class allows volume expansion; never shrink.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<Quantity>,
    /// StorageClass of the claim. Omit for the cluster's default class. Fixed once the
    /// claim exists.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_class_name: Option<String>,
    /// Access modes of the claim. Defaults to `[ReadWriteOnce]`: one node mounts it, so
    /// Storage runs one replica and is replaced by stopping the old pod first.
    /// `ReadWriteMany` (a class that supports it, e.g. NFS or CephFS) lets Storage run
    /// several replicas. Fixed once the claim exists.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_modes: Option<Vec<VolumeAccessMode>>,
    /// What deleting the project does to the claim and the files on it. `retain` (the
    /// default): the claim is not owned by the project and stays, so files are never lost
    /// by deleting a project; delete it yourself when they are no longer needed (a project
    /// created again with the same name mounts it again). `delete`: the project owns the
    /// claim and the garbage collector deletes it, and with it (depending on the
    /// class's reclaim policy) every stored file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub when_deleted: Option<VolumeRetention>,
}

// Access modes a Storage volume may have; Storage writes, so no read-only mode. (A plain
// comment: schemars would let a type doc replace the field doc in the CRD.)
#[derive(Deserialize, Serialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum VolumeAccessMode {
    /// Mounted read-write by one node.
    ReadWriteOnce,
    /// Mounted read-write by many nodes.
    ReadWriteMany,
}

impl VolumeAccessMode {
    /// The spelling Kubernetes uses in a claim.
    pub fn as_str(self) -> &'static str {
        match self {
            VolumeAccessMode::ReadWriteOnce => "ReadWriteOnce",
            VolumeAccessMode::ReadWriteMany => "ReadWriteMany",
        }
    }
}

// What deleting the project does to the claim. (A plain comment, as above.)
#[derive(Deserialize, Serialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum VolumeRetention {
    /// The claim outlives the project.
    Retain,
    /// The claim is deleted with the project.
    Delete,
}

// Storage backends. (A plain comment: schemars would let a type doc replace the
// field doc in the CRD, and `kubectl explain` should show the field's.)
#[derive(Deserialize, Serialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum StorageBackend {
    /// Objects on a volume of the Storage pod.
    File,
    /// Objects in an S3-compatible bucket.
    S3,
}

impl StorageBackend {
    /// The value Storage expects in `STORAGE_BACKEND`.
    pub fn as_str(self) -> &'static str {
        match self {
            StorageBackend::File => "file",
            StorageBackend::S3 => "s3",
        }
    }
}

/// An S3-compatible bucket.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct S3Spec {
    /// Bucket name (3–63 characters: lowercase letters, digits, dots and hyphens).
    pub bucket: String,
    /// Bucket region, e.g. `us-east-1`.
    pub region: String,
    /// Absolute http(s) URL of an S3-compatible endpoint (MinIO, R2, ...). Omit for AWS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// Address the bucket in the path rather than the host name; needed by most
    /// S3-compatible servers. Defaults to `true` when `endpoint` is set, else `false`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub force_path_style: Option<bool>,
    /// Secret holding the access key pair.
    pub secret_ref: S3SecretRef,
}

/// A Secret with S3 credentials.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct S3SecretRef {
    /// Name of the Secret in the project's namespace.
    pub name: String,
    /// Key holding the access key id. Defaults to `accessKeyId`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_key_id_key: Option<String>,
    /// Key holding the secret access key. Defaults to `secretAccessKey`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_access_key_key: Option<String>,
}

/// JWT signing secret and the two API keys signed with it, and Supabase's new keys.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct JwtSpec {
    /// Secret holding the signing secret (at least 32 characters, used as raw bytes) and the
    /// `anon` and `service_role` keys (HS256 JWTs signed with it). Omit to have the operator
    /// generate `<name>-jwt`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<JwtSecretRef>,
    /// Lifetime in seconds of the access tokens Auth issues. Defaults to 3600.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiry_seconds: Option<i64>,
    /// Which keys the project uses. `legacy`: the HS256 JWT secret and the `anon` and
    /// `service_role` JWTs signed with it, nothing else. `both`: those, still valid, plus
    /// Supabase's new keys: an asymmetric signing key (EC P-256, ES256; its public part
    /// published as a JWKS) with which Auth signs sessions, and the opaque API keys
    /// `sb_publishable_...` and `sb_secret_...`, which the gateway swaps for internal ES256
    /// JWTs. Defaults to `both` for a project created with this operator version; a
    /// project stored before keeps `legacy`, and its configuration, until its owner sets
    /// `both`. Going back to `legacy` stops the new keys and the sessions they signed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keys: Option<KeyScheme>,
    /// `kid` of the key in `signingKeysRef` that signs Auth's tokens (the others only
    /// verify). Rotation: add the new key to the signing keys, set this to its kid, and
    /// remove the old key once the sessions it signed have expired (`expirySeconds`).
    /// When omitted, the one key whose `key_ops` contains `sign` signs, as Auth requires.
    /// Only with `signingKeysRef`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signing_key_id: Option<String>,
    /// Secret holding the signing keys, in upstream's shapes: the private set (a JSON
    /// array of JWKs, upstream's `JWT_KEYS`: EC P-256 keys with `alg: ES256` or RSA keys
    /// with `alg: RS256`, each with a unique `kid`, and optionally the legacy secret as
    /// an `oct` key, which must then be `secretRef`'s secret) and, optionally, the public
    /// set. Omit to have the operator generate an EC key into `<name>-jwt` once. Only with
    /// `keys: both`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signing_keys_ref: Option<SigningKeysSecretRef>,
    /// Secret holding the opaque API keys and, optionally, the internal JWTs the gateway
    /// sends in their place. Omit to have the operator generate them once. Only with
    /// `keys: both`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_keys_ref: Option<ApiKeysSecretRef>,
}

// Which keys a project uses. (A plain comment: schemars would let a type doc replace
// the field doc in the CRD, and `kubectl explain` should show the field's.)
#[derive(Deserialize, Serialize, Clone, Copy, Debug, PartialEq, Eq, Hash, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum KeyScheme {
    /// The HS256 secret and the anon/service_role JWTs only.
    Legacy,
    /// The legacy keys and the new ones: asymmetric signing keys and opaque API keys.
    Both,
}

impl KeyScheme {
    /// The spelling in the spec.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyScheme::Legacy => "legacy",
            KeyScheme::Both => "both",
        }
    }
}

/// A Secret with signing keys as JWKs.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SigningKeysSecretRef {
    /// Name of the Secret in the project's namespace.
    pub name: String,
    /// Key holding the private set: a JSON array of JWKs, as Auth reads
    /// `GOTRUE_JWT_KEYS` (upstream's `JWT_KEYS`). Defaults to `keys`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keys_key: Option<String>,
    /// Key holding the public set, `{"keys": [...]}` (upstream's `JWT_JWKS`); it must be
    /// the public part of the private set. Omit to have the operator derive it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks_key: Option<String>,
}

/// A Secret with the opaque API keys, and optionally the internal JWTs behind them.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApiKeysSecretRef {
    /// Name of the Secret in the project's namespace.
    pub name: String,
    /// Key holding the publishable key (`sb_publishable_`, 46 characters); the gateway
    /// treats it as the anon key. Defaults to `publishableKey`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub publishable_key_key: Option<String>,
    /// Key holding the secret key (`sb_secret_`, 41 characters); the gateway treats it as
    /// the service_role key. Defaults to `secretKey`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_key_key: Option<String>,
    /// Key holding the internal anon JWT (upstream's `ANON_KEY_ASYMMETRIC`), signed by a
    /// key of `signingKeysRef`. Set together with `serviceJwtKey`, and only with
    /// `signingKeysRef`. Omit to have the operator sign it with the signing key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub anon_jwt_key: Option<String>,
    /// Key holding the internal service_role JWT (upstream's
    /// `SERVICE_ROLE_KEY_ASYMMETRIC`), as `anonJwtKey`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_jwt_key: Option<String>,
}

/// A Secret with the JWT signing secret and API keys.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct JwtSecretRef {
    /// Name of the Secret in the project's namespace.
    pub name: String,
    /// Key holding the signing secret. Defaults to `secret`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_key: Option<String>,
    /// Key holding the anon key. Defaults to `anonKey`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub anon_key_key: Option<String>,
    /// Key holding the service-role key. Defaults to `serviceKey`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_key_key: Option<String>,
}

/// SMTP server Auth sends mail through.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SmtpSpec {
    /// SMTP server host name.
    pub host: String,
    /// SMTP server port. Defaults to 587.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<i32>,
    /// Sender address, e.g. `no-reply@example.com`.
    pub sender: String,
    /// Display name of the sender. Defaults to `Supabase`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sender_name: Option<String>,
    /// Secret holding the SMTP user and password.
    pub secret_ref: CredentialsSecretRef,
}

/// Studio access through the API gateway.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DashboardSpec {
    /// Secret holding the basic-auth user name and password for Studio.
    pub secret_ref: CredentialsSecretRef,
}

/// A Secret with a user name and a password.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CredentialsSecretRef {
    /// Name of the Secret in the project's namespace.
    pub name: String,
    /// Key holding the user name. Defaults to `username`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username_key: Option<String>,
    /// Key holding the password. Defaults to `password`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_key: Option<String>,
}

/// Settings of each component. Every component is filled in by the defaulting webhook.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ComponentsSpec {
    /// The API gateway (Kong, declarative, no database).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kong: Option<KongSpec>,
    /// Auth (GoTrue).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<AuthSpec>,
    /// PostgREST, the REST API over the database.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rest: Option<RestSpec>,
    /// Realtime, WebSocket subscriptions to database changes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub realtime: Option<RealtimeSpec>,
    /// imgproxy, which transforms Storage's images. Disabled unless `enabled: true`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub imgproxy: Option<ImgproxySpec>,
    /// The Storage API.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage: Option<StorageComponentSpec>,
    /// postgres-meta, the database management API used by Studio.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<MetaSpec>,
    /// Studio, the dashboard. Disabled unless `enabled: true`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub studio: Option<StudioSpec>,
    /// Edge Functions (`supabase/edge-runtime`). Disabled unless `enabled: true`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub functions: Option<FunctionsSpec>,
}

/// What every component's workload accepts.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WorkloadSpec {
    /// Container image with a tag or digest. Defaults to the version this operator release pins.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// Number of pods (0 scales the component down; it then counts as ready). Defaults to 1
    /// without `autoscaling`. With `autoscaling` the autoscaler sets the number of pods:
    /// the defaulting webhook removes this field, and the operator leaves the Deployment's
    /// replicas to the autoscaler. Above 1, the component gets a PodDisruptionBudget.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replicas: Option<i32>,
    /// A HorizontalPodAutoscaler for the component, between `minReplicas` and
    /// `maxReplicas` pods, aiming at a CPU and/or memory utilization. Takes precedence
    /// over `replicas` (as the community Helm chart's `autoscaling.enabled` does). Switching
    /// a running component to it keeps its current number of pods; removing it sets the
    /// Deployment back to `replicas` (1 unless set). Needs the cluster's metrics API
    /// (e.g. metrics-server) to act. Not for Storage on a ReadWriteOnce claim.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub autoscaling: Option<crate::scaling::AutoscalingSpec>,
    /// CPU and memory requests and limits. Defaults to the catalog's values.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceRequirements>,
    /// Extra environment variables. They may not override a variable the operator sets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<Vec<EnvVar>>,
    /// Node labels the pods must match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_selector: Option<BTreeMap<String, String>>,
    /// Taints the pods tolerate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tolerations: Option<Vec<Toleration>>,
    /// Affinity and anti-affinity rules of the pods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub affinity: Option<Affinity>,
}

/// The API gateway.
// Deserialize: `component_decode`, in one pass.
#[derive(Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct KongSpec {
    #[serde(flatten)]
    #[allow(missing_docs)]
    pub workload: WorkloadSpec,
}

/// Auth (GoTrue).
// Deserialize: `component_decode`, in one pass.
#[derive(Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuthSpec {
    #[serde(flatten)]
    #[allow(missing_docs)]
    pub workload: WorkloadSpec,
    /// Refuse every new sign-up. Defaults to `false`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disable_signup: Option<bool>,
    /// Allow sign-up with email and password. Defaults to `true`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enable_email_signup: Option<bool>,
    /// Confirm email addresses without sending a confirmation mail. Defaults to `true`
    /// without `spec.smtp` (no mail could confirm them) and to `false` with it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enable_email_autoconfirm: Option<bool>,
    /// Allow anonymous sign-ins. Defaults to `false`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enable_anonymous_users: Option<bool>,
    /// Further URLs Auth may redirect to after sign-in. Defaults to none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub additional_redirect_urls: Option<Vec<String>>,
}

/// PostgREST.
// Deserialize: `component_decode`, in one pass.
#[derive(Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RestSpec {
    #[serde(flatten)]
    #[allow(missing_docs)]
    pub workload: WorkloadSpec,
    /// Database schemas exposed through the REST API. Defaults to
    /// `public`, `storage`, `graphql_public`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schemas: Option<Vec<String>>,
    /// Largest number of rows one request returns. Defaults to 1000.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_rows: Option<i32>,
}

/// Realtime.
// Deserialize: `component_decode`, in one pass.
#[derive(Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RealtimeSpec {
    #[serde(flatten)]
    #[allow(missing_docs)]
    pub workload: WorkloadSpec,
    /// Secret holding Realtime's `SECRET_KEY_BASE` (64 characters) and `DB_ENC_KEY`
    /// (exactly 16 characters). Omit to have the operator generate them once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<RealtimeSecretRef>,
}

/// A Secret with Realtime's own secrets.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RealtimeSecretRef {
    /// Name of the Secret in the project's namespace.
    pub name: String,
    /// Key holding `SECRET_KEY_BASE`. Defaults to `secretKeyBase`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_key_base_key: Option<String>,
    /// Key holding `DB_ENC_KEY`. Defaults to `dbEncKey`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub db_enc_key_key: Option<String>,
}

/// The Storage API workload (where objects go is `spec.storage`).
// Deserialize: `component_decode`, in one pass.
#[derive(Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct StorageComponentSpec {
    #[serde(flatten)]
    #[allow(missing_docs)]
    pub workload: WorkloadSpec,
}

/// imgproxy, Storage's image transformation (`/storage/v1/render/image/...`).
// Deserialize: `component_decode`, in one pass.
#[derive(Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ImgproxySpec {
    #[serde(flatten)]
    #[allow(missing_docs)]
    pub workload: WorkloadSpec,
    /// Deploy imgproxy and turn on Storage's image transformation. Defaults to `false`.
    /// With the `file` backend it reads Storage's volume claim (`spec.storage.volume`,
    /// required), read-only; on a ReadWriteOnce claim its pods run on Storage's node.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
}

/// postgres-meta.
// Deserialize: `component_decode`, in one pass.
#[derive(Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MetaSpec {
    #[serde(flatten)]
    #[allow(missing_docs)]
    pub workload: WorkloadSpec,
    /// Secret holding postgres-meta's `CRYPTO_KEY` (at least 32 characters). Omit to have
    /// the operator generate it once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<MetaSecretRef>,
}

/// A Secret with postgres-meta's crypto key.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MetaSecretRef {
    /// Name of the Secret in the project's namespace.
    pub name: String,
    /// Key holding the crypto key. Defaults to `cryptoKey`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crypto_key_key: Option<String>,
}

/// Studio.
// Deserialize: `component_decode`, in one pass.
#[derive(Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct StudioSpec {
    #[serde(flatten)]
    #[allow(missing_docs)]
    pub workload: WorkloadSpec,
    /// Deploy Studio. Defaults to `false`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// Organization name Studio shows. Defaults to `Default Organization`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organization: Option<String>,
    /// Project name Studio shows. Defaults to `Default Project`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
    /// Secret holding an OpenAI API key for Studio's AI assistant (`OPENAI_API_KEY`).
    /// Omit to run Studio without it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ai_secret_ref: Option<StudioAiSecretRef>,
}

/// A Secret with Studio's OpenAI API key.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct StudioAiSecretRef {
    /// Name of the Secret in the project's namespace.
    pub name: String,
    /// Key holding the API key. Defaults to `openaiApiKey`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub openai_api_key_key: Option<String>,
}

/// Edge Functions: the runtime serves `/functions/v1/<name>` through the gateway by running
/// the function in the directory `<name>` of its code (`code`), behind the operator's
/// "main" service, which checks the caller's JWT when `verifyJwt` is on.
// Deserialize: `component_decode`, in one pass.
#[derive(Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct FunctionsSpec {
    #[serde(flatten)]
    #[allow(missing_docs)]
    pub workload: WorkloadSpec,
    /// Deploy Edge Functions. Defaults to `false`. Requires `code`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// Refuse a call without a valid JWT (signed with the project's JWT secret, or with
    /// `spec.jwt.keys: both` by a key of its public key set) in `Authorization` or, for the
    /// new API keys, in the `sb-api-key` header the gateway sets. Applies to every function.
    /// Defaults to `false`, as upstream's `FUNCTIONS_VERIFY_JWT`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verify_jwt: Option<bool>,
    /// Where the functions' code is: a ConfigMap or a volume claim (exactly one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<FunctionsCode>,
}

/// The functions' code, mounted read-only at `/home/deno/functions`: one directory per
/// function, named as the function, holding its `index.ts`.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct FunctionsCode {
    /// A ConfigMap in the project's namespace holding the files. A change to its data
    /// rolls the runtime's pods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_map: Option<FunctionsConfigMap>,
    /// A PersistentVolumeClaim in the project's namespace whose root holds one directory
    /// per function (as upstream's `volumes/functions`). Mounted read-only; the runtime
    /// reads a function's files when it first serves it, so updates need no restart.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claim_name: Option<String>,
}

/// A ConfigMap of function code. ConfigMap keys cannot hold `/`, so `items` lays the keys
/// out as files, e.g. `{key: hello.ts, path: hello/index.ts}` for the function `hello`.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct FunctionsConfigMap {
    /// Name of the ConfigMap.
    pub name: String,
    /// Each key and the relative path it is mounted at (at least one; a key not listed is
    /// not mounted).
    pub items: Vec<k8s_openapi::api::core::v1::KeyToPath>,
}

impl ComponentsSpec {
    /// The workload settings of one component, when present.
    pub fn workload(&self, component: Component) -> Option<&WorkloadSpec> {
        match component {
            Component::Kong => self.kong.as_ref().map(|c| &c.workload),
            Component::Auth => self.auth.as_ref().map(|c| &c.workload),
            Component::Rest => self.rest.as_ref().map(|c| &c.workload),
            Component::Realtime => self.realtime.as_ref().map(|c| &c.workload),
            Component::Imgproxy => self.imgproxy.as_ref().map(|c| &c.workload),
            Component::Storage => self.storage.as_ref().map(|c| &c.workload),
            Component::Meta => self.meta.as_ref().map(|c| &c.workload),
            Component::Studio => self.studio.as_ref().map(|c| &c.workload),
            Component::Functions => self.functions.as_ref().map(|c| &c.workload),
        }
    }

    /// The workload settings of one component, to change them; `None` when absent.
    pub fn workload_mut(&mut self, component: Component) -> Option<&mut WorkloadSpec> {
        match component {
            Component::Kong => self.kong.as_mut().map(|c| &mut c.workload),
            Component::Auth => self.auth.as_mut().map(|c| &mut c.workload),
            Component::Rest => self.rest.as_mut().map(|c| &mut c.workload),
            Component::Realtime => self.realtime.as_mut().map(|c| &mut c.workload),
            Component::Imgproxy => self.imgproxy.as_mut().map(|c| &mut c.workload),
            Component::Storage => self.storage.as_mut().map(|c| &mut c.workload),
            Component::Meta => self.meta.as_mut().map(|c| &mut c.workload),
            Component::Studio => self.studio.as_mut().map(|c| &mut c.workload),
            Component::Functions => self.functions.as_mut().map(|c| &mut c.workload),
        }
    }

    /// The workload settings of every component present, in rollout order.
    pub fn workloads(&self) -> Vec<&WorkloadSpec> {
        CATALOG.iter().filter_map(|e| self.workload(e.component)).collect()
    }
}

impl SupabaseProjectSpec {
    /// The workload settings of one component, when present.
    pub fn workload(&self, component: Component) -> Option<&WorkloadSpec> {
        self.components.as_ref().and_then(|c| c.workload(component))
    }

    /// The workload settings of one component, to change them; `None` when absent.
    pub fn workload_mut(&mut self, component: Component) -> Option<&mut WorkloadSpec> {
        self.components.as_mut().and_then(|c| c.workload_mut(component))
    }

    /// Whether a component is deployed: every component but the opt-in ones (imgproxy,
    /// Studio and Functions), which are deployed when enabled.
    pub fn enabled(&self, component: Component) -> bool {
        let c = self.components.as_ref();
        let set = match component {
            Component::Imgproxy => c.and_then(|c| c.imgproxy.as_ref()).and_then(|s| s.enabled),
            Component::Studio => c.and_then(|c| c.studio.as_ref()).and_then(|s| s.enabled),
            Component::Functions => c.and_then(|c| c.functions.as_ref()).and_then(|s| s.enabled),
            _ => None,
        };
        set.unwrap_or(component.entry().enabled_by_default)
    }

    /// Which keys the project uses; an omitted `spec.jwt.keys` is `legacy`, as for a
    /// project stored before the field existed.
    pub fn key_scheme(&self) -> KeyScheme {
        self.jwt.as_ref().and_then(|j| j.keys).unwrap_or(KeyScheme::Legacy)
    }
}
