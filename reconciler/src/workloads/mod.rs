//! What each component runs: the Service, ConfigMaps and Deployment that configure
//! it the way upstream's `docker/docker-compose.yml` and `kong.yml` do, and the
//! database initialization Job. Pure functions of the (admitted, defaulted) project.
//!
//! Secrets never appear in a rendered object: every secret value reaches a container
//! through a `secretKeyRef` env var (see [`env`]), and values assembled from secrets are
//! built without the secret (database URLs carry no password; see [`env::Env::db_url`]).

mod auth;
mod container;
mod dbinit;
mod env;
mod functions;
mod imgproxy;
mod kong;
mod meta;
mod preflight;
mod psql_job;
mod realtime;
mod rest;
mod scaling;
mod service;
mod storage;
mod studio;

#[cfg(test)]
mod contract;
#[cfg(test)]
mod contracts;
#[cfg(test)]
mod fixtures;
#[cfg(test)]
mod functions_tests;
#[cfg(test)]
mod imgproxy_tests;
#[cfg(test)]
mod legacy_tests;
#[cfg(test)]
mod storage_tests;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use crds::project::KeyScheme;
use crds::refs::Value;
use crds::{Component, Defaulted, SupabaseProject, SupabaseProjectSpec};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{ConfigMap, PersistentVolumeClaim, Service};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::Resource;

use crate::Error;

pub use dbinit::{DB_INIT_IMAGE, DB_INIT_USER};
pub use preflight::{COMPONENT as PREFLIGHT_COMPONENT, JOB_LABEL as PREFLIGHT_JOB_LABEL};
pub use storage::claim_update;

/// Pod-template annotation holding the digest of the Secret data and config a
/// component consumes: when it changes, the Deployment rolls its pods.
pub const CONFIG_HASH_ANNOTATION: &str = "supabase-operator.io/config-hash";

/// Pod-template annotation holding the digest of the component's own ConfigMaps (Kong's
/// declarative config is read once at start, so a changed route must roll the pods).
pub const CONFIG_MAPS_HASH_ANNOTATION: &str = "supabase-operator.io/config-maps-hash";

/// Deployment annotation set when the Deployment leaves `replicas` to an autoscaler:
/// the reconciler's field manager then no longer owns `spec.replicas`.
pub const REPLICAS_ANNOTATION: &str = "supabase-operator.io/replicas";

/// [`REPLICAS_ANNOTATION`]'s value.
pub const AUTOSCALER: &str = "autoscaler";

/// A component's PodDisruptionBudget and HorizontalPodAutoscaler, each when it has one.
#[derive(Clone, Debug, Default)]
pub struct Scaling {
    /// From two pods on.
    pub disruption_budget: Option<crate::scaling_api::Pdb>,
    /// With `autoscaling`.
    pub autoscaler: Option<crate::scaling_api::Hpa>,
}

/// The scaling objects of `component` for `project` (which must be defaulted).
pub fn scaling(project: &SupabaseProject, component: Component) -> Result<Scaling, Error> {
    let ctx = Ctx::new(project)?;
    Ok(Scaling {
        disruption_budget: scaling::disruption_budget(&ctx, component),
        autoscaler: scaling::autoscaler(&ctx, component),
    })
}

/// Everything one component needs, in the order to apply it.
#[derive(Clone, Debug)]
pub struct ComponentObjects {
    /// ConfigMaps the Deployment mounts or reads (may be empty).
    pub config_maps: Vec<ConfigMap>,
    /// The ClusterIP Service in front of it.
    pub service: Service,
    /// The Deployment.
    pub deployment: Deployment,
    /// Storage's volume claim, whole (as created); it must exist before the Deployment
    /// that mounts it. Its owner reference is set only for `whenDeleted: delete`.
    pub claim: Option<PersistentVolumeClaim>,
}

/// The objects of `component` for `project` (which must be defaulted). `config_hash`
/// goes into the pod template as [`CONFIG_HASH_ANNOTATION`].
pub fn component(
    project: &SupabaseProject,
    component: Component,
    config_hash: &str,
) -> Result<ComponentObjects, Error> {
    let ctx = Ctx::new(project)?;
    let rendered = match component {
        Component::Kong => kong::render(&ctx)?,
        Component::Auth => auth::render(&ctx)?,
        Component::Rest => rest::render(&ctx)?,
        Component::Realtime => realtime::render(&ctx)?,
        Component::Imgproxy => imgproxy::render(&ctx)?,
        Component::Storage => storage::render(&ctx)?,
        Component::Meta => meta::render(&ctx)?,
        Component::Studio => studio::render(&ctx)?,
        Component::Functions => functions::render(&ctx)?,
    };
    let config_maps = rendered.config_maps.clone();
    let deployment = container::deployment(&ctx, component, rendered, config_hash)?;
    let service = service::service(&ctx, component)?;
    let claim = if component == Component::Storage { storage::claim(&ctx) } else { None };
    Ok(ComponentObjects { config_maps, service, deployment, claim })
}

