//! Running the reconciler in-process for a test: scoped to the test's namespace, with
//! its own Lease there, so parallel tests never meet.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crds::SupabaseProject;
use reconciler::{Config, LeaseConfig, Metrics};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::TestEnv;
use crate::preflight_standin::Database;

/// Name of the Lease test reconcilers share within a namespace.
pub const LEASE: &str = "supabase-reconciler";

/// A reconciler running in the test process.
#[derive(Debug)]
pub struct Running {
    /// Its identity in the Lease.
    pub identity: String,
    /// Its metrics.
    pub metrics: Arc<Metrics>,
    shutdown: CancellationToken,
    handle: JoinHandle<Result<(), reconciler::Error>>,
}

/// Election timings for tests that do not test a failover: production's defaults. A
/// reconciler that cannot renew within the renew deadline exits, so a short deadline
/// would fail tests on a busy machine whose apiserver answers slowly for a moment. A
/// first leader, or one after a graceful stop (which releases the Lease), takes the Lease
/// at once whatever the timings.
pub fn lease(env: &TestEnv, identity: &str) -> LeaseConfig {
    LeaseConfig {
        name: LEASE.into(),
        namespace: env.namespace.clone(),
        identity: identity.into(),
        lease_duration: Duration::from_secs(15),
        renew_deadline: Duration::from_secs(10),
        retry_period: Duration::from_secs(2),
    }
}

/// Election timings for failover tests: a dead leader is replaced within ~8.5 s. The
/// renew deadline leaves a live leader 5 s for a renewal, which a busy machine meets.
pub fn failover_lease(env: &TestEnv, identity: &str) -> LeaseConfig {
    LeaseConfig {
        lease_duration: Duration::from_secs(8),
        renew_deadline: Duration::from_secs(5),
        retry_period: Duration::from_millis(500),
        ..lease(env, identity)
    }
}

/// Starts a reconciler for the test's namespace, optionally serving health on `health`.
pub fn start_with(env: &TestEnv, identity: &str, health: Option<std::net::SocketAddr>) -> Running {
    start_with_lease(env, lease(env, identity), health)
}

/// Starts a reconciler for the test's namespace with election timings `lease`, and the
/// preflight stand-in answering for a database that has everything.
pub fn start_with_lease(env: &TestEnv, lease: LeaseConfig, health: Option<std::net::SocketAddr>) -> Running {
    start_full(env, lease, health, Database::Complete, env.client.clone())
}

/// Starts a reconciler whose database preflight Jobs are answered as `database` says
/// (`Database::Real`: run against the PostgreSQL the project's Secret points at).
pub fn start_with_database(env: &TestEnv, identity: &str, database: Database) -> Running {
    start_full(env, lease(env, identity), None, database, env.client.clone())
}

/// Starts a reconciler whose client records every request it writes, for tests of what
/// a reconciler does not write.
pub async fn start_recorded(env: &TestEnv, identity: &str) -> (Running, crate::writes::Recorder) {
    let recorder = crate::writes::Recorder::default();
    let base = crate::env::config(&env.kubeconfig).await.expect("client config");
    let client = kube::client::ClientBuilder::try_from(reconciler::leader::client_config(base))
        .expect("client")
        .with_layer(&recorder)
        .build();
    (start_full(env, lease(env, identity), None, Database::Complete, client), recorder)
}

/// The writes (method, path) a new reconciler process makes to the settled projects in
/// `env`'s namespace during its first reconcile, leases and dry runs aside: empty is the
/// steady state every owned object must reach. The process is stopped before returning.
pub async fn writes_of_a_fresh_start(env: &TestEnv) -> Vec<(http::Method, String)> {
    let (fresh, recorder) = start_recorded(env, "fresh").await;
    eventually("a reconcile by the new process", crate::patience::settle(), || async {
        if fresh.reconciles() >= 1 { Ok(()) } else { Err("none yet".to_string()) }
    })
    .await;
    fresh.stop().await;
    recorder.writes().into_iter().filter(|w| !w.is_lease() && !w.is_dry_run()).map(|w| (w.method, w.path)).collect()
}

fn start_full(
    env: &TestEnv,
    lease: LeaseConfig,
    health: Option<std::net::SocketAddr>,
    database: Database,
    client: kube::Client,
) -> Running {
    // The reconciler's logs go to the test's output (shown when it fails); RUST_LOG filters.
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,kube=warn"));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_test_writer().try_init();
    let metrics = Arc::new(Metrics::new());
    let identity = lease.identity.clone();
    let config = Config {
        lease,
        health_addr: health,
        namespace: Some(env.namespace.clone()),
        metrics: metrics.clone(),
        concurrency: 4,
    };
    let shutdown = CancellationToken::new();
    let handle = tokio::spawn(reconciler::run(config, client, shutdown.clone()));
    // Nothing runs Jobs here: the stand-in answers the database preflight until the stop.
    tokio::spawn(crate::preflight_standin::answer(
        env.client.clone(),
        env.namespace.clone(),
        database,
        shutdown.child_token(),
    ));
    Running { identity, metrics, shutdown, handle }
}

/// Starts a reconciler for the test's namespace.
pub fn start(env: &TestEnv, identity: &str) -> Running {
    start_with(env, identity, None)
}

