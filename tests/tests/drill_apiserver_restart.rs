//! Drill: the apiserver restarts in the middle of a rollout. The reconciler's watches
//! break and its writes fail for a while. If the outage (plus the time a busy machine
//! takes to start the apiserver again) outlasts the renew deadline, the reconciler loses
//! its Lease and exits, as designed; a supervisor restarts it, as the kubelet restarts
//! a container that exits. Either way:
//! - the project converges, and the spec change made right after the apiserver came back
//!   is not lost;
//! - no run writes after its renew deadline (`harness::supervisor::assert_fenced`).
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crds::{Phase, SupabaseProject};
use harness::reconciler::{MINIMAL_SPEC, admitted, db_secret, eventually};
use harness::supervisor::{Supervisor, assert_fenced};
use harness::{ControlPlane, TestEnv, patience};
use k8s_openapi::api::apps::v1::Deployment;
use reconciler::{Config, LeaseConfig, Metrics};
use tokio_util::sync::CancellationToken;

/// The reconciler's cap on its watch backoff (`controller::WATCH_BACKOFF_MAX`): after an
/// outage, its watches are back at most this long after the apiserver is.
const WATCH_BACKOFF_MAX: Duration = Duration::from_secs(5);

/// Production timings: a few seconds of outage should not cost the Lease on an idle
/// machine, but a busy one may take longer than the renew deadline to restart the apiserver.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconciler_converges_after_an_apiserver_restart_mid_rollout() {
    let lease = LeaseConfig {
        name: "supabase-reconciler".into(),
        namespace: "default".into(),
        identity: "drill".into(),
        lease_duration: Duration::from_secs(15),
        renew_deadline: Duration::from_secs(10),
        retry_period: Duration::from_secs(2),
    };
    let down_for = Duration::from_secs(3);
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,kube=warn"));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_test_writer().try_init();
    // Its own control plane: restarting the shared one would break other tests.
    let dir = tempfile::Builder::new().prefix("drill-restart-").tempdir().unwrap();
    let mut plane = tokio::task::block_in_place(|| ControlPlane::start(dir.path())).unwrap();
    let client = harness::client(plane.kubeconfig()).await.unwrap();
    harness::crd::install(&client).await.unwrap();
    let kubeconfig: PathBuf = plane.kubeconfig().into();
    let env = TestEnv { client: client.clone(), namespace: "default".into(), kubeconfig: kubeconfig.clone() };
    env.kubectl().args(["apply", "-f", "-"]).stdin(db_secret("db", "drill-password")).ok().await;

    let (renew_deadline, retry_period) = (lease.renew_deadline, lease.retry_period);
    let config = Config {
        lease,
        health_addr: None,
        namespace: Some("default".into()),
        metrics: Arc::new(Metrics::new()),
        concurrency: 16,
    };
    let supervisor = Supervisor::start(harness::config(&kubeconfig).await.unwrap(), config);

    // Nothing rolls before the database preflight answers: its stand-in runs throughout
    // (it retries its writes while the apiserver is away).
    let preflight = CancellationToken::new();
    let answers = tokio::spawn(harness::preflight_standin::answer(
        client.clone(),
        "default".into(),
        harness::preflight_standin::Database::Complete,
        preflight.clone(),
    ));
    // Kong and Auth become ready, then the apiserver goes away mid-rollout.
    env.kubectl().args(["apply", "-f", "-"]).stdin(admitted("p", MINIMAL_SPEC)).ok().await;
    let deployments = env.api::<Deployment>();
    for component in ["p-kong", "p-auth"] {
        eventually(component, patience::settle(), || async {
            deployments.get(component).await.map_err(|e| e.to_string())
        })
        .await;
        harness::deployments::mark_ready(&deployments, component).await.unwrap();
    }
    let down = Instant::now();
    tokio::task::block_in_place(|| plane.restart_apiserver(down_for)).unwrap();
    let back = Instant::now();
    eprintln!("drill: the apiserver was down for {:.1} s (asked for {down_for:?})", (back - down).as_secs_f64());

    // Right after it is back: a spec change that must not be lost.
    let changed = admitted("p", &format!("{MINIMAL_SPEC}components:\n  auth:\n    replicas: 2\n"));
    eventually("apply after restart", patience::settle(), || async {
        let out = env.kubectl().args(["apply", "-f", "-"]).stdin(changed.clone()).run().await;
        if out.success { Ok(()) } else { Err(out.stderr) }
    })
    .await;

    // The stand-in kubelet from here on; the reconciler must finish on its own. A lost
    // Lease is noticed within the renew deadline and a retry period, the restarted
    // process leads at once (same identity, as a restarted pod keeps its name), and the
    // watches are back within their backoff cap; the rest is the rollout itself.
    let stop = CancellationToken::new();
    let kubelet = tokio::spawn(harness::kubelet::simulate(client.clone(), "default".into(), stop.clone()));
    let projects = env.api::<SupabaseProject>();
    let bound = renew_deadline + retry_period + WATCH_BACKOFF_MAX + patience::settle();
    eventually("Running at the new generation", bound, || async {
        assert!(!supervisor.is_finished(), "the reconciler stopped for good");
        let p = projects.get("p").await.map_err(|e| e.to_string())?;
        let s = p.status.clone().unwrap_or_default();
        if s.phase == Some(Phase::Running) && s.observed_generation == p.metadata.generation {
            Ok(())
        } else {
            Err(format!(
                "{:?} {:?} observed {:?} of {:?}",
                s.phase, s.message, s.observed_generation, p.metadata.generation
            ))
        }
    })
    .await;
    let converged = back.elapsed();
    let auth = deployments.get("p-auth").await.unwrap();
    assert_eq!(auth.spec.and_then(|s| s.replicas), Some(2), "the spec change made after the restart was lost");

    stop.cancel();
    preflight.cancel();
    let _ = kubelet.await;
    let _ = answers.await;
    let restarts = supervisor.restarts();
    let lives = supervisor.stop().await;
    eprintln!(
        "drill: Running at the new generation {:.1} s after the apiserver was back; {restarts} restart(s)",
        converged.as_secs_f64()
    );
    assert_fenced(&lives, renew_deadline);
}
