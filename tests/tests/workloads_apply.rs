//! The rendered workloads on a real apiserver: every object the reconciler's renderer
//! produces is accepted by server-side apply (the reconciler's write path), keeps its
//! secret references, and re-applying the same objects changes nothing in them.
//!
//! Found here: kube-apiserver 1.20 counts the managedFields timestamp (1s resolution) in
//! its no-op detection, so an identical re-apply one second later bumps resourceVersion
//! (never `generation`). A controller that must leave resourceVersions alone has to skip
//! applying objects that already match, not rely on apply being a no-op.
// A panic is how a test reports failure.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::collections::BTreeMap;

use crds::{CATALOG, SupabaseProject, SupabaseProjectSpec};
use harness::TestEnv;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{ConfigMap, Service};
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::{Resource, ResourceExt};
use reconciler::workloads;
use serde::Serialize;
use serde::de::DeserializeOwned;

const SPEC: &str = r#"
apiExternalUrl: https://api.demo.example.com
database:
  secretRef: {name: demo-db}
  initialize: true
storage:
  backend: s3
  s3: {bucket: demo-bucket, region: eu-west-1, endpoint: "https://minio.example.com", secretRef: {name: demo-s3}}
smtp: {host: smtp.example.com, sender: no-reply@example.com, secretRef: {name: demo-smtp}}
dashboard: {secretRef: {name: demo-dash}}
components:
  studio: {enabled: true}
  kong: {env: [{name: KONG_LOG_LEVEL, value: info}]}
"#;

async fn apply<K>(env: &TestEnv, obj: &K) -> K
where
    K: Resource<Scope = k8s_openapi::NamespaceResourceScope> + Clone + Serialize + DeserializeOwned + std::fmt::Debug,
    <K as Resource>::DynamicType: Default,
{
    let api: Api<K> = env.api();
    let name = obj.meta().name.clone().expect("named");
    api.patch(&name, &PatchParams::apply(crds::MANAGER).force(), &Patch::Apply(obj))
        .await
        .unwrap_or_else(|e| panic!("apply {name}: {e}"))
}

/// Each object as stored, without what a no-op re-apply may legitimately touch on 1.20
/// (resourceVersion and the managedFields timestamp).
fn stored<K: Resource + Serialize>(objs: &[K]) -> BTreeMap<String, serde_json::Value> {
    objs.iter()
        .map(|o| {
            let mut v = serde_json::to_value(o).expect("json");
            if let Some(meta) = v.get_mut("metadata").and_then(|m| m.as_object_mut()) {
                meta.remove("resourceVersion");
                for f in meta.get_mut("managedFields").and_then(|f| f.as_array_mut()).into_iter().flatten() {
                    if let Some(f) = f.as_object_mut() {
                        f.remove("time");
                    }
                }
            }
            (o.name_any(), v)
        })
        .collect()
}

#[tokio::test]
async fn every_rendered_object_is_accepted_by_server_side_apply_and_reapplying_changes_nothing() {
    let env = TestEnv::new("workloads-apply").await.expect("test cluster");
    harness::crd::install(&env.client).await.expect("install CRD");
    let spec: SupabaseProjectSpec = serde_yaml::from_str(SPEC).expect("spec");
    let project = SupabaseProject::new("demo", crds::defaults(spec));
    let project = env.api::<SupabaseProject>().create(&PostParams::default(), &project).await.expect("project");

    let mut rendered = Vec::new();
    for e in &CATALOG {
        rendered.push(workloads::component(&project, e.component, "0123abcd").expect("renders"));
    }
    let (init_cm, init_job) = workloads::db_init(&project).expect("db init renders");

    // Apply twice: the second round must be a no-op for the apiserver.
    let mut rounds = Vec::new();
    for _ in 0..2 {
        let mut cms = vec![apply(&env, &init_cm).await];
        let mut services = Vec::new();
        let mut deployments = Vec::new();
        for o in &rendered {
            for cm in &o.config_maps {
                cms.push(apply(&env, cm).await);
            }
            services.push(apply(&env, &o.service).await);
            deployments.push(apply(&env, &o.deployment).await);
        }
        let jobs = vec![apply(&env, &init_job).await];
        rounds.push((stored(&cms), stored(&services), stored(&deployments), stored(&jobs)));
    }
    assert_eq!(rounds[0], rounds[1], "re-applying identical objects changed them");
    assert_eq!(rounds[0].2.len(), CATALOG.len());
    for d in rounds[1].2.values() {
        assert_eq!(d["metadata"]["generation"], 1, "no new rollout: {}", d["metadata"]["name"]);
    }

    // What the apiserver stored still carries secret references, not values.
    let kong: Deployment = env.api().get("demo-kong").await.expect("kong");
    let stored = serde_json::to_value(&kong).expect("json");
    let env_vars = stored.pointer("/spec/template/spec/containers/0/env").cloned().expect("env");
    let anon = env_vars.as_array().expect("list").iter().find(|v| v["name"] == "SUPABASE_ANON_KEY").expect("anon");
    assert_eq!(anon["valueFrom"]["secretKeyRef"]["name"], "demo-jwt");
    assert!(anon.get("value").is_none());
    assert_eq!(kong.owner_references()[0].uid, project.uid().expect("uid"));

    let svc: Service = env.api().get("demo-rest").await.expect("rest service");
    assert_eq!(svc.spec.and_then(|s| s.ports).expect("ports")[0].protocol.as_deref(), Some("TCP"));
    let _: ConfigMap = env.api().get("demo-kong").await.expect("kong config");
    let _: Job = env.api().get("demo-db-init").await.expect("db-init job");
}
