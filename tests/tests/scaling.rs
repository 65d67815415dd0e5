//! A component's PodDisruptionBudget and HorizontalPodAutoscaler on the real apiserver
//! (1.20: policy/v1beta1 and autoscaling/v2beta2, picked by discovery): the budget
//! appears at two replicas and goes at one, the autoscaler is rendered and owned, both
//! are garbage-collected with the project, switching a running component from fixed
//! replicas to an autoscaler keeps its pods, the reconciler never resets what the
//! autoscaler set, and a settled project gets no writes. No HPA controller runs here:
//! the test acts as one, writing the scale subresource under its own field manager.
// A panic is how a test reports failure.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use crds::SupabaseProject;
use harness::reconciler::{self as rec, MINIMAL_SPEC};
use harness::{TestEnv, patience};
use k8s_openapi::api::apps::v1::Deployment;
use kube::api::{Api, Patch, PatchParams};
use reconciler::scaling_api::{self, Hpa, Pdb};
use serde_json::json;

const KONG: &str = "demo-kong";

fn spec_with_kong(kong: &str) -> String {
    format!("{MINIMAL_SPEC}components:\n  kong:\n{kong}")
}

async fn patch_kong(env: &TestEnv, kong: serde_json::Value) {
    let patch = json!({"spec": {"components": {"kong": kong}}});
    env.api::<SupabaseProject>().patch("demo", &PatchParams::default(), &Patch::Merge(&patch)).await.unwrap();
}

async fn present<K>(env: &TestEnv, name: &str, want: bool) -> Option<K>
where
    K: kube::Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug,
{
    let api: Api<K> = env.api();
    rec::eventually(&format!("{} {name} present: {want}", K::kind(&())), patience::settle(), || async {
        let got = api.get_opt(name).await.expect("get");
        if got.is_some() == want { Ok(got) } else { Err(format!("{got:?}")) }
    })
    .await
}

fn owned_by(meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta, project: &SupabaseProject) {
    let refs = meta.owner_references.clone().unwrap_or_default();
    assert!(
        refs.iter().any(|r| Some(&r.uid) == project.metadata.uid.as_ref() && r.controller == Some(true)),
        "{refs:?}"
    );
    let labels = meta.labels.clone().unwrap_or_default();
    assert_eq!(labels.get("app.kubernetes.io/managed-by").map(String::as_str), Some("supabase-operator"));
    assert_eq!(labels.get("app.kubernetes.io/instance").map(String::as_str), Some("demo"));
    assert_eq!(labels.get("app.kubernetes.io/component").map(String::as_str), Some("kong"));
}

#[tokio::test]
async fn a_budget_appears_at_two_replicas_goes_at_one_and_with_the_project() {
    let env = rec::project_env("scaling-pdb", "demo", &spec_with_kong("    replicas: 2\n")).await;
    let versions = scaling_api::detect(&env.client).await;
    assert_eq!((versions.pdb, versions.hpa), ("v1beta1", "v2beta2"), "what kube-apiserver 1.20 serves");
    let reconciler = rec::start(&env, "only");
    let pdb: Pdb = present(&env, KONG, true).await.unwrap();
    let project = rec::project(&env, "demo").await;
    owned_by(&pdb.metadata, &project);
    let spec = serde_json::to_value(pdb.spec.unwrap()).unwrap();
    assert_eq!(spec["maxUnavailable"], 1);
    let deployment = env.api::<Deployment>().get(KONG).await.unwrap();
    let pods = deployment.spec.unwrap().selector.match_labels.unwrap();
    assert_eq!(serde_json::to_value(pods).unwrap(), spec["selector"]["matchLabels"], "the budget covers kong's pods");
    assert!(present::<Pdb>(&env, "demo-auth", false).await.is_none(), "one replica: no budget");

    patch_kong(&env, json!({"replicas": 1})).await;
    present::<Pdb>(&env, KONG, false).await;
    patch_kong(&env, json!({"replicas": 3})).await;
    present::<Pdb>(&env, KONG, true).await;
    reconciler.stop().await;
    env.api::<SupabaseProject>().delete("demo", &Default::default()).await.unwrap();
    present::<Pdb>(&env, KONG, false).await;
}

