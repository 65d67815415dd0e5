//! One test's view of the shared cluster: its own namespace, a client, and a
//! kubeconfig for driving `kubectl` like a user.
//!
//! The cluster is shared by every test of a run: `make test` starts one with the
//! `cluster run` wrapper and passes its kubeconfig in `SUPABASE_TEST_KUBECONFIG`.
//! Without it (a plain `cargo test`), the first test of each process starts one
//! through `cluster serve`, which dies with that process.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};

use crate::Error;

/// Environment variable naming the kubeconfig of an already running test cluster.
pub const KUBECONFIG_ENV: &str = "SUPABASE_TEST_KUBECONFIG";

struct Shared {
    kubeconfig: PathBuf,
    // Keeps the `cluster serve` helper's directory alive for the whole process.
    _dir: Option<tempfile::TempDir>,
}

static SHARED: OnceLock<Result<Shared, String>> = OnceLock::new();

fn start_shared() -> Result<Shared, String> {
    if let Some(path) = std::env::var_os(KUBECONFIG_ENV).filter(|p| !p.is_empty()) {
        return Ok(Shared { kubeconfig: PathBuf::from(path), _dir: None });
    }
    let dir = tempfile::Builder::new().prefix("supabase-test-cluster-").tempdir().map_err(|e| e.to_string())?;
    let bin = crate::process::binary("cluster");
    // Its output goes to a file: a child holding the test's stdout would keep the
    // test runner waiting (nextest reports it as leaky).
    let log = std::fs::File::create(dir.path().join("serve.log")).map_err(|e| e.to_string())?;
    Command::new(&bin)
        .args(["serve", "--dir"])
        .arg(dir.path())
        .args(["--parent-pid", &std::process::id().to_string()])
        .stdin(Stdio::null())
        .stdout(log.try_clone().map_err(|e| e.to_string())?)
        .stderr(log)
        .spawn()
        .map_err(|e| format!("start {}: {e}", bin.display()))?;
    let kubeconfig = dir.path().join("ready-kubeconfig");
    let deadline = Instant::now() + Duration::from_secs(900);
    while !kubeconfig.exists() {
        if Instant::now() > deadline {
            return Err(format!("no cluster after 15 minutes; logs in {}", dir.path().display()));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    Ok(Shared { kubeconfig, _dir: Some(dir) })
}

/// A test's namespace in the shared cluster.
#[derive(Clone)]
pub struct TestEnv {
    /// Admin client whose default namespace is the test's.
    pub client: Client,
    /// The test's own namespace.
    pub namespace: String,
    /// Admin kubeconfig of the cluster (its default namespace is `default`).
    pub kubeconfig: PathBuf,
}

impl std::fmt::Debug for TestEnv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestEnv").field("namespace", &self.namespace).finish()
    }
}

/// The client configuration of the cluster behind `kubeconfig`.
pub async fn config(kubeconfig: &Path) -> Result<Config, Error> {
    let kc = Kubeconfig::read_from(kubeconfig).map_err(|e| Error::Kubeconfig(e.to_string()))?;
    Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
        .await
        .map_err(|e| Error::Kubeconfig(e.to_string()))
}

/// A client for the cluster behind `kubeconfig`.
pub async fn client(kubeconfig: &Path) -> Result<Client, Error> {
    Ok(Client::try_from(config(kubeconfig).await?)?)
}

impl TestEnv {
    /// Connects to the shared cluster (starting it if needed) and creates a fresh
    /// namespace named after `test`.
    pub async fn new(test: &str) -> Result<TestEnv, Error> {
        let shared =
            tokio::task::spawn_blocking(|| SHARED.get_or_init(start_shared).as_ref().map(|s| s.kubeconfig.clone()))
                .await
                .map_err(|e| Error::Cluster(e.to_string()))?
                .map_err(|e| Error::Cluster(e.clone()))?;
        let client = client(&shared).await?;
        let suffix: u32 = rand::random::<u32>() % 1_000_000;
        let mut prefix: String =
            test.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '-' }).collect();
        prefix.truncate(40);
        let namespace = format!("{}-{suffix:06}", prefix.trim_matches('-'));
        let ns: Namespace = serde_json::from_value(serde_json::json!({"metadata": {"name": namespace}}))
            .map_err(|e| Error::Kubeconfig(e.to_string()))?;
        Api::<Namespace>::all(client.clone()).create(&PostParams::default(), &ns).await?;
        Ok(TestEnv { client, namespace, kubeconfig: shared })
    }

    /// A `kubectl` command against the cluster, in the test's namespace.
    pub fn kubectl(&self) -> crate::kubectl::Kubectl {
        crate::kubectl::Kubectl::new(&self.kubeconfig, &self.namespace)
    }

    /// A namespaced API in the test's namespace.
    pub fn api<K>(&self) -> Api<K>
    where
        K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>,
        <K as kube::Resource>::DynamicType: Default,
    {
        Api::namespaced(self.client.clone(), &self.namespace)
    }
}
