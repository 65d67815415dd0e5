//! `spec.gateway`: the Ingress or HTTPRoute `<name>-api` that routes the host of
//! `apiExternalUrl` to Kong's Service, applied like every owned object (server-side
//! apply, owner reference, labels, skipped when unchanged) and deleted when its field
//! goes. An HTTPRoute needs the Gateway API CRDs: without them the project runs on, and
//! its `Exposed` condition and a Warning event say why nothing routes to it.

use std::collections::BTreeMap;

use crds::gateway::{
    CLUSTER_ISSUER_ANNOTATION, COMPONENT, HttpRouteSpec as RouteSettings, ISSUER_ANNOTATION, IngressSpec, host_of,
    object_name,
};
use crds::{Component, SupabaseProject, SupabaseProjectStatus, conditions};
use k8s_openapi::api::networking::v1::{
    HTTPIngressPath, HTTPIngressRuleValue, Ingress, IngressBackend, IngressRule, IngressServiceBackend,
    IngressSpec as IngressObjectSpec, IngressTLS, ServiceBackendPort,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use kube::api::{Api, DeleteParams};
use kube::runtime::events::EventType;
use kube::{Resource, ResourceExt};

use crate::Error;
use crate::apply::{Owned, apply};
use crate::cache;
use crate::context::Context;
use crate::http_route::{BackendRef, HttpPathMatch, HttpRoute, HttpRouteMatch, HttpRouteRule, ParentReference};

/// The condition that says whether the API is routed from outside; present only while
/// `spec.gateway` is set.
pub const EXPOSED: &str = "Exposed";
/// `Exposed` reason while the cluster does not serve HTTPRoutes.
pub const NO_GATEWAY_API: &str = "GatewayAPIMissing";
/// The API group and version whose `httproutes` the HTTPRoute needs.
pub const GATEWAY_API: &str = "gateway.networking.k8s.io/v1";

/// ingress-nginx closes a proxied connection idle for `proxy-read-timeout` /
/// `proxy-send-timeout` seconds, 60 by default; its docs (kubernetes/ingress-nginx
/// `docs/user-guide/miscellaneous.md`, "WebSockets") ask for more than an hour for
/// WebSockets, which is what Realtime's `/realtime/v1/websocket` is. Other controllers
/// ignore the annotations. The community chart sets none (supabase-community/
/// supabase-kubernetes `charts/supabase/values.yaml` `ingress.annotations` and
/// `templates/kong/ingress.yaml` @e88d61f8); its `rewrite-target: /` is left out: Kong
/// routes on the original path.
const WEBSOCKET_ANNOTATIONS: [(&str, &str); 2] = [
    ("nginx.ingress.kubernetes.io/proxy-read-timeout", "3600"),
    ("nginx.ingress.kubernetes.io/proxy-send-timeout", "3600"),
];

/// What the gateway step did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Exposure {
    /// `spec.gateway` is not set: nothing routes from outside.
    Off,
    /// The Ingress or HTTPRoute (the kind named) is in place.
    Routed(&'static str),
    /// An HTTPRoute was asked for and cannot be made; why.
    Unavailable(String),
}

impl Exposure {
    /// Whether the project should be looked at again soon (the CRD may be installed).
    pub fn waiting(&self) -> bool {
        matches!(self, Exposure::Unavailable(_))
    }
}

/// Kong's Service and port, from the catalog: the backend of either object.
fn kong(project: &str) -> (String, i32) {
    (crds::names::component(project, Component::Kong), Component::Kong.entry().port)
}

fn host(project: &SupabaseProject) -> Result<String, Error> {
    host_of(&project.spec.api_external_url)
        .ok_or_else(|| Error::Render("spec.apiExternalUrl names no DNS host for spec.gateway".into()))
}

/// The Ingress: the URL's host, every path (`Prefix /`) to Kong, TLS for the host when asked.
pub fn ingress(project: &SupabaseProject, spec: &IngressSpec) -> Result<Ingress, Error> {
    let name = project.name_any();
    let host = host(project)?;
    let (service, port) = kong(&name);
    let mut annotations: BTreeMap<String, String> =
        WEBSOCKET_ANNOTATIONS.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    let tls = spec.tls.as_ref();
    // cert-manager's ingress-shim issues into `tls.secretName` for the `tls.hosts` when one
    // of these annotations is present (cert-manager.io/docs/usage/ingress).
    if let Some(issuer) = tls.and_then(|t| t.cluster_issuer.clone()) {
        annotations.insert(CLUSTER_ISSUER_ANNOTATION.into(), issuer);
    }
    if let Some(issuer) = tls.and_then(|t| t.issuer.clone()) {
        annotations.insert(ISSUER_ANNOTATION.into(), issuer);
    }
    annotations.extend(spec.annotations.clone().unwrap_or_default());
    Ok(Ingress {
        metadata: ObjectMeta {
            name: Some(object_name(&name)),
            labels: Some(crds::names::labels(&name, COMPONENT)),
            annotations: Some(annotations),
            ..Default::default()
        },
        spec: Some(IngressObjectSpec {
            ingress_class_name: spec.class_name.clone(),
            tls: tls.map(|t| {
                vec![IngressTLS { hosts: Some(vec![host.clone()]), secret_name: Some(t.secret_name.clone()) }]
            }),
            rules: Some(vec![IngressRule {
                host: Some(host),
                http: Some(HTTPIngressRuleValue {
                    paths: vec![HTTPIngressPath {
                        path: Some("/".into()),
                        path_type: "Prefix".into(),
                        backend: IngressBackend {
                            service: Some(IngressServiceBackend {
                                name: service,
                                port: Some(ServiceBackendPort { number: Some(port), ..Default::default() }),
                            }),
                            ..Default::default()
                        },
                    }],
                }),
            }]),
            ..Default::default()
        }),
        ..Default::default()
    })
}

/// The HTTPRoute: the URL's host on the named Gateways, every path (`PathPrefix /`) to
/// Kong. WebSocket upgrades are plain HTTP/1.1 requests to an HTTPRoute; no setting asks
/// for them.
pub fn http_route(project: &SupabaseProject, spec: &RouteSettings) -> Result<HttpRoute, Error> {
    let name = project.name_any();
    let host = host(project)?;
    let (service, port) = kong(&name);
    let parent_refs = spec
        .parent_refs
        .iter()
        .map(|p| ParentReference {
            name: p.name.clone(),
            namespace: p.namespace.clone(),
            section_name: p.section_name.clone(),
        })
        .collect();
    let mut route = HttpRoute::new(
        &object_name(&name),
        crate::http_route::HttpRouteSpec {
            parent_refs,
            hostnames: vec![host],
            rules: vec![HttpRouteRule {
                matches: vec![HttpRouteMatch {
                    path: Some(HttpPathMatch { type_: "PathPrefix".into(), value: "/".into() }),
                }],
                backend_refs: vec![BackendRef { name: service, port }],
            }],
        },
    );
    route.metadata.labels = Some(crds::names::labels(&name, COMPONENT));
    Ok(route)
}

/// Whether the apiserver serves HTTPRoutes.
pub async fn served(client: &kube::Client) -> Result<bool, Error> {
    match client.list_api_group_resources(GATEWAY_API).await {
        Ok(list) => Ok(list.resources.iter().any(|r| r.name == "httproutes")),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// Applies the Ingress or HTTPRoute the spec asks for and deletes the one it no longer does.
pub async fn step(ctx: &Context, project: &SupabaseProject) -> Result<Exposure, Error> {
    let gateway = project.spec.gateway.as_ref();
    if gateway.is_some_and(|g| g.ingress.is_some() && g.http_route.is_some()) {
        return Err(Error::Render("spec.gateway sets both ingress and httpRoute".into()));
    }
    let mut exposure = Exposure::Off;
    match gateway.and_then(|g| g.ingress.as_ref()) {
        Some(spec) => {
            apply(ctx, project, COMPONENT, ingress(project, spec)?).await?;
            exposure = Exposure::Routed("Ingress");
        }
        None => remove::<Ingress>(ctx, project).await?,
    }
    let routes_cached = ctx.caches.http_routes_ready();
    match gateway.and_then(|g| g.http_route.as_ref()) {
        Some(spec) if routes_cached => {
            apply(ctx, project, COMPONENT, http_route(project, spec)?).await?;
            exposure = Exposure::Routed("HTTPRoute");
        }
        Some(_) => {
            exposure = Exposure::Unavailable(if served(&ctx.client).await? {
                "the Gateway API CRDs were just installed; the reconciler starts watching HTTPRoutes".into()
            } else {
                format!(
                    "the cluster does not serve HTTPRoutes ({GATEWAY_API}): install the Gateway API CRDs; the rest of the project runs without them"
                )
            });
        }
        // Without the CRD no HTTPRoute can exist; with it, the cache knows them all.
        None if routes_cached => remove::<HttpRoute>(ctx, project).await?,
        None => {}
    }
    Ok(exposure)
}

/// Deletes the project's `<name>-api` of kind `K` when the cache shows one it owns.
async fn remove<K: Owned>(ctx: &Context, project: &SupabaseProject) -> Result<(), Error> {
    let namespace = project.namespace().unwrap_or_default();
    let name = object_name(&project.name_any());
    let Some(live) = cache::get(K::store(&ctx.caches), &namespace, &name) else { return Ok(()) };
    let uid = project.uid().unwrap_or_default();
    if !live.meta().owner_references.iter().flatten().any(|r| r.uid == uid && r.controller == Some(true)) {
        return Ok(());
    }
    ctx.may_write()?;
    let api: Api<K> = Api::namespaced(ctx.client.clone(), &namespace);
    match api.delete(&name, &DeleteParams::background()).await {
        Ok(_) => Ok(()),
        // The cache may still show what an earlier reconcile deleted.
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// `status.url` and the `Exposed` condition from what the step did; `None` (the step was
/// not reached: the project is Failed) keeps both as they were.
pub fn status(
    next: &mut SupabaseProjectStatus,
    exposure: Option<&Exposure>,
    project: &str,
    api_url: &str,
    generation: Option<i64>,
    now: &Time,
) {
    let Some(exposure) = exposure else { return };
    let c = &mut next.conditions;
    match exposure {
        Exposure::Off => {
            next.url = None;
            c.retain(|c| c.type_ != EXPOSED);
        }
        Exposure::Routed(kind) => {
            let url = crds::gateway::public_url(api_url);
            let message = format!("{kind} {} routes {url} to Kong", object_name(project));
            conditions::set(c, EXPOSED, true, &format!("{kind}Applied"), &message, generation, now);
            next.url = Some(url);
        }
        Exposure::Unavailable(why) => {
            conditions::set(c, EXPOSED, false, NO_GATEWAY_API, why, generation, now);
            next.url = None;
        }
    }
}

/// The Warning event when the API stops being (or starts out not) routable; `None` otherwise.
pub fn warning(prev: &SupabaseProjectStatus, next: &SupabaseProjectStatus) -> Option<(EventType, String, String)> {
    let now = conditions::find(&next.conditions, EXPOSED).filter(|c| c.status == "False")?;
    let before = conditions::find(&prev.conditions, EXPOSED);
    if before.is_some_and(|b| b.status == "False" && b.reason == now.reason) {
        return None;
    }
    Some((EventType::Warning, now.reason.clone(), now.message.clone()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn project(gateway_yaml: &str) -> SupabaseProject {
        let yaml = format!(
            "apiExternalUrl: https://API.demo.example.com:8443/\ndatabase: {{secretRef: {{name: demo-db}}}}\ngateway:\n{gateway_yaml}"
        );
        let spec: crds::SupabaseProjectSpec = serde_yaml::from_str(&yaml).unwrap();
        let mut p = SupabaseProject::new("demo", crds::defaults(spec));
        p.metadata.namespace = Some("ns".into());
        p.metadata.uid = Some("0b5c1f5e-1111-2222-3333-444455556666".into());
        p
    }

    /// Kong's Service as the workloads render it: what the gateway object must reach.
    fn kong_service(p: &SupabaseProject) -> (String, i32) {
        let svc = crate::workloads::component(p, Component::Kong, "").unwrap().service;
        let port = svc.spec.unwrap().ports.unwrap()[0].port;
        (svc.metadata.name.unwrap(), port)
    }

    #[test]
    fn the_ingress_routes_the_url_host_to_kong_with_tls_issuer_and_websocket_timeouts() {
        let p = project(
            "  ingress:\n    className: nginx\n    annotations: {nginx.ingress.kubernetes.io/proxy-read-timeout: \"7200\", x/y: z}\n    tls: {secretName: demo-tls, clusterIssuer: letsencrypt}\n",
        );
        let spec = p.spec.gateway.clone().unwrap().ingress.unwrap();
        let ing = ingress(&p, &spec).unwrap();
        assert_eq!(ing.metadata.name.as_deref(), Some("demo-api"));
        let a = ing.metadata.annotations.clone().unwrap();
        assert_eq!(a["cert-manager.io/cluster-issuer"], "letsencrypt");
        assert_eq!(a["nginx.ingress.kubernetes.io/proxy-read-timeout"], "7200", "the user's value wins");
        assert_eq!(a["nginx.ingress.kubernetes.io/proxy-send-timeout"], "3600");
        assert_eq!(a["x/y"], "z");
        let s = ing.spec.unwrap();
        assert_eq!(s.ingress_class_name.as_deref(), Some("nginx"));
        let tls = &s.tls.unwrap()[0];
        assert_eq!(tls.hosts, Some(vec!["api.demo.example.com".to_string()]));
        assert_eq!(tls.secret_name.as_deref(), Some("demo-tls"));
        let rule = &s.rules.unwrap()[0];
        assert_eq!(rule.host.as_deref(), Some("api.demo.example.com"), "no port, lowercase");
        let path = &rule.http.as_ref().unwrap().paths[0];
        assert_eq!((path.path.as_deref(), path.path_type.as_str()), (Some("/"), "Prefix"));
        let backend = path.backend.service.clone().unwrap();
        assert_eq!((backend.name, backend.port.unwrap().number.unwrap()), kong_service(&p));
    }

    #[test]
    fn an_ingress_without_tls_has_no_tls_and_no_issuer() {
        let p = project("  ingress: {}\n");
        let ing = ingress(&p, p.spec.gateway.as_ref().unwrap().ingress.as_ref().unwrap()).unwrap();
        assert!(ing.spec.as_ref().unwrap().tls.is_none());
        assert!(ing.spec.as_ref().unwrap().ingress_class_name.is_none());
        assert!(!ing.metadata.annotations.unwrap().keys().any(|k| k.starts_with("cert-manager.io/")));
    }

    #[test]
    fn the_route_attaches_to_the_named_gateway_and_routes_everything_to_kong() {
        let p = project("  httpRoute:\n    parentRefs: [{name: public, namespace: gateways, sectionName: https}]\n");
        let route = http_route(&p, p.spec.gateway.as_ref().unwrap().http_route.as_ref().unwrap()).unwrap();
        let json = serde_json::to_value(&route).unwrap();
        assert_eq!(json["apiVersion"], "gateway.networking.k8s.io/v1");
        assert_eq!(json["kind"], "HTTPRoute");
        assert_eq!(json["metadata"]["name"], "demo-api");
        assert_eq!(
            json["spec"]["parentRefs"],
            serde_json::json!([{"name": "public", "namespace": "gateways", "sectionName": "https"}])
        );
        assert_eq!(json["spec"]["hostnames"], serde_json::json!(["api.demo.example.com"]));
        assert_eq!(
            json["spec"]["rules"][0]["matches"],
            serde_json::json!([{"path": {"type": "PathPrefix", "value": "/"}}])
        );
        let (name, port) = kong_service(&p);
        assert_eq!(json["spec"]["rules"][0]["backendRefs"], serde_json::json!([{"name": name, "port": port}]));
    }

    fn status_after(prev: &SupabaseProjectStatus, exposure: Option<Exposure>) -> SupabaseProjectStatus {
        let mut next = prev.clone();
        let now = Time(k8s_openapi::jiff::Timestamp::from_second(1_800_000_000).unwrap());
        status(&mut next, exposure.as_ref(), "demo", "https://api.demo.example.com/", Some(2), &now);
        next
    }

    #[test]
    fn status_url_follows_the_exposure_and_a_missing_crd_warns_once() {
        let routed = status_after(&SupabaseProjectStatus::default(), Some(Exposure::Routed("Ingress")));
        assert_eq!(routed.url.as_deref(), Some("https://api.demo.example.com"));
        assert!(conditions::is_true(&routed.conditions, EXPOSED));
        assert_eq!(status_after(&routed, Some(Exposure::Routed("Ingress"))), routed, "unchanged: no write");
        assert_eq!(status_after(&routed, None), routed, "not reached: kept");
        let missing = status_after(&routed, Some(Exposure::Unavailable("no CRD".into())));
        assert_eq!(missing.url, None);
        assert_eq!(conditions::find(&missing.conditions, EXPOSED).unwrap().reason, NO_GATEWAY_API);
        assert!(warning(&routed, &missing).is_some());
        assert!(warning(&missing, &missing).is_none(), "one event, not one per reconcile");
        let off = status_after(&missing, Some(Exposure::Off));
        assert!(off.url.is_none() && conditions::find(&off.conditions, EXPOSED).is_none());
    }
}
