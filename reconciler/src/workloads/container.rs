//! The Deployment every component shares: one hardened container with the catalog's
//! probe and port, the defaulted spec's image, replicas, resources, extra env and
//! scheduling.

use std::collections::BTreeMap;

use crds::catalog::Probe as CatalogProbe;
use crds::{Component, names};
use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec};
use k8s_openapi::api::core::v1::{
    Capabilities, Container, ContainerPort, EmptyDirVolumeSource, ExecAction, HTTPGetAction, PodSecurityContext,
    PodSpec, PodTemplateSpec, Probe, SeccompProfile, SecurityContext, TCPSocketAction, Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use sha2::{Digest, Sha256};

use super::{CONFIG_HASH_ANNOTATION, CONFIG_MAPS_HASH_ANNOTATION, Ctx, Rendered};
use crate::Error;

/// A writable scratch volume (an emptyDir) at `path`, for an image that writes there while
/// its root filesystem is read-only.
pub(super) fn scratch(name: &str, path: &str) -> (Volume, VolumeMount) {
    (
        Volume { name: name.into(), empty_dir: Some(EmptyDirVolumeSource::default()), ..Default::default() },
        VolumeMount { name: name.into(), mount_path: path.into(), ..Default::default() },
    )
}

/// Container hardening: no privilege escalation, no capabilities, non-root, the
/// runtime's default seccomp profile.
pub(super) fn security_context(uid: i64) -> SecurityContext {
    SecurityContext {
        allow_privilege_escalation: Some(false),
        capabilities: Some(Capabilities { drop: Some(vec!["ALL".into()]), add: None }),
        run_as_non_root: Some(true),
        run_as_user: Some(uid),
        run_as_group: Some(uid),
        seccomp_profile: Some(runtime_default()),
        ..Default::default()
    }
}

/// Pod-level hardening; `fsGroup` makes mounted volumes writable by the container user.
pub(super) fn pod_security_context(uid: i64) -> PodSecurityContext {
    PodSecurityContext {
        run_as_non_root: Some(true),
        run_as_user: Some(uid),
        run_as_group: Some(uid),
        fs_group: Some(uid),
        seccomp_profile: Some(runtime_default()),
        ..Default::default()
    }
}

fn runtime_default() -> SeccompProfile {
    SeccompProfile { type_: "RuntimeDefault".into(), localhost_profile: None }
}

/// The catalog's readiness probe as a Kubernetes probe.
fn readiness(component: Component) -> Probe {
    let base = Probe {
        period_seconds: Some(5),
        // `kong health` and a cold Node process can take more than the 1s default.
        timeout_seconds: Some(5),
        failure_threshold: Some(3),
        ..Default::default()
    };
    match component.entry().readiness {
        CatalogProbe::Exec(cmd) => {
            Probe { exec: Some(ExecAction { command: Some(cmd.iter().map(|s| s.to_string()).collect()) }), ..base }
        }
        CatalogProbe::Http { path, port } => Probe {
            http_get: Some(HTTPGetAction {
                path: Some(path.into()),
                port: IntOrString::Int(port),
                scheme: Some("HTTP".into()),
                ..Default::default()
            }),
            ..base
        },
        CatalogProbe::Tcp { port } => {
            Probe { tcp_socket: Some(TCPSocketAction { port: IntOrString::Int(port), host: None }), ..base }
        }
    }
}

/// Digest of the component's ConfigMaps, so a changed config rolls the pods.
fn config_maps_hash(rendered: &Rendered) -> Result<String, Error> {
    let data: Vec<_> = rendered.config_maps.iter().map(|c| (&c.metadata.name, &c.data)).collect();
    let bytes = serde_json::to_vec(&data).map_err(|e| Error::Render(format!("config maps: {e}")))?;
    Ok(hex::encode(Sha256::digest(bytes)))
}

/// The component's Deployment.
pub(super) fn deployment(
    ctx: &Ctx<'_>,
    component: Component,
    rendered: Rendered,
    config_hash: &str,
) -> Result<Deployment, Error> {
    let entry = component.entry();
    let workload = ctx.spec.workload(component);
    let uid = entry.user;

    // The description's env list is what the webhook protects from overrides: a variable
    // rendered without being described could be replaced silently by the user's `env`.
    if let Some(var) = rendered.env.iter().find(|v| !entry.owns_env(&v.name)) {
        return Err(Error::Render(format!(
            "{component} sets {}, which its description (crds/src/catalog/{component}.rs) does not list",
            var.name
        )));
    }
    let mut env = rendered.env.clone();
    env.extend(workload.env.iter().cloned());

    let mut ports = vec![ContainerPort {
        name: Some("http".into()),
        container_port: entry.port,
        protocol: Some("TCP".into()),
        ..Default::default()
    }];
    ports.extend(rendered.extra_ports.iter().map(|(name, port)| ContainerPort {
        name: Some((*name).into()),
        container_port: *port,
        protocol: Some("TCP".into()),
        ..Default::default()
    }));

    let (volumes, mounts): (Vec<_>, Vec<_>) = rendered.volumes.iter().cloned().unzip();
    let container = Container {
        name: entry.name.into(),
        image: Some(workload.image.to_string()),
        command: rendered.command.clone(),
        args: rendered.args.clone(),
        env: Some(env),
        ports: Some(ports),
        readiness_probe: Some(readiness(component)),
        resources: Some(workload.resources.clone()),
        security_context: Some(SecurityContext {
            read_only_root_filesystem: rendered.read_only_root.then_some(true),
            ..security_context(uid)
        }),
        volume_mounts: (!mounts.is_empty()).then_some(mounts),
        ..Default::default()
    };

    let selector = names::selector(&ctx.name, entry.name);
    let annotations = BTreeMap::from([
        (CONFIG_HASH_ANNOTATION.to_string(), config_hash.to_string()),
        (CONFIG_MAPS_HASH_ANNOTATION.to_string(), config_maps_hash(&rendered)?),
    ]);
    let template = PodTemplateSpec {
        metadata: Some(ObjectMeta {
            labels: Some(names::labels(&ctx.name, entry.name)),
            annotations: Some(annotations),
            ..Default::default()
        }),
        spec: Some(PodSpec {
            containers: vec![container],
            volumes: (!volumes.is_empty()).then_some(volumes),
            security_context: Some(pod_security_context(uid)),
            // None of the components talks to the Kubernetes API.
            automount_service_account_token: Some(false),
            // Service links would inject `<SERVICE>_PORT=tcp://...` for every Service in the
            // namespace; Kong reads every `KONG_*` variable as configuration and Realtime
            // reads `PORT`, so a Service with an unlucky name would break them.
            enable_service_links: Some(false),
            node_selector: workload.node_selector.cloned(),
            tolerations: workload.tolerations.cloned(),
            affinity: workload.affinity.cloned(),
            ..Default::default()
        }),
    };
    let mut metadata = ctx.meta(ctx.object_name(component), entry.name);
    if workload.autoscaling.is_some() {
        // Says that this apply left `replicas` to the autoscaler (see `crate::scaling`).
        metadata.annotations =
            Some(BTreeMap::from([(super::REPLICAS_ANNOTATION.to_string(), super::AUTOSCALER.to_string())]));
    }
    Ok(Deployment {
        metadata,
        spec: Some(DeploymentSpec {
            // With an autoscaler the field is left out, so the apply never resets it.
            replicas: workload.fixed_replicas(),
            selector: LabelSelector { match_labels: Some(selector), match_expressions: None },
            template,
            strategy: rendered.strategy.clone(),
            ..Default::default()
        }),
        status: None,
    })
}