/// The values `component` reads from Secrets under the project's key scheme (its
/// description's `consumes`), so the controller can hash exactly the Secret data that
/// should roll its pods.
pub fn consumed(component: Component, spec: &SupabaseProjectSpec) -> Vec<Value> {
    component.entry().consumed(spec.key_scheme())
}

/// The login role `component`'s description names. Evaluated in constants, so a builder
/// of a component described without a login does not compile.
const fn db_role(component: Component) -> &'static str {
    match component.entry().database {
        Some(login) => login.role,
        None => panic!("the component's description has no database login"),
    }
}

/// The database initialization Job and the ConfigMap holding its SQL.
pub fn db_init(project: &SupabaseProject) -> Result<(ConfigMap, Job), Error> {
    dbinit::render(&Ctx::new(project)?)
}

/// The database preflight Job `job` and the ConfigMap holding its SQL.
pub fn preflight(project: &SupabaseProject, job: &str) -> Result<(ConfigMap, Job), Error> {
    preflight::render(&Ctx::new(project)?, job)
}

/// What a component's renderer hands to the Deployment builder.
#[derive(Clone, Debug, Default)]
struct Rendered {
    /// The operator's env vars, in order (`$(VAR)` references only point backwards).
    env: Vec<k8s_openapi::api::core::v1::EnvVar>,
    /// ConfigMaps of the component (also mounted when listed in `volumes`).
    config_maps: Vec<ConfigMap>,
    /// Pod volumes and where the container mounts them.
    volumes: Vec<(k8s_openapi::api::core::v1::Volume, k8s_openapi::api::core::v1::VolumeMount)>,
    /// Overrides the image's entrypoint (only Kong, which renders its config at start).
    command: Option<Vec<String>>,
    /// Arguments to `command`.
    args: Option<Vec<String>>,
    /// Extra container ports besides the catalog's (PostgREST's admin server).
    extra_ports: Vec<(&'static str, i32)>,
    /// Whether the root filesystem is read-only (every path the image writes is a volume).
    read_only_root: bool,
    /// How the Deployment replaces its pods; `None` leaves Kubernetes' default.
    strategy: Option<k8s_openapi::api::apps::v1::DeploymentStrategy>,
    /// The pod's `fsGroup` when not the container's uid (imgproxy reads Storage's files).
    fs_group: Option<i64>,
    /// Components of the project whose pods this pod must run beside (its own among them),
    /// on one node: Storage and imgproxy, which mount one ReadWriteOnce claim.
    shares_node: &'static [&'static str],
}

/// A project reduced to what every renderer needs, checked once: its defaulted spec
/// with every default resolved, so no renderer falls back to a value of its own.
struct Ctx<'a> {
    spec: Defaulted<'a>,
    name: String,
    namespace: String,
    owner: k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference,
}

impl<'a> Ctx<'a> {
    fn new(project: &'a SupabaseProject) -> Result<Self, Error> {
        let name = project.metadata.name.clone().ok_or_else(|| Error::Render("a project without a name".into()))?;
        let namespace = project
            .metadata
            .namespace
            .clone()
            .ok_or_else(|| Error::Render(format!("project {name}: it has no namespace")))?;
        let owner = project
            .controller_owner_ref(&())
            .ok_or_else(|| Error::Render(format!("project {name}: it has no uid for an owner reference")))?;
        let spec = Defaulted::of(&project.spec).map_err(|e| Error::Render(format!("project {name}: {e}")))?;
        Ok(Ctx { spec, name, namespace, owner })
    }

    /// Whether the project uses Supabase's new keys beside the legacy ones.
    fn new_keys(&self) -> bool {
        self.spec.spec().key_scheme() == KeyScheme::Both
    }

    /// Metadata of an owned object: namespace, labels, owner reference.
    fn meta(&self, name: String, component: &str) -> ObjectMeta {
        ObjectMeta {
            name: Some(name),
            namespace: Some(self.namespace.clone()),
            labels: Some(crds::names::labels(&self.name, component)),
            owner_references: Some(vec![self.owner.clone()]),
            ..Default::default()
        }
    }

    /// `<project>-<component>`: the Service, Deployment and ConfigMap name.
    fn object_name(&self, component: Component) -> String {
        crds::names::component(&self.name, component)
    }

    /// In-namespace URL of a component's Service.
    fn url(&self, component: Component) -> String {
        format!("http://{}:{}", self.object_name(component), component.entry().port)
    }
}

/// A ConfigMap of the project.
fn config_map(ctx: &Ctx<'_>, name: String, component: &str, data: BTreeMap<String, String>) -> ConfigMap {
    ConfigMap { metadata: ctx.meta(name, component), data: Some(data), ..Default::default() }
}
