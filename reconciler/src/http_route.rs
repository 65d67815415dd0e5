//! The few fields of a Gateway API `HTTPRoute` (`gateway.networking.k8s.io/v1`) that the
//! reconciler writes. Hand-written: kube-rs's `gateway-api` crate (0.22.0, the newest)
//! builds on kube 4 and k8s-openapi 0.28, and its types implement kube 4's `Resource`,
//! which kube 5's `Api` does not take. Field names and shapes follow the CRD
//! (kubernetes-sigs/gateway-api `config/crd/standard/gateway.networking.k8s.io_httproutes.yaml`
//! @v1.6.1, 8bb74df0; the tests install that file); whatever is left out keeps the CRD's default, and server-side apply leaves
//! fields we never set to their owners.

use kube::CustomResource;
use serde::{Deserialize, Serialize};

/// The spec of an HTTPRoute, as far as the reconciler sets it.
#[derive(CustomResource, Deserialize, Serialize, Clone, Debug, Default, PartialEq)]
// No schema: the CRD is the Gateway API's, never generated from this type.
#[kube(
    group = "gateway.networking.k8s.io",
    version = "v1",
    kind = "HTTPRoute",
    root = "HttpRoute",
    namespaced,
    schema = "disabled"
)]
#[serde(rename_all = "camelCase")]
pub struct HttpRouteSpec {
    /// The Gateways the route attaches to.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parent_refs: Vec<ParentReference>,
    /// Hosts the route matches.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hostnames: Vec<String>,
    /// Matches and where they go.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<HttpRouteRule>,
}

/// A Gateway (or one of its listeners).
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ParentReference {
    /// Gateway name.
    pub name: String,
    /// Gateway namespace; the route's when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Listener name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub section_name: Option<String>,
}

/// One rule: requests matching `matches` go to `backendRefs`.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct HttpRouteRule {
    /// Request matches.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub matches: Vec<HttpRouteMatch>,
    /// Backends.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub backend_refs: Vec<BackendRef>,
}

/// A request match.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct HttpRouteMatch {
    /// Path match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<HttpPathMatch>,
}

/// A path match.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct HttpPathMatch {
    /// `Exact`, `PathPrefix` or `RegularExpression`.
    #[serde(rename = "type")]
    pub type_: String,
    /// The path.
    pub value: String,
}

/// A Service backend.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct BackendRef {
    /// Service name.
    pub name: String,
    /// Service port.
    pub port: i32,
}
