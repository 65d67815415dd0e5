//! The webhook's memory does not follow the cluster's Secrets: `bench-webhook memory`
//! with fewer Secrets (20,000 there, 2,000 here), the webhook as its own process.
//! Prints the figures (run with `--no-capture`).
#![allow(clippy::expect_used, clippy::unwrap_used)]

use harness::TestEnv;
use harness::bench::memory::{self, Options};

const SECRETS: usize = 2_000;
const BYTES: usize = 2048;

#[tokio::test]
async fn unrelated_secrets_leave_the_webhook_memory_flat_and_reviews_cached() {
    let env = TestEnv::new("wh-memory").await.expect("test cluster");
    let options = Options {
        secrets: SECRETS,
        bytes: BYTES,
        namespaces: 5,
        concurrency: 16,
        reviews: 50,
        project_namespaces: 0,
        webhook: harness::process::binary("webhook"),
        webhook_args: Vec::new(),
    };
    let dir = tempfile::tempdir().unwrap();
    let report = memory::run(&env.kubeconfig, &env.client, dir.path(), &env.namespace, &options).await;
    println!("{}", report.render(&options));

    // The cache holds the Secrets of namespaces with a project (here and in other
    // tests), not the unrelated ones.
    let held = report.cached_secrets.expect("the webhook exposes the cache's size");
    assert!(held < SECRETS as f64, "the cache holds {held} Secrets");
    // Holding the Secrets would take more than their data; half of it is far beyond
    // what allocator noise or the other tests' namespaces move.
    let grew_kib = report.after_kib.saturating_sub(report.idle_kib);
    let data_kib = (SECRETS * BYTES / 1024) as u64;
    assert!(
        grew_kib < data_kib / 2,
        "RSS grew by {grew_kib} KiB with {data_kib} KiB of unrelated Secret data; log: {}",
        report.log.display()
    );
    // Where projects live, reviews read no Secret from the apiserver, before and after,
    // the first one included.
    assert_eq!(report.before.first_reads, Some(0.0));
    assert_eq!(report.after.first_reads, Some(0.0));
    assert_eq!(report.before.apiserver_reads, Some(0.0));
    assert_eq!(report.after.apiserver_reads, Some(0.0));
    assert_eq!(report.new_project.apiserver_reads, Some(0.0));
    // Without a project, every review reads each Secret the sample references.
    let referenced = harness::fixtures::full_sample().len() as f64;
    assert_eq!(report.no_project.first_reads, Some(referenced));
    assert_eq!(report.no_project.apiserver_reads, Some(referenced * options.reviews.min(20) as f64));
}