impl Running {
    /// Reconciles finished so far, whatever their outcome.
    pub fn reconciles(&self) -> u64 {
        use reconciler::Outcome;
        [Outcome::Success, Outcome::Failed, Outcome::Error].iter().map(|o| self.metrics.reconcile_count(*o)).sum()
    }

    /// Runs `change` and waits until a reconcile has finished after it: what a test
    /// needs before it looks at what the reconcile of a change did (or did not do).
    pub async fn reconciled_after<F: Future<Output = ()>>(&self, change: F) {
        let before = self.reconciles();
        change.await;
        eventually("a reconcile after the change", crate::patience::settle(), || async {
            let now = self.reconciles();
            if now > before { Ok(()) } else { Err(format!("{now} reconciles")) }
        })
        .await;
    }

    /// Graceful stop: finishes in-flight reconciles and releases the Lease.
    pub async fn stop(self) {
        self.shutdown.cancel();
        match tokio::time::timeout(crate::patience::settle(), self.handle).await {
            Ok(Ok(Ok(()))) => {}
            other => panic!("reconciler {} did not stop cleanly: {other:?}", self.identity),
        }
    }

    /// Waits for the reconciler to end by itself (e.g. after losing its Lease).
    pub async fn finished(self, timeout: Duration) -> Result<(), reconciler::Error> {
        match tokio::time::timeout(timeout, self.handle).await {
            Ok(Ok(result)) => result,
            other => panic!("reconciler {} did not end by itself: {other:?}", self.identity),
        }
    }

    /// Crash: drops everything at once, Lease still held (as if the process were killed).
    pub async fn kill(self) {
        self.handle.abort();
        let _ = self.handle.await;
    }
}

/// Polls `check` every 100 ms until it yields a value, or panics after `timeout`
/// with `what` and the last value seen by `describe`.
pub async fn eventually<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, String>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        match check().await {
            Ok(v) => return v,
            Err(last) if Instant::now() > deadline => panic!("timed out waiting for {what}; last: {last}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

/// A project manifest whose spec already went through `crds::defaults`, as the
/// mutating webhook would store it. `spec_yaml` is the user's spec.
pub fn admitted(name: &str, spec_yaml: &str) -> String {
    let spec = serde_yaml::from_str(spec_yaml).expect("spec parses");
    let project = SupabaseProject::new(name, crds::defaults(spec));
    serde_yaml::to_string(&project).expect("project serializes")
}

/// The smallest spec: a database Secret named `db`.
pub const MINIMAL_SPEC: &str = "apiExternalUrl: https://api.example.com\ndatabase:\n  secretRef:\n    name: db\n";

/// A database Secret as the user would create it.
pub fn db_secret(name: &str, password: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: {name}\nstringData:\n  host: db.example.internal\n  \
         port: \"5432\"\n  database: postgres\n  password: {password:?}\n"
    )
}

/// A namespace with the CRD, a `db` Secret and the admitted project `name` with `spec`.
pub async fn project_env(test: &str, name: &str, spec: &str) -> TestEnv {
    let env = TestEnv::new(test).await.expect("test cluster");
    crate::crd::install(&env.client).await.expect("install CRD");
    env.kubectl().args(["apply", "-f", "-"]).stdin(db_secret("db", "pa ss/wörd")).ok().await;
    env.kubectl().args(["apply", "-f", "-"]).stdin(admitted(name, spec)).ok().await;
    env
}

/// The project as stored.
pub async fn project(env: &TestEnv, name: &str) -> SupabaseProject {
    env.api::<SupabaseProject>().get(name).await.expect("project")
}

/// Waits until the project's status shows `phase`; returns the project.
pub async fn wait_phase(env: &TestEnv, name: &str, phase: crds::Phase) -> SupabaseProject {
    eventually(&format!("phase {phase:?}"), crate::patience::settle(), || async {
        let p = project(env, name).await;
        let status = p.status.clone().unwrap_or_default();
        if status.phase == Some(phase) && status.observed_generation == p.metadata.generation {
            Ok(p)
        } else {
            Err(format!("{:?}: {:?}", status.phase, status.message))
        }
    })
    .await
}

/// Waits until the component's Deployment exists; returns it.
pub async fn wait_deployment(
    env: &TestEnv,
    project: &str,
    component: crds::Component,
) -> k8s_openapi::api::apps::v1::Deployment {
    let name = crds::names::component(project, component);
    eventually(&format!("Deployment {name}"), crate::patience::settle(), || async {
        env.api().get_opt(&name).await.expect("get").ok_or_else(|| "absent".to_string())
    })
    .await
}

/// Marks each enabled component ready in rollout order, waiting for each to be
/// applied first, then waits for `Running`.
pub async fn roll_to_running(env: &TestEnv, name: &str) -> SupabaseProject {
    let p = project(env, name).await;
    let deployments = env.api();
    for e in crds::CATALOG.iter().filter(|e| p.spec.enabled(e.component)) {
        wait_deployment(env, name, e.component).await;
        crate::deployments::mark_ready(&deployments, &crds::names::component(name, e.component))
            .await
            .expect("mark ready");
    }
    wait_phase(env, name, crds::Phase::Running).await
}
