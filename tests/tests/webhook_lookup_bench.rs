//! Secret lookups measured both ways against the real apiserver: a GET per Secret, and
//! the watch-fed cache of the namespaces holding a project. Prints the figures (run
//! with `--no-capture`) and checks that both ways read the same data, and that the
//! cache falls back to a GET for a Secret it has not seen yet.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use crds::SupabaseProject;
use harness::TestEnv;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, PostParams};
use tokio_util::sync::CancellationToken;
use webhook::lookup::Secrets;
use webhook::metrics::Metrics;
use webhook::validate::Lookup;

const SECRETS: usize = 200;
const ROUNDS: usize = 300;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

async fn measure(label: &str, secrets: &Secrets, ns: &str) -> Vec<Duration> {
    let mut single = Vec::with_capacity(ROUNDS);
    for i in 0..ROUNDS {
        let started = Instant::now();
        let got = secrets.get(ns, &format!("s-{}", i % SECRETS)).await;
        single.push(started.elapsed());
        assert!(matches!(got, Lookup::Found(_)), "{label}: {got:?}");
    }
    single.sort();
    // A review of a full project reads six Secrets at once.
    let names: Vec<String> = (0..6).map(|i| format!("s-{i}")).collect();
    let mut review = Vec::with_capacity(ROUNDS / 3);
    for _ in 0..ROUNDS / 3 {
        let started = Instant::now();
        let _ = secrets.get_all(ns, &names).await;
        review.push(started.elapsed());
    }
    review.sort();
    println!(
        "{label:>6}: one Secret p50 {:>9.1?} p99 {:>9.1?} | six Secrets per review p50 {:>9.1?} p99 {:>9.1?}",
        percentile(&single, 0.5),
        percentile(&single, 0.99),
        percentile(&review, 0.5),
        percentile(&review, 0.99),
    );
    single
}

#[tokio::test]
async fn direct_reads_and_the_watch_cache_agree_and_are_measured() {
    let env = TestEnv::new("wh-lookup-bench").await.expect("test cluster");
    let api: Api<Secret> = env.api();
    let value = "x".repeat(1024);
    let created = Instant::now();
    for chunk in (0..SECRETS).collect::<Vec<_>>().chunks(20) {
        let creates = chunk.iter().map(|i| {
            let secret: Secret = serde_json::from_value(serde_json::json!({
                "metadata": {"name": format!("s-{i}")},
                "stringData": {"password": format!("{value}-{i}"), "host": "db.example.com"}
            }))
            .unwrap();
            let api = api.clone();
            async move { api.create(&PostParams::default(), &secret).await.unwrap() }
        });
        futures::future::join_all(creates).await;
    }
    println!("created {SECRETS} Secrets of ~1 KiB in {:.1?}", created.elapsed());

    // The cache watches the Secrets of namespaces that hold a project.
    harness::crd::install(&env.client).await.expect("install CRD");
    let project: SupabaseProject = serde_json::from_value(serde_json::json!({
        "apiVersion": "supabase-operator.io/v1alpha1", "kind": "SupabaseProject", "metadata": {"name": "p"},
        "spec": {"apiExternalUrl": "https://x.example.com", "database": {"secretRef": {"name": "s-0"}}}}))
    .unwrap();
    env.api::<SupabaseProject>().create(&PostParams::default(), &project).await.unwrap();

    let direct = Secrets::direct(env.client.clone());
    measure("direct", &direct, &env.namespace).await;

    let stop = CancellationToken::new();
    let started = Instant::now();
    let cached = Secrets::cached(env.client.clone(), stop.clone(), Arc::new(Metrics::new()));
    let deadline = Instant::now() + Duration::from_secs(30);
    while cached.ready().await.is_err() {
        assert!(Instant::now() < deadline, "the cache never synced");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    println!(
        " cache: synced {} Secrets ({} namespaces holding a project) in {:.1?}, holding ~{} KiB of data",
        cached.cached_len(),
        cached.watched_namespaces().len(),
        started.elapsed(),
        cached.cached_bytes() / 1024
    );
    measure("cache", &cached, &env.namespace).await;

    for i in 0..SECRETS {
        let name = format!("s-{i}");
        assert_eq!(direct.get(&env.namespace, &name).await, cached.get(&env.namespace, &name).await, "{name}");
    }
    // A Secret created after the sync is found at once (a GET on a miss) ...
    let late: Secret =
        serde_json::from_value(serde_json::json!({"metadata": {"name": "late"}, "stringData": {"k": "v"}})).unwrap();
    api.create(&PostParams::default(), &late).await.unwrap();
    assert!(matches!(cached.get(&env.namespace, "late").await, Lookup::Found(_)));
    // ... and a missing one is missing both ways.
    assert_eq!(cached.get(&env.namespace, "absent").await, Lookup::Missing);
    assert_eq!(direct.get(&env.namespace, "absent").await, Lookup::Missing);
    stop.cancel();
}
