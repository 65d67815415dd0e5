//! What each component runs: the Service, ConfigMaps and Deployment that configure
//! it the way upstream's `docker/docker-compose.yml` and `kong.yml` do, and the
//! database initialization Job. Pure functions of the (admitted, defaulted) project.

use crds::refs::Value;
use crds::{Component, SupabaseProject};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{ConfigMap, Service};

use crate::Error;

/// Pod-template annotation holding the digest of the Secret data and config a
/// component consumes: when it changes, the Deployment rolls its pods.
pub const CONFIG_HASH_ANNOTATION: &str = "supabase-operator.io/config-hash";

/// Everything one component needs, in the order to apply it.
#[derive(Clone, Debug)]
pub struct ComponentObjects {
    /// ConfigMaps the Deployment mounts or reads (may be empty).
    pub config_maps: Vec<ConfigMap>,
    /// The ClusterIP Service in front of it.
    pub service: Service,
    /// The Deployment.
    pub deployment: Deployment,
}

/// The objects of `component` for `project` (which must be defaulted). `config_hash`
/// goes into the pod template as [`CONFIG_HASH_ANNOTATION`].
pub fn component(
    _project: &SupabaseProject,
    component: Component,
    _config_hash: &str,
) -> Result<ComponentObjects, Error> {
    Err(Error::Render(format!("{} is not rendered yet", component.name())))
}

/// The values `component` reads from Secrets (see `crds::refs::source`), so the
/// controller can hash exactly the Secret data that should roll its pods.
pub fn consumed(_component: Component) -> Vec<Value> {
    Vec::new()
}

/// The database initialization Job and the ConfigMap holding its SQL.
pub fn db_init(_project: &SupabaseProject) -> Result<(ConfigMap, Job), Error> {
    Err(Error::Render("the database init Job is not rendered yet".into()))
}
