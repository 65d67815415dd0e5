//! The ClusterIP Service in front of each component.

use crds::{Component, names};
use k8s_openapi::api::core::v1::{Service, ServicePort, ServiceSpec};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::Ctx;
use crate::Error;

/// The component's Service: its catalog port, by the container port's name.
pub(super) fn service(ctx: &Ctx<'_>, component: Component) -> Result<Service, Error> {
    let entry = component.entry();
    Ok(Service {
        metadata: ctx.meta(ctx.object_name(component), entry.name),
        spec: Some(ServiceSpec {
            type_: Some("ClusterIP".into()),
            selector: Some(names::selector(&ctx.name, entry.name)),
            ports: Some(vec![ServicePort {
                name: Some("http".into()),
                port: entry.port,
                target_port: Some(IntOrString::String("http".into())),
                // Server-side apply on a 1.20 apiserver rejects a port without its protocol
                // (it is a key of the associative list).
                protocol: Some("TCP".into()),
                ..Default::default()
            }]),
            ..Default::default()
        }),
        status: None,
    })
}
