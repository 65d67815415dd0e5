//! The watch cache's freshness rule, made deterministic with a cache the test fills
//! itself: an allowed answer may come from the cache, but a denial is only given on
//! what the apiserver says now (a user who just fixed a Secret is not refused on the
//! old copy).
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::sync::Arc;

use harness::TestEnv;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, PostParams};
use kube::runtime::{reflector, watcher};
use serde_json::json;
use webhook::admission::Admission;
use webhook::lookup::Secrets;
use webhook::metrics::Metrics;
use webhook::policy::PolicyHandle;

fn db(namespace: &str, password: &str) -> Secret {
    serde_json::from_value(json!({
        "metadata": {"name": "db", "namespace": namespace},
        "stringData": {"host": "db.example.com", "port": "5432", "database": "postgres", "password": password},
        "data": {"host": "ZGIuZXhhbXBsZS5jb20=", "port": "NTQzMg==", "database": "cG9zdGdyZXM=",
                 "password": if password.is_empty() { "".to_string() } else { "cHc=".to_string() }},
    }))
    .unwrap()
}

async fn decide(admission: &Admission, namespace: &str) -> serde_json::Value {
    let object = json!({"apiVersion": "supabase-operator.io/v1alpha1", "kind": "SupabaseProject",
        "metadata": {"name": "p", "namespace": namespace},
        "spec": {"apiExternalUrl": "https://x.example.com", "database": {"secretRef": {"name": "db"}}}});
    let mut review = harness::webhook::review("u", "CREATE", object, None);
    review["request"]["namespace"] = json!(namespace);
    let request = webhook::review::parse(&serde_json::to_vec(&review).unwrap()).unwrap();
    serde_json::to_value(admission.validate(request).await).unwrap()
}

#[tokio::test]
async fn denials_are_rechecked_against_the_apiserver_and_allowances_come_from_the_cache() {
    let env = TestEnv::new("wh-cache-fresh").await.expect("test cluster");
    let (store, mut writer) = reflector::store::<Secret>();
    let admission = Admission {
        secrets: Secrets::from_store(env.client.clone(), store),
        access: None,
        policy: PolicyHandle::default(),
        metrics: Arc::new(Metrics::new()),
    };
    let mut stored = db(&env.namespace, "pw");
    stored.string_data = None;
    Api::<Secret>::namespaced(env.client.clone(), &env.namespace)
        .create(&PostParams::default(), &stored)
        .await
        .unwrap();

    // The cache holds an old copy with an empty password; the apiserver has the fixed one.
    let mut stale = db(&env.namespace, "");
    stale.string_data = None;
    writer.apply_watcher_event(&watcher::Event::Apply(stale));
    let answer = decide(&admission, &env.namespace).await;
    assert_eq!(answer["allowed"], true, "refused on a stale copy: {answer}");

    // The cache holds a good copy while the apiserver's was just emptied: allowed from the
    // cache (the reconciler reads the live Secret and reports it).
    let mut good = db(&env.namespace, "pw");
    good.string_data = None;
    writer.apply_watcher_event(&watcher::Event::Apply(good));
    let mut emptied = db(&env.namespace, "");
    emptied.string_data = None;
    Api::<Secret>::namespaced(env.client.clone(), &env.namespace)
        .replace("db", &PostParams::default(), &{
            let mut s = emptied.clone();
            s.metadata.resource_version = None;
            s
        })
        .await
        .unwrap();
    assert_eq!(decide(&admission, &env.namespace).await["allowed"], true);

    // Both agree it is broken: refused, naming the key.
    writer.apply_watcher_event(&watcher::Event::Apply(emptied));
    let answer = decide(&admission, &env.namespace).await;
    assert_eq!(answer["allowed"], false);
    let message = answer["status"]["message"].as_str().unwrap();
    assert!(message.contains("spec.database.secretRef.passwordKey") && message.contains("is empty"), "{message}");
}
