//! Drill: the leader's Lease renewals stop getting through (a partition only they meet;
//! every other request still works) while its project keeps changing, so reconciles are
//! writing when the renew deadline passes. The leader must stop writing at the deadline
//! and exit once its elector notices (as designed); restarted by its supervisor, as the
//! kubelet would restart the container, it carries on. Asserted: no run wrote after its
//! renew deadline (`harness::supervisor::assert_fenced`), the reconciler was restarted,
//! and the project converges to the last spec, set after the restart.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use crds::{Phase, SupabaseProject};
use harness::patience;
use harness::reconciler::{self as rec, MINIMAL_SPEC};
use harness::supervisor::{Supervisor, assert_fenced};
use k8s_openapi::api::apps::v1::Deployment;
use kube::api::{Patch, PatchParams};
use reconciler::{Config, LeaseConfig, Metrics};
use tokio_util::sync::CancellationToken;

async fn scale_kong(env: &harness::TestEnv, replicas: i32) {
    let patch = serde_json::json!({"spec": {"components": {"kong": {"replicas": replicas}}}});
    env.api::<SupabaseProject>().patch("p", &PatchParams::default(), &Patch::Merge(&patch)).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leader_whose_renewals_stall_stops_writing_at_its_deadline_and_is_restarted() {
    let env = rec::project_env("lease-stall", "p", MINIMAL_SPEC).await;
    let lease = LeaseConfig {
        name: rec::LEASE.into(),
        namespace: env.namespace.clone(),
        identity: "stalled".into(),
        // The elector notices the lapse up to a retry period after the deadline (its
        // stalled attempt times out then): a long retry period leaves the fence alone in
        // charge for that long, beyond `SEND_MARGIN`, while the spec keeps changing.
        lease_duration: Duration::from_secs(10),
        renew_deadline: Duration::from_secs(5),
        retry_period: Duration::from_secs(3),
    };
    let (renew_deadline, retry_period) = (lease.renew_deadline, lease.retry_period);
    let config = Config {
        lease,
        health_addr: None,
        namespace: Some(env.namespace.clone()),
        metrics: Arc::new(Metrics::new()),
        concurrency: 4,
    };
    let supervisor = Supervisor::start(harness::config(&env.kubeconfig).await.unwrap(), config);
    let stop = CancellationToken::new();
    let kubelet = tokio::spawn(harness::kubelet::simulate(env.client.clone(), env.namespace.clone(), stop.clone()));
    rec::wait_phase(&env, "p", Phase::Running).await;

    // From now on the first run's renewals hang; its elector gives each attempt the renew
    // deadline, so it notices the lapse a retry period and a renew deadline after the
    // last renewal at the latest. Meanwhile the spec keeps changing.
    supervisor.recorder(0).unwrap().stall_lease_writes();
    let stalled = Instant::now();
    let bound = retry_period + renew_deadline + patience::settle();
    let mut changes = 0;
    while supervisor.restarts() == 0 {
        assert!(!supervisor.is_finished(), "the reconciler stopped for good");
        assert!(stalled.elapsed() < bound, "the reconciler kept running {bound:?} after its renewals stalled");
        changes += 1;
        scale_kong(&env, 1 + changes % 3).await;
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let restarted = stalled.elapsed();

    // A change after the restart must not be lost.
    scale_kong(&env, 4).await;
    rec::wait_phase(&env, "p", Phase::Running).await;
    let kong: Deployment = env.api().get("p-kong").await.unwrap();
    assert_eq!(kong.spec.and_then(|s| s.replicas), Some(4), "the change made after the restart was lost");

    stop.cancel();
    let _ = kubelet.await;
    let lives = supervisor.stop().await;
    eprintln!(
        "drill: restarted {:.1} s after the renewals stalled, {changes} spec changes meanwhile; {} run(s)",
        restarted.as_secs_f64(),
        lives.len()
    );
    assert_fenced(&lives, renew_deadline);
}
