//! A component's autoscaler, as the user writes it (`spec.components.<name>.autoscaling`).
//!
//! The field names follow the community Helm chart's per-component `autoscaling` values
//! (supabase-community/supabase-kubernetes `charts/supabase/templates/kong/autoscaling.yaml`
//! @b085cbe1a04b3f7dad09c173ef44b4a27744781d, which takes them from `helm create`'s
//! scaffold: `minReplicas`, `maxReplicas`, `targetCPUUtilizationPercentage`,
//! `targetMemoryUtilizationPercentage`), so values move over from the chart unchanged.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A HorizontalPodAutoscaler on the component's Deployment.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AutoscalingSpec {
    /// Fewest pods the autoscaler keeps (at least 1). Above 1, the component also gets a
    /// PodDisruptionBudget.
    pub min_replicas: i32,
    /// Most pods the autoscaler starts (at least `minReplicas`, at most the policy's
    /// `maxReplicas`).
    pub max_replicas: i32,
    /// Average CPU use the autoscaler aims at, in percent (1 to 100) of the pods' CPU
    /// requests. At least one of the two targets is required.
    #[serde(default, skip_serializing_if = "Option::is_none", rename = "targetCPUUtilizationPercentage")]
    pub target_cpu_utilization_percentage: Option<i32>,
    /// Average memory use the autoscaler aims at, in percent (1 to 100) of the pods'
    /// memory requests.
    #[serde(default, skip_serializing_if = "Option::is_none", rename = "targetMemoryUtilizationPercentage")]
    pub target_memory_utilization_percentage: Option<i32>,
}