#[tokio::test]
async fn an_autoscaler_takes_over_replicas_and_is_never_fought() {
    let env = rec::project_env("scaling-hpa", "demo", &spec_with_kong("    replicas: 3\n")).await;
    scaling_api::detect(&env.client).await;
    let deployments = env.api::<Deployment>();
    let replicas = |d: &Deployment| d.spec.as_ref().and_then(|s| s.replicas);
    let first = rec::start(&env, "first");
    rec::roll_to_running(&env, "demo").await;
    assert_eq!(replicas(&deployments.get(KONG).await.unwrap()), Some(3));

    // As the mutating webhook stores it: `replicas` removed beside `autoscaling`.
    let scaler = json!({"minReplicas": 2, "maxReplicas": 6, "targetCPUUtilizationPercentage": 70});
    patch_kong(&env, json!({"replicas": null, "autoscaling": scaler})).await;
    let hpa: Hpa = present(&env, KONG, true).await.unwrap();
    owned_by(&hpa.metadata, &rec::project(&env, "demo").await);
    let spec = serde_json::to_value(hpa.spec.unwrap()).unwrap();
    assert_eq!(spec["scaleTargetRef"], json!({"apiVersion": "apps/v1", "kind": "Deployment", "name": KONG}));
    assert_eq!((spec["minReplicas"].clone(), spec["maxReplicas"].clone()), (json!(2), json!(6)));
    assert_eq!(spec["metrics"][0]["resource"]["name"], "cpu");
    assert_eq!(spec["metrics"][0]["resource"]["target"]["averageUtilization"], 70);
    // The Deployment applied without replicas kept the 3 it ran.
    let d = rec::eventually("kong applied without replicas", patience::settle(), || async {
        let d = deployments.get(KONG).await.unwrap();
        let marked = d.metadata.annotations.as_ref().and_then(|a| a.get("supabase-operator.io/replicas")).cloned();
        if marked.as_deref() == Some("autoscaler") { Ok(d) } else { Err(format!("{marked:?}")) }
    })
    .await;
    assert_eq!(replicas(&d), Some(3), "switching to the autoscaler must not reset replicas");

    // The autoscaler scales to 5 through the scale subresource.
    let hpa_writer = PatchParams { field_manager: Some("horizontal-pod-autoscaler".into()), ..Default::default() };
    deployments.patch_scale(KONG, &hpa_writer, &Patch::Merge(&json!({"spec": {"replicas": 5}}))).await.unwrap();
    // A change to kong's own spec makes the reconciler apply its Deployment again.
    let extra_env = json!([{"name": "SCALING_TEST_MARK", "value": "1"}]);
    patch_kong(&env, json!({"env": extra_env})).await;
    let d = rec::eventually("kong applied with the new env", patience::settle(), || async {
        let d = deployments.get(KONG).await.unwrap();
        let containers = d.spec.as_ref().and_then(|s| s.template.spec.as_ref()).map(|p| p.containers.clone());
        let has = containers.unwrap_or_default()[0].env.iter().flatten().any(|e| e.name == "SCALING_TEST_MARK");
        if has { Ok(d) } else { Err("not yet".to_string()) }
    })
    .await;
    assert_eq!(replicas(&d), Some(5), "the reconciler reset what the autoscaler set");
    rec::roll_to_running(&env, "demo").await;
    first.stop().await;

    // Settled: a new reconciler writes nothing (its verification may read and dry-run).
    let writes = rec::writes_of_a_fresh_start(&env).await;
    assert!(writes.is_empty(), "writes to a settled project: {writes:?}");
    assert_eq!(replicas(&deployments.get(KONG).await.unwrap()), Some(5));

    // Back to fixed replicas: the autoscaler goes and the Deployment takes the number again.
    let again = rec::start(&env, "third");
    patch_kong(&env, json!({"replicas": 2, "autoscaling": null})).await;
    present::<Hpa>(&env, KONG, false).await;
    rec::eventually("kong back to 2 replicas", patience::settle(), || async {
        let n = replicas(&deployments.get(KONG).await.unwrap());
        if n == Some(2) { Ok(()) } else { Err(format!("{n:?}")) }
    })
    .await;
    present::<Pdb>(&env, KONG, true).await;
    again.stop().await;
    env.api::<SupabaseProject>().delete("demo", &Default::default()).await.unwrap();
    present::<Pdb>(&env, KONG, false).await;
}
