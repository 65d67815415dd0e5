//! Reading a component's spec in one pass. With `#[serde(flatten)]` on the shared
//! workload fields, serde first buffers each component into an intermediate tree and
//! then reads both structs from it: about a fifth of decoding a spec. Here each
//! component is read through a mirror that lists the workload fields inline.
//! Serializing and the CRD schema still use the flattened structs; the struct
//! literals below stop compiling if a field is added to one side only. Unlike the
//! flattened read, serde's derive also accepts a component written as an array; the
//! apiserver's schema refuses that before `/validate`, and `/mutate` does not default it.

use serde::{Deserialize, Deserializer};

use crate::project::{
    AuthSpec, FunctionsSpec, ImgproxySpec, KongSpec, MetaSpec, RealtimeSpec, RestSpec, StorageComponentSpec,
    StudioSpec, WorkloadSpec,
};

macro_rules! read_inline {
    ($spec:ident { $($field:ident : $ty:ty),* $(,)? }) => {
        impl<'de> Deserialize<'de> for $spec {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                // Named like the real struct so serde's messages ("expected struct
                // KongSpec") read the same as before.
                #[derive(Deserialize)]
                #[serde(rename_all = "camelCase")]
                struct $spec {
                    #[serde(default)]
                    image: Option<String>,
                    #[serde(default)]
                    replicas: Option<i32>,
                    #[serde(default)]
                    autoscaling: Option<crate::scaling::AutoscalingSpec>,
                    #[serde(default)]
                    resources: Option<k8s_openapi::api::core::v1::ResourceRequirements>,
                    #[serde(default)]
                    env: Option<Vec<k8s_openapi::api::core::v1::EnvVar>>,
                    #[serde(default)]
                    node_selector: Option<std::collections::BTreeMap<String, String>>,
                    #[serde(default)]
                    tolerations: Option<Vec<k8s_openapi::api::core::v1::Toleration>>,
                    #[serde(default)]
                    affinity: Option<k8s_openapi::api::core::v1::Affinity>,
                    $(
                        #[serde(default)]
                        $field: $ty,
                    )*
                }
                let read = $spec::deserialize(deserializer)?;
                Ok(Self {
                    workload: WorkloadSpec {
                        image: read.image,
                        replicas: read.replicas,
                        autoscaling: read.autoscaling,
                        resources: read.resources,
                        env: read.env,
                        node_selector: read.node_selector,
                        tolerations: read.tolerations,
                        affinity: read.affinity,
                    },
                    $($field: read.$field,)*
                })
            }
        }
    };
}

read_inline!(KongSpec {});
read_inline!(AuthSpec {
    disable_signup: Option<bool>,
    enable_email_signup: Option<bool>,
    enable_email_autoconfirm: Option<bool>,
    enable_anonymous_users: Option<bool>,
    additional_redirect_urls: Option<Vec<String>>,
});
read_inline!(RestSpec { schemas: Option<Vec<String>>, max_rows: Option<i32> });
read_inline!(RealtimeSpec { secret_ref: Option<crate::project::RealtimeSecretRef> });
read_inline!(ImgproxySpec { enabled: Option<bool> });
read_inline!(StorageComponentSpec {});
read_inline!(MetaSpec { secret_ref: Option<crate::project::MetaSecretRef> });
read_inline!(StudioSpec {
    enabled: Option<bool>,
    organization: Option<String>,
    project: Option<String>,
    ai_secret_ref: Option<crate::project::StudioAiSecretRef>,
});
read_inline!(FunctionsSpec {
    enabled: Option<bool>,
    verify_jwt: Option<bool>,
    code: Option<crate::project::FunctionsCode>,
});

#[cfg(test)]
mod tests {
    use serde::Deserialize;
    use serde_json::{Value, json};

    use crate::project::{ComponentsSpec, WorkloadSpec};

    /// What `#[serde(flatten)]` read, for comparison (the component's own fields are
    /// checked by the round trip).
    #[derive(Deserialize)]
    struct Flattened {
        #[serde(flatten)]
        workload: WorkloadSpec,
    }

    fn every_field() -> Value {
        let workload = json!({
            "image": "example/image:1", "replicas": 2,
            "autoscaling": {"minReplicas": 2, "maxReplicas": 4, "targetCPUUtilizationPercentage": 70},
            "resources": {"limits": {"cpu": "1"}, "requests": {"memory": "64Mi"}},
            "env": [{"name": "A", "value": "b"}],
            "nodeSelector": {"disk": "ssd"},
            "tolerations": [{"key": "k", "operator": "Exists"}],
            "affinity": {"nodeAffinity": {}},
        });
        let mut c = json!({
            "kong": {},
            "auth": {"disableSignup": true, "enableEmailSignup": false, "enableEmailAutoconfirm": true,
                     "enableAnonymousUsers": true, "additionalRedirectUrls": ["https://a.example.com"]},
            "rest": {"schemas": ["public"], "maxRows": 10},
            "realtime": {"secretRef": {"name": "rt", "secretKeyBaseKey": "a", "dbEncKeyKey": "b"}},
            "storage": {},
            "meta": {"secretRef": {"name": "m", "cryptoKeyKey": "c"}},
            "studio": {"enabled": true, "organization": "o", "project": "p"},
        });
        for (_, v) in c.as_object_mut().unwrap() {
            v.as_object_mut().unwrap().extend(workload.as_object().unwrap().clone());
        }
        c
    }

    #[test]
    fn every_field_is_read_and_written_back_unchanged() {
        let sent = every_field();
        let read: ComponentsSpec = serde_json::from_value(sent.clone()).unwrap();
        assert_eq!(serde_json::to_value(&read).unwrap(), sent);
        for (name, component) in sent.as_object().unwrap() {
            let flat: Flattened = serde_json::from_value(component.clone()).unwrap();
            let one = read.workload(crate::Component::from_name(name).unwrap());
            assert_eq!(one, Some(&flat.workload), "{name}");
        }
    }

    #[test]
    fn unknown_fields_are_ignored_and_wrong_types_named() {
        let c: ComponentsSpec =
            serde_json::from_value(json!({"kong": {"replicas": 3, "surprise": 1}, "studio": null})).unwrap();
        assert_eq!(c.kong.unwrap().workload.replicas, Some(3));
        let e = serde_json::from_str::<ComponentsSpec>(r#"{"auth": {"replicas": "three"}}"#).unwrap_err();
        assert!(e.to_string().contains("expected i32"), "{e}");
        let e = serde_json::from_str::<ComponentsSpec>(r#"{"rest": 5}"#).unwrap_err();
        assert!(e.to_string().contains("struct RestSpec"), "{e}");
    }
}
