//! What the two database Jobs (db-init and the preflight) share: a `psql` pod on
//! db-init's image, as its non-root user, with the SQL from a ConfigMap mounted
//! read-only and the connection in libpq's environment variables.

use std::collections::BTreeMap;

use crds::refs::Value;
use k8s_openapi::api::batch::v1::{Job, JobSpec};
use k8s_openapi::api::core::v1::{
    ConfigMapVolumeSource, Container, PodSpec, PodTemplateSpec, ResourceRequirements, Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::Ctx;
use super::container::{pod_security_context, security_context};
use super::dbinit::{DB_INIT_IMAGE, PSQL_UID};
use super::env::Env;
use crate::Error;

/// libpq's connection variables for the project's database as `user`; `app` names the
/// session in `pg_stat_activity`.
pub(super) fn connection_env<'a>(ctx: &'a Ctx<'a>, user: &str, app: &str) -> Result<Env<'a>, Error> {
    let mut env = Env::new(ctx);
    env.from("PGHOST", Value::DbHost)?
        .from("PGPORT", Value::DbPort)?
        .from("PGDATABASE", Value::DbName)?
        .lit("PGUSER", user)
        .from("PGPASSWORD", Value::DbPassword)?
        .lit("PGSSLMODE", ctx.spec.database.ssl_mode.as_str())
        .lit("PGCONNECT_TIMEOUT", "10")
        .lit("PGAPPNAME", app);
    Ok(env)
}

/// The Job's parts that differ between the two Jobs.
pub(super) struct PsqlJob<'a> {
    pub name: String,
    pub component: &'a str,
    pub labels: BTreeMap<String, String>,
    /// The ConfigMap with the SQL, mounted at `sql_dir`.
    pub config_map: String,
    pub sql_dir: &'a str,
    pub command: Vec<String>,
    pub env: Env<'a>,
    pub backoff_limit: i32,
    /// Whether the container's termination message is a file it writes (the preflight's answer).
    pub termination_message_file: bool,
}

pub(super) fn job(ctx: &Ctx<'_>, p: PsqlJob<'_>) -> Job {
    let q = |cpu: &str, memory: &str| {
        BTreeMap::from([("cpu".to_string(), Quantity(cpu.into())), ("memory".to_string(), Quantity(memory.into()))])
    };
    let container = Container {
        name: "psql".into(),
        image: Some(DB_INIT_IMAGE.into()),
        command: Some(p.command),
        env: Some(p.env.finish()),
        resources: Some(ResourceRequirements {
            limits: Some(q("200m", "64Mi")),
            requests: Some(q("10m", "32Mi")),
            ..Default::default()
        }),
        security_context: Some(security_context(PSQL_UID)),
        termination_message_policy: p.termination_message_file.then(|| "File".into()),
        volume_mounts: Some(vec![VolumeMount {
            name: "sql".into(),
            mount_path: p.sql_dir.into(),
            read_only: Some(true),
            ..Default::default()
        }]),
        ..Default::default()
    };
    Job {
        metadata: ctx.meta(p.name, p.component),
        spec: Some(JobSpec {
            backoff_limit: Some(p.backoff_limit),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta { labels: Some(p.labels), ..Default::default() }),
                spec: Some(PodSpec {
                    containers: vec![container],
                    restart_policy: Some("Never".into()),
                    volumes: Some(vec![Volume {
                        name: "sql".into(),
                        config_map: Some(ConfigMapVolumeSource { name: p.config_map, ..Default::default() }),
                        ..Default::default()
                    }]),
                    security_context: Some(pod_security_context(PSQL_UID)),
                    automount_service_account_token: Some(false),
                    enable_service_links: Some(false),
                    ..Default::default()
                }),
            },
            ..Default::default()
        }),
        status: None,
    }
}
