//! The watch cache's freshness rule, made deterministic with a cache the test fills
//! itself: an allowed answer may come from the cache, but a denial is only given on
//! what the apiserver says now (a user who just fixed a Secret is not refused on the
//! old copy). And which Secrets the cache holds: those of namespaces with a project,
//! from the first project to the last, with the RBAC the webhook ships with.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use crds::SupabaseProject;
use harness::TestEnv;
use harness::bench::prometheus;
use harness::kubectl::Kubectl;
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, DeleteParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::runtime::{reflector, watcher};
use serde_json::json;
use tokio_util::sync::CancellationToken;
use webhook::admission::Admission;
use webhook::lookup::Secrets;
use webhook::metrics::Metrics;
use webhook::policy::PolicyHandle;
use webhook::validate::Lookup;

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

/// The webhook's ServiceAccount, as `config/rbac/webhook.yaml` binds it.
const WEBHOOK_SA: &str = "system:serviceaccount:supabase-operator-system:supabase-operator-webhook";

/// How long the cache may take to follow a change: far beyond a watch's delivery, so
/// only a cache that never follows fails.
const FOLLOW: Duration = Duration::from_secs(30);

/// A client acting as the webhook's ServiceAccount, with only the shipped grants.
async fn as_webhook(env: &TestEnv) -> kube::Client {
    let kubectl = || Kubectl::new(&env.kubeconfig, "supabase-operator-system");
    for file in ["config/rbac/namespace.yaml", "config/rbac/webhook.yaml"] {
        kubectl().args(["apply", "-f", &harness::repo_path(file).display().to_string()]).ok().await;
    }
    let kc = Kubeconfig::read_from(&env.kubeconfig).unwrap();
    let mut config = kube::Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default()).await.unwrap();
    config.auth_info.impersonate = Some(WEBHOOK_SA.into());
    config.auth_info.impersonate_groups = Some(vec!["system:serviceaccounts".into(), "system:authenticated".into()]);
    kube::Client::try_from(config).unwrap()
}

/// Secret reads `(from the cache, from the apiserver)` so far.
fn reads(metrics: &Metrics) -> (f64, f64) {
    let text = metrics.render();
    let count = |source: &str| {
        prometheus::value(&text, "supabase_webhook_secret_reads_total", &format!("{{source=\"{source}\"}}")).unwrap()
    };
    (count("cache"), count("apiserver"))
}

/// Polls `check` until it holds, for at most [`FOLLOW`].
async fn eventually(what: &str, mut check: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + FOLLOW;
    while !check().await {
        assert!(Instant::now() < deadline, "{what}: not within {FOLLOW:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn password(lookup: &Lookup) -> Option<Vec<u8>> {
    match lookup {
        Lookup::Found(data) => data.get("password").map(<[u8]>::to_vec),
        _ => None,
    }
}

#[tokio::test]
async fn a_namespace_is_cached_from_its_first_project_to_its_last_with_the_shipped_rbac() {
    let env = TestEnv::new("wh-cache-namespaces").await.expect("test cluster");
    harness::crd::install(&env.client).await.expect("install CRD");
    let secrets_api: Api<Secret> = env.api();
    let mut stored = db(&env.namespace, "pw");
    stored.string_data = None;
    secrets_api.create(&PostParams::default(), &stored).await.unwrap();

    let metrics = Arc::new(Metrics::new());
    let stop = CancellationToken::new();
    let secrets = Secrets::cached(as_webhook(&env).await, stop.clone(), metrics.clone());
    eventually("the cache is ready with the shipped RBAC", async || secrets.ready().await.is_ok()).await;
    let ns = env.namespace.as_str();

    // No project here yet: the Secret is read from the apiserver, every time.
    assert!(!secrets.watched_namespaces().contains(&env.namespace));
    for _ in 0..2 {
        let before = reads(&metrics);
        assert_eq!(password(&secrets.get(ns, "db").await).as_deref(), Some(&b"pw"[..]));
        assert_eq!(reads(&metrics).1, before.1 + 1.0, "not read from the apiserver");
    }

    // Its first project: the namespace's Secrets are watched and read from the cache.
    let project: SupabaseProject = serde_json::from_value(json!({
        "apiVersion": "supabase-operator.io/v1alpha1", "kind": "SupabaseProject",
        "metadata": {"name": "p"},
        "spec": {"apiExternalUrl": "https://x.example.com", "database": {"secretRef": {"name": "db"}}}}))
    .unwrap();
    let projects: Api<SupabaseProject> = env.api();
    projects.create(&PostParams::default(), &project).await.unwrap();
    eventually("the first project's Secrets are read from the cache", async || {
        let before = reads(&metrics);
        let found = password(&secrets.get(ns, "db").await);
        let after = reads(&metrics);
        found.as_deref() == Some(&b"pw"[..]) && after.1 == before.1 && after.0 == before.0 + 1.0
    })
    .await;
    assert!(secrets.watched_namespaces().contains(&env.namespace));

    // An edit reaches the cache.
    let mut edited = stored.clone();
    edited.data.as_mut().unwrap().insert("password".into(), ByteString(b"new-pw".to_vec()));
    secrets_api.replace("db", &PostParams::default(), &edited).await.unwrap();
    eventually("the edit is cached", async || {
        let before = reads(&metrics).1;
        password(&secrets.get(ns, "db").await).as_deref() == Some(&b"new-pw"[..]) && reads(&metrics).1 == before
    })
    .await;

    // Its last project goes: the watch stops and reads go to the apiserver again.
    projects.delete("p", &DeleteParams::default()).await.unwrap();
    eventually("the namespace is no longer watched", async || !secrets.watched_namespaces().contains(&env.namespace))
        .await;
    let before = reads(&metrics);
    assert_eq!(password(&secrets.get(ns, "db").await).as_deref(), Some(&b"new-pw"[..]));
    assert_eq!(reads(&metrics).1, before.1 + 1.0, "read from a cache that should be gone");
    stop.cancel();
}
