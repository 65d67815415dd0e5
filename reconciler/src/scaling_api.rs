//! The two kinds a component's scaling adds, PodDisruptionBudget and
//! HorizontalPodAutoscaler, at the API version the cluster serves.
//!
//! `policy/v1` (Kubernetes 1.21+) and `autoscaling/v2` (1.23+) are preferred; older
//! clusters, among them the test control plane (1.20), serve only `policy/v1beta1` and
//! `autoscaling/v2beta2`, which newer ones no longer serve (1.25 and 1.26). The fields the
//! operator sets are the same in both versions of each kind (`maxUnavailable` and
//! `selector`; `scaleTargetRef`, `minReplicas`, `maxReplicas` and `Resource` metrics with
//! `averageUtilization`), so one rendering serves both. Bitnami's common chart picks the
//! versions the same way (`bitnami/charts` `bitnami/common/templates/_capabilities.tpl`:
//! `common.capabilities.policy.apiVersion`, `common.capabilities.hpa.apiVersion`).
//!
//! The version is the cluster's, so it is process-wide: [`detect`] sets it once, before
//! the watches start; until then (unit tests) the newer versions are assumed.

use std::borrow::Cow;
use std::sync::OnceLock;

use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscalerSpec;
use k8s_openapi::api::policy::v1::PodDisruptionBudgetSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::Resource;
use serde::{Deserialize, Serialize};

/// The versions in use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Versions {
    /// `policy` version of PodDisruptionBudget.
    pub pdb: &'static str,
    /// `autoscaling` version of HorizontalPodAutoscaler.
    pub hpa: &'static str,
}

const NEWER: Versions = Versions { pdb: "v1", hpa: "v2" };
const OLDER: Versions = Versions { pdb: "v1beta1", hpa: "v2beta2" };

static VERSIONS: OnceLock<Versions> = OnceLock::new();

/// The versions in use (the newer ones until [`detect`] ran).
pub fn versions() -> Versions {
    *VERSIONS.get_or_init(|| NEWER)
}

/// Asks the apiserver which versions it serves and fixes them for the process. An
/// apiserver that serves neither version of a kind gets the newer one (applies then
/// fail with the apiserver's own message).
pub async fn detect(client: &kube::Client) -> Versions {
    async fn serves(client: &kube::Client, group_version: &str, plural: &str) -> bool {
        client
            .list_api_group_resources(group_version)
            .await
            .is_ok_and(|list| list.resources.iter().any(|r| r.name == plural))
    }
    let pdb = if serves(client, "policy/v1", "poddisruptionbudgets").await
        || !serves(client, "policy/v1beta1", "poddisruptionbudgets").await
    {
        NEWER.pdb
    } else {
        OLDER.pdb
    };
    let hpa = if serves(client, "autoscaling/v2", "horizontalpodautoscalers").await
        || !serves(client, "autoscaling/v2beta2", "horizontalpodautoscalers").await
    {
        NEWER.hpa
    } else {
        OLDER.hpa
    };
    *VERSIONS.get_or_init(|| Versions { pdb, hpa })
}

macro_rules! kind {
    ($name:ident, $kind:literal, $group:literal, $plural:literal, $spec:ty, $field:ident, $store:ident) => {
        #[doc = concat!("A ", $kind, " at the served version of `", $group, "`.")]
        #[derive(Clone, Debug, Default, PartialEq, Deserialize)]
        pub struct $name {
            /// Object metadata.
            pub metadata: ObjectMeta,
            /// The spec (read the same from either version).
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub spec: Option<$spec>,
        }

        // `apiVersion` and `kind` go on the wire (server-side apply needs them) and come
        // from the version in use, never from a stored field.
        impl Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                #[derive(Serialize)]
                #[serde(rename_all = "camelCase")]
                struct Wire<'a> {
                    api_version: Cow<'a, str>,
                    kind: &'static str,
                    metadata: &'a ObjectMeta,
                    #[serde(skip_serializing_if = "Option::is_none")]
                    spec: Option<&'a $spec>,
                }
                Wire {
                    api_version: <$name as Resource>::api_version(&()),
                    kind: $kind,
                    metadata: &self.metadata,
                    spec: self.spec.as_ref(),
                }
                .serialize(s)
            }
        }

        impl crate::apply::Owned for $name {
            type Cached = kube::core::PartialObjectMeta<Self>;
            fn store(c: &crate::cache::Caches) -> &kube::runtime::reflector::Store<Self::Cached> {
                &c.$store
            }
            fn cached(self) -> Self::Cached {
                kube::core::PartialObjectMetaExt::into_response_partial(self.metadata)
            }
        }

        impl Resource for $name {
            type DynamicType = ();
            type Scope = NamespaceResourceScope;

            fn kind(_: &()) -> Cow<'_, str> {
                $kind.into()
            }
            fn group(_: &()) -> Cow<'_, str> {
                $group.into()
            }
            fn version(_: &()) -> Cow<'_, str> {
                versions().$field.into()
            }
            fn plural(_: &()) -> Cow<'_, str> {
                $plural.into()
            }
            fn meta(&self) -> &ObjectMeta {
                &self.metadata
            }
            fn meta_mut(&mut self) -> &mut ObjectMeta {
                &mut self.metadata
            }
        }
    };
}

kind!(Pdb, "PodDisruptionBudget", "policy", "poddisruptionbudgets", PodDisruptionBudgetSpec, pdb, disruption_budgets);
kind!(
    Hpa,
    "HorizontalPodAutoscaler",
    "autoscaling",
    "horizontalpodautoscalers",
    HorizontalPodAutoscalerSpec,
    hpa,
    autoscalers
);
