//! Two reconcilers, one Lease: only the leader writes; when it dies, the other takes
//! over and carries on with the rollout.
// A panic is how a test reports failure.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::sync::Mutex;
use std::time::{Duration, Instant};

use crds::Component;
use harness::reconciler::{self as rec, LEASE, MINIMAL_SPEC};
use harness::{deployments, patience};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::events::v1::Event;

async fn holder(env: &harness::TestEnv) -> Option<String> {
    let lease: Option<Lease> = env.api().get_opt(LEASE).await.unwrap();
    lease.and_then(|l| l.spec).and_then(|s| s.holder_identity)
}

#[tokio::test]
async fn only_the_leader_writes_and_a_standby_takes_over_when_it_dies() {
    let env = rec::project_env("leader-election", "demo", MINIMAL_SPEC).await;
    let a = rec::start_with_lease(&env, rec::failover_lease(&env, "replica-a"), None);
    rec::eventually("replica-a leads", patience::settle(), || async {
        if holder(&env).await.as_deref() == Some("replica-a") { Ok(()) } else { Err("not yet".to_string()) }
    })
    .await;
    let config = rec::failover_lease(&env, "replica-b");
    let b = rec::start_with_lease(&env, config.clone(), None);

    rec::wait_deployment(&env, "demo", Component::Kong).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(holder(&env).await.as_deref(), Some("replica-a"));
    assert!(a.reconciles() > 0);
    assert_eq!(b.reconciles(), 0, "the standby reconciled");
    assert!(a.metrics.encode().contains("supabase_reconciler_leader 1"));
    assert!(b.metrics.encode().contains("supabase_reconciler_leader 0"));
    // Every event so far was reported by the leader.
    let events = env.api::<Event>().list(&Default::default()).await.unwrap();
    assert!(!events.items.is_empty());
    assert!(events.items.iter().all(|e| e.reporting_instance.as_deref() == Some("replica-a")));

    // The leader dies without releasing the Lease; the standby waits for it to expire.
    a.kill().await;
    let killed = Instant::now();
    // replica-a's last renewal, as the Lease shows it until replica-b takes it over: at
    // least a lease duration later, so polling cannot miss it.
    let last_renewal = Mutex::new(None);
    let taken = rec::eventually(
        "replica-b takes the Lease",
        config.lease_duration + config.retry_period + patience::settle(),
        || async {
            let spec = env.api::<Lease>().get(LEASE).await.map_err(|e| e.to_string())?.spec.unwrap_or_default();
            match spec.holder_identity.as_deref() {
                Some("replica-b") => Ok(spec),
                Some("replica-a") => {
                    *last_renewal.lock().unwrap() = spec.renew_time.map(|t| t.0);
                    Err("replica-a".to_string())
                }
                other => Err(format!("{other:?}")),
            }
        },
    )
    .await;
    eprintln!("replica-b took the Lease {} ms after replica-a died", killed.elapsed().as_millis());
    // Judged on the Lease's own times, both stamped by this machine's clock as each replica
    // wrote them. replica-b may take the Lease only once it expired: a lease duration after
    // the last renewal it saw. It sees that renewal at most a round trip and a retry period
    // after it was stamped, and looks again every retry period: it takes the Lease within
    // the lease duration, two retry periods and three round trips. 5 s covers round trips
    // of over a second each; a standby that waited a second lease duration (8 s) still fails.
    let renewed = last_renewal.lock().unwrap().expect("replica-a's last renewal was seen");
    let acquired = taken.acquire_time.expect("acquire time").0;
    let handover = Duration::try_from(acquired.duration_since(renewed)).unwrap_or_default();
    let bound = config.lease_duration + config.retry_period * 2 + Duration::from_secs(5);
    eprintln!("replica-b acquired the Lease {} ms after replica-a's last renewal", handover.as_millis());
    assert!(
        handover >= config.lease_duration,
        "replica-b took the Lease {handover:?} after the last renewal: unexpired"
    );
    assert!(
        handover <= bound,
        "replica-b took the Lease {handover:?} after the last renewal; expected within {bound:?}"
    );
    deployments::mark_ready(&env.api(), "demo-kong").await.unwrap();
    rec::wait_deployment(&env, "demo", Component::Auth).await;
    assert_eq!(holder(&env).await.as_deref(), Some("replica-b"));
    // The reconcile that applied Auth counts once it has finished.
    rec::eventually("replica-b reconciles", patience::settle(), || async {
        if b.reconciles() > 0 { Ok(()) } else { Err("none yet".to_string()) }
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
    let retry_period = rec::lease(&env, "replica-a").retry_period;
    rec::wait_deployment(&env, "demo", Component::Kong).await;

    // Someone else holds the Lease now (as after a long partition): A must stop.
    let leases = env.api::<Lease>();
    // The leader renews every retry period, so a read-modify-write may need a few tries.
    rec::eventually("the Lease taken over", patience::settle(), || async {
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
    // A reads the Lease every retry period.
    let result = a.finished(patience::after(retry_period)).await;
    assert!(matches!(result, Err(reconciler::Error::LostLeadership(_))), "{result:?}");

    // Nobody acts now: Kong becoming ready does not bring Auth.
    deployments::mark_ready(&env.api(), "demo-kong").await.unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let auth: Option<k8s_openapi::api::apps::v1::Deployment> = env.api().get_opt("demo-auth").await.unwrap();
    assert!(auth.is_none(), "a deposed leader kept writing");
}
