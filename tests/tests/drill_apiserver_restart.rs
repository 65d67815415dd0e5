//! Drill: the apiserver restarts in the middle of a rollout. The reconciler's
//! watches break and its writes fail for a while; it must reconnect, converge, and
//! not lose the spec change made right after the apiserver came back.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Duration;

use crds::{Phase, SupabaseProject};
use harness::reconciler::{MINIMAL_SPEC, admitted, db_secret, eventually};
use harness::{ControlPlane, TestEnv};
use k8s_openapi::api::apps::v1::Deployment;
use reconciler::{Config, LeaseConfig, Metrics};
use tokio_util::sync::CancellationToken;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconciler_converges_after_an_apiserver_restart_mid_rollout() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,kube=warn"));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_test_writer().try_init();
    // Its own control plane: restarting the shared one would break other tests.
    let dir = tempfile::Builder::new().prefix("drill-restart-").tempdir().unwrap();
    let mut plane = tokio::task::block_in_place(|| ControlPlane::start(dir.path())).unwrap();
    let client = harness::client(plane.kubeconfig()).await.unwrap();
    harness::crd::install(&client).await.unwrap();
    let env = TestEnv { client: client.clone(), namespace: "default".into(), kubeconfig: plane.kubeconfig().into() };
    env.kubectl().args(["apply", "-f", "-"]).stdin(db_secret("db", "drill-password")).ok().await;

    // Production timings: a few seconds of apiserver outage must not cost the Lease.
    let config = Config {
        lease: LeaseConfig {
            name: "supabase-reconciler".into(),
            namespace: "default".into(),
            identity: "drill".into(),
            lease_duration: Duration::from_secs(15),
            renew_deadline: Duration::from_secs(10),
            retry_period: Duration::from_secs(2),
        },
        health_addr: None,
        namespace: Some("default".into()),
        metrics: Arc::new(Metrics::new()),
    };
    let shutdown = CancellationToken::new();
    let run = tokio::spawn(reconciler::run(config, client.clone(), shutdown.clone()));

    // Kong and Auth become ready, then the apiserver goes away mid-rollout.
    env.kubectl().args(["apply", "-f", "-"]).stdin(admitted("p", MINIMAL_SPEC)).ok().await;
    let deployments = env.api::<Deployment>();
    for component in ["p-kong", "p-auth"] {
        eventually(component, Duration::from_secs(30), || async {
            deployments.get(component).await.map_err(|e| e.to_string())
        })
        .await;
        harness::deployments::mark_ready(&deployments, component).await.unwrap();
    }
    tokio::task::block_in_place(|| plane.restart_apiserver(Duration::from_secs(3))).unwrap();
    let back = std::time::Instant::now();

    // Right after it is back: a spec change that must not be lost.
    let changed = admitted("p", &format!("{MINIMAL_SPEC}components:\n  auth:\n    replicas: 2\n"));
    eventually("apply after restart", Duration::from_secs(30), || async {
        let out = env.kubectl().args(["apply", "-f", "-"]).stdin(changed.clone()).run().await;
        if out.success { Ok(()) } else { Err(out.stderr) }
    })
    .await;

    // The stand-in kubelet from here on; the reconciler must finish on its own.
    let stop = CancellationToken::new();
    let kubelet = tokio::spawn(harness::kubelet::simulate(client.clone(), "default".into(), stop.clone()));
    let projects = env.api::<SupabaseProject>();
    eventually("Running at the new generation", Duration::from_secs(240), || async {
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
    eprintln!(
        "drill: Running at the new generation {:.1} s after the apiserver was back",
        back.elapsed().as_secs_f64()
    );
    let auth = deployments.get("p-auth").await.unwrap();
    assert_eq!(auth.spec.and_then(|s| s.replicas), Some(2), "the spec change made after the restart was lost");
    assert!(!run.is_finished(), "the reconciler exited: {:?}", run.await);

    stop.cancel();
    let _ = kubelet.await;
    shutdown.cancel();
    let result = tokio::time::timeout(Duration::from_secs(30), run).await;
    assert!(matches!(result, Ok(Ok(Ok(())))), "{result:?}");
}
