//! `spec.gateway`: how clients outside the cluster reach the API gateway (Kong), through
//! an Ingress or a Gateway API HTTPRoute that the reconciler renders and owns. The host
//! always comes from `spec.apiExternalUrl`, so Auth's links and the routed host agree.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Exposes the API outside the cluster: either an Ingress or an HTTPRoute, never both.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GatewaySpec {
    /// An Ingress `<name>-api` for the host of `spec.apiExternalUrl`, routing every path
    /// to Kong's Service. Removing this field deletes the Ingress. Not with `httpRoute`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ingress: Option<IngressSpec>,
    /// A Gateway API HTTPRoute `<name>-api` (`gateway.networking.k8s.io/v1`) for the host
    /// of `spec.apiExternalUrl`, attached to a Gateway you run, routing every path to
    /// Kong's Service. Needs the Gateway API CRDs in the cluster; without them the project
    /// runs on and its `Exposed` condition says why nothing is routed. Removing this field
    /// deletes the HTTPRoute. Not with `ingress`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_route: Option<HttpRouteSpec>,
}

/// The Ingress in front of Kong.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct IngressSpec {
    /// `spec.ingressClassName` of the Ingress, e.g. `nginx`. Omit for the cluster's
    /// default IngressClass.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class_name: Option<String>,
    /// The host the Ingress routes. It is always the host of `spec.apiExternalUrl`; set it
    /// only to have admission check that the two agree.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// Annotations for the Ingress controller (e.g. `nginx.ingress.kubernetes.io/...`) or
    /// cert-manager (`cert-manager.io/cluster-issuer`). They are added to the operator's
    /// own: ingress-nginx's `proxy-read-timeout` and `proxy-send-timeout` of `3600`, so
    /// Realtime's WebSockets are not closed after 60 idle seconds (set them here to
    /// change them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
    /// Serve the host over TLS with the certificate in a Secret. Requires an `https`
    /// `spec.apiExternalUrl`. Omit when TLS ends before the Ingress controller.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<IngressTlsSpec>,
}

/// TLS of the Ingress: a Secret, filled by you or by cert-manager.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct IngressTlsSpec {
    /// The `kubernetes.io/tls` Secret in the project's namespace holding the certificate
    /// for the host. With `clusterIssuer` or `issuer`, cert-manager creates and renews it.
    pub secret_name: String,
    /// A cert-manager ClusterIssuer that issues the certificate into `secretName`: the
    /// reconciler sets the Ingress annotation `cert-manager.io/cluster-issuer`, which
    /// cert-manager's ingress-shim acts on. Not with `issuer`, nor with that annotation
    /// in `annotations`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_issuer: Option<String>,
    /// A cert-manager Issuer in the project's namespace, as `clusterIssuer` (annotation
    /// `cert-manager.io/issuer`). Not with `clusterIssuer`, nor with that annotation in
    /// `annotations`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
}

/// The HTTPRoute in front of Kong.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HttpRouteSpec {
    /// The Gateways (or their listeners) the route attaches to; at least one. The Gateway
    /// must allow routes from the project's namespace (its listener's `allowedRoutes`).
    pub parent_refs: Vec<GatewayParentRef>,
    /// The host the route matches. It is always the host of `spec.apiExternalUrl`; set it
    /// only to have admission check that the two agree.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
}

/// A Gateway the HTTPRoute attaches to.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GatewayParentRef {
    /// Name of the Gateway.
    pub name: String,
    /// Namespace of the Gateway. Defaults to the project's namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Name of one listener of the Gateway to attach to. Omit to attach to every
    /// listener that accepts the route.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub section_name: Option<String>,
}

/// cert-manager's ingress-shim annotation naming a ClusterIssuer
/// (cert-manager.io/docs/usage/ingress, "Supported Annotations").
pub const CLUSTER_ISSUER_ANNOTATION: &str = "cert-manager.io/cluster-issuer";
/// cert-manager's ingress-shim annotation naming an Issuer in the Ingress's namespace.
pub const ISSUER_ANNOTATION: &str = "cert-manager.io/issuer";

/// Name of the project's Ingress or HTTPRoute: `<project>-api` (shorter than the longest
/// derived name, so every project name admission allows fits).
pub fn object_name(project: &str) -> String {
    format!("{project}-api")
}

/// The `app.kubernetes.io/component` label of the Ingress or HTTPRoute.
pub const COMPONENT: &str = "gateway";

/// The host of an absolute URL, lowercased, without a port: what an Ingress rule or an
/// HTTPRoute matches (both ignore the port of the `Host` header). `None` when the URL does
/// not parse or has no DNS host (an IP address is not one: Kubernetes refuses an Ingress
/// host that is an IP, pkg/apis/networking/validation `validateIngressRules`).
pub fn host_of(url: &str) -> Option<String> {
    let parsed = url::Url::parse(url).ok()?;
    match parsed.host()? {
        url::Host::Domain(d) if !d.is_empty() => Some(d.to_ascii_lowercase()),
        _ => None,
    }
}

/// The URL users open when the gateway exposes the project: `apiExternalUrl` without a
/// trailing slash, the way clients are configured with it.
pub fn public_url(api_external_url: &str) -> String {
    api_external_url.trim_end_matches('/').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_is_the_dns_name_without_port_or_case() {
        assert_eq!(host_of("https://API.Example.com:8443/base").as_deref(), Some("api.example.com"));
        assert_eq!(host_of("http://10.0.0.1:8000"), None);
        assert_eq!(host_of("http://[::1]:8000"), None);
        assert_eq!(host_of("not a url"), None);
    }

    #[test]
    fn public_url_drops_only_the_trailing_slash() {
        assert_eq!(public_url("https://api.example.com/"), "https://api.example.com");
        assert_eq!(public_url("https://api.example.com:8443"), "https://api.example.com:8443");
    }
}
