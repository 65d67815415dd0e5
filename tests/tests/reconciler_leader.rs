//! Two reconcilers, one Lease: only the leader writes; when it dies, the other takes
//! over and carries on with the rollout.
// A panic is how a test reports failure.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::time::{Duration, Instant};

use crds::Component;
use harness::deployments;
use harness::reconciler::{self as rec, LEASE, MINIMAL_SPEC};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::events::v1::Event;
use reconciler::Outcome;

async fn holder(env: &harness::TestEnv) -> Option<String> {
    let lease: Option<Lease> = env.api().get_opt(LEASE).await.unwrap();
    lease.and_then(|l| l.spec).and_then(|s| s.holder_identity)
}

fn reconciles(r: &rec::Running) -> u64 {
    [Outcome::Success, Outcome::Failed, Outcome::Error].iter().map(|o| r.metrics.reconcile_count(*o)).sum()
}

#[tokio::test]
async fn only_the_leader_writes_and_a_standby_takes_over_when_it_dies() {
    let env = rec::project_env("leader-election", "demo", MINIMAL_SPEC).await;
    let a = rec::start(&env, "replica-a");
    rec::eventually("replica-a leads", Duration::from_secs(20), || async {
        if holder(&env).await.as_deref() == Some("replica-a") { Ok(()) } else { Err("not yet".to_string()) }
    })
    .await;
    let b = rec::start(&env, "replica-b");

    rec::wait_deployment(&env, "demo", Component::Kong).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(holder(&env).await.as_deref(), Some("replica-a"));
    assert!(reconciles(&a) > 0);
    assert_eq!(reconciles(&b), 0, "the standby reconciled");
    assert!(a.metrics.encode().contains("supabase_reconciler_leader 1"));
    assert!(b.metrics.encode().contains("supabase_reconciler_leader 0"));
    // Every event so far was reported by the leader.
    let events = env.api::<Event>().list(&Default::default()).await.unwrap();
    assert!(!events.items.is_empty());
    assert!(events.items.iter().all(|e| e.reporting_instance.as_deref() == Some("replica-a")));

    // The leader dies without releasing the Lease; the standby waits for it to expire.
    a.kill().await;
    let killed = Instant::now();
    rec::eventually("replica-b takes the Lease", Duration::from_secs(20), || async {
        if holder(&env).await.as_deref() == Some("replica-b") { Ok(()) } else { Err("not yet".to_string()) }
    })
    .await;
    // Its last renewal was at most a retry period before it died, and the standby asks
    // every retry period: the Lease changes hands within the lease duration and a retry
    // period of the death. The margin is for a busy test machine; a standby that waited
    // a second lease duration would miss it.
    let (took, config) = (killed.elapsed(), rec::lease(&env, "replica-b"));
    let bound = config.lease_duration + config.retry_period + Duration::from_secs(2);
    eprintln!("replica-b took the Lease {} ms after replica-a died", took.as_millis());
    assert!(took <= bound, "replica-b took the Lease {took:?} after replica-a died; expected within {bound:?}");
    deployments::mark_ready(&env.api(), "demo-kong").await.unwrap();
    rec::wait_deployment(&env, "demo", Component::Auth).await;
    assert_eq!(holder(&env).await.as_deref(), Some("replica-b"));
    // The reconcile that applied Auth counts once it has finished.
    rec::eventually("replica-b reconciles", Duration::from_secs(10), || async {
        if reconciles(&b) > 0 { Ok(()) } else { Err("none yet".to_string()) }
    })
    .await;
    let lease: Lease = env.api().get(LEASE).await.unwrap();
    assert_eq!(lease.spec.and_then(|s| s.lease_transitions), Some(1));
    b.stop().await;
    // A graceful stop releases the Lease.
    assert_eq!(holder(&env).await, None);
}

#[tokio::test]
async fn a_leader_that_finds_another_holder_stops_at_once() {
    let env = rec::project_env("leader-preempted", "demo", MINIMAL_SPEC).await;
    let a = rec::start(&env, "replica-a");
    rec::wait_deployment(&env, "demo", Component::Kong).await;

    // Someone else holds the Lease now (as after a long partition): A must stop.
    let leases = env.api::<Lease>();
    // The leader renews every 300 ms, so a read-modify-write may need a few tries.
    rec::eventually("the Lease taken over", Duration::from_secs(10), || async {
        let mut lease = leases.get(LEASE).await.unwrap();
        if let Some(spec) = lease.spec.as_mut() {
            spec.holder_identity = Some("intruder".into());
            spec.renew_time =
                Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime(k8s_openapi::jiff::Timestamp::now()));
            spec.lease_duration_seconds = Some(60);
        }
        leases.replace(LEASE, &Default::default(), &lease).await.map(|_| ()).map_err(|e| e.to_string())
    })
    .await;
    let result = a.finished(Duration::from_secs(10)).await;
    assert!(matches!(result, Err(reconciler::Error::LostLeadership(_))), "{result:?}");

    // Nobody acts now: Kong becoming ready does not bring Auth.
    deployments::mark_ready(&env.api(), "demo-kong").await.unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let auth: Option<k8s_openapi::api::apps::v1::Deployment> = env.api().get_opt("demo-auth").await.unwrap();
    assert!(auth.is_none(), "a deposed leader kept writing");
}
