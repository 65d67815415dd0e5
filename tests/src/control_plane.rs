//! A real control plane on loopback: etcd, kube-apiserver and the garbage collector,
//! namespace, pvc-protection and clusterrole-aggregation controllers of
//! kube-controller-manager. Everything lives under one directory; dropping the
//! `ControlPlane` kills the processes.

use std::fs;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::Error;
use crate::assets;

/// Bearer token of the `admin` user (group `system:masters`) in every local cluster.
pub const ADMIN_TOKEN: &str = "supabase-operator-test-admin-token";

/// How long the apiserver may take to become ready: a few seconds when idle, over ten on
/// a busy 2-core machine (13 s seen in the restart drill), so a minute, times the patience.
const STARTUP: Duration = Duration::from_secs(60);

/// A running control plane.
#[derive(Debug)]
pub struct ControlPlane {
    dir: PathBuf,
    kubeconfig: PathBuf,
    server: String,
    children: Vec<(&'static str, Child)>,
    // How the apiserver was started, so a drill can restart it on the same port.
    apiserver: Option<(PathBuf, Vec<String>)>,
}

fn free_port() -> Result<u16, Error> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| Error::Io("bind a free port".into(), e))?;
    let port = listener.local_addr().map_err(|e| Error::Io("read a free port".into(), e))?.port();
    Ok(port)
}

fn write(path: &Path, contents: impl AsRef<[u8]>) -> Result<(), Error> {
    fs::write(path, contents).map_err(|e| Error::Io(format!("write {}", path.display()), e))
}

fn spawn(name: &'static str, dir: &Path, mut cmd: Command) -> Result<(&'static str, Child), Error> {
    let log = dir.join(format!("{name}.log"));
    // Appended: a restarted process keeps its earlier log.
    let out = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log)
        .map_err(|e| Error::Io(format!("create {}", log.display()), e))?;
    let err = out.try_clone().map_err(|e| Error::Io("clone log handle".into(), e))?;
    let child =
        cmd.stdin(Stdio::null()).stdout(out).stderr(err).spawn().map_err(|e| Error::Io(format!("start {name}"), e))?;
    Ok((name, child))
}

/// The kubeconfig of a local cluster at `server`, as the admin user.
pub fn kubeconfig(server: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: local\n  cluster:\n    server: {server}\n    \
         insecure-skip-tls-verify: true\nusers:\n- name: admin\n  user:\n    token: {ADMIN_TOKEN}\n\
         contexts:\n- name: local\n  context:\n    cluster: local\n    user: admin\n    namespace: default\n\
         current-context: local\n"
    )
}

impl ControlPlane {
    /// Starts etcd, kube-apiserver and kube-controller-manager under `dir` and waits
    /// until the apiserver's `/readyz` is ok.
    pub fn start(dir: &Path) -> Result<ControlPlane, Error> {
        let bin = assets::binaries()?;
        fs::create_dir_all(dir).map_err(|e| Error::Io(format!("create {}", dir.display()), e))?;
        let (etcd_client, etcd_peer, apiserver) = (free_port()?, free_port()?, free_port()?);
        let mut plane = ControlPlane {
            dir: dir.to_path_buf(),
            kubeconfig: dir.join("kubeconfig"),
            server: format!("https://127.0.0.1:{apiserver}"),
            children: Vec::new(),
            apiserver: None,
        };

        let mut etcd = Command::new(bin.join("etcd"));
        etcd.args([
            "--name=default",
            &format!("--data-dir={}", dir.join("etcd").display()),
            &format!("--listen-client-urls=http://127.0.0.1:{etcd_client}"),
            &format!("--advertise-client-urls=http://127.0.0.1:{etcd_client}"),
            &format!("--listen-peer-urls=http://127.0.0.1:{etcd_peer}"),
            &format!("--initial-advertise-peer-urls=http://127.0.0.1:{etcd_peer}"),
            &format!("--initial-cluster=default=http://127.0.0.1:{etcd_peer}"),
        ]);
        plane.children.push(spawn("etcd", dir, etcd)?);

        // Service-account token signing keys (the apiserver refuses to start without).
        let key = rcgen::KeyPair::generate().map_err(|e| Error::Cert(e.to_string()))?;
        write(&dir.join("sa.key"), key.serialize_pem())?;
        write(&dir.join("sa.pub"), key.public_key_pem())?;
        write(&dir.join("tokens.csv"), format!("{ADMIN_TOKEN},admin,admin-uid,\"system:masters\"\n"))?;

        let api_args: Vec<String> = vec![
            format!("--etcd-servers=http://127.0.0.1:{etcd_client}"),
            format!("--secure-port={apiserver}"),
            "--bind-address=127.0.0.1".into(),
            "--advertise-address=127.0.0.1".into(),
            format!("--cert-dir={}", dir.join("certs").display()),
            format!("--service-account-key-file={}", dir.join("sa.pub").display()),
            format!("--service-account-signing-key-file={}", dir.join("sa.key").display()),
            "--service-account-issuer=https://kubernetes.default.svc.cluster.local".into(),
            format!("--token-auth-file={}", dir.join("tokens.csv").display()),
            "--authorization-mode=RBAC".into(),
            // A /12 holds a million Services; a /24 fills up at 253 and scale tests fail.
            "--service-cluster-ip-range=10.96.0.0/12".into(),
            "--allow-privileged=true".into(),
            "--enable-priority-and-fairness=false".into(),
        ];
        let mut api = Command::new(bin.join("kube-apiserver"));
        api.args(&api_args);
        plane.children.push(spawn("kube-apiserver", dir, api)?);
        plane.apiserver = Some((bin.join("kube-apiserver"), api_args));
        write(&plane.kubeconfig, kubeconfig(&plane.server))?;
        plane.wait_ready(STARTUP)?;

        // envtest's asset folders ship no controller manager; run without one then.
        let Some(kcm_bin) = assets::controller_manager(&bin) else {
            eprintln!("harness: no kube-controller-manager beside {}; garbage collection is off", bin.display());
            return Ok(plane);
        };
        let mut kcm = Command::new(kcm_bin);
        kcm.args([
            &format!("--kubeconfig={}", plane.kubeconfig.display()),
            // Only what tests need: owner-reference garbage collection, namespace
            // deletion, and the removal of the `kubernetes.io/pvc-protection` finalizer
            // that the apiserver puts on every claim (without it a deleted claim, and a
            // namespace holding one, would stay Terminating), and the aggregation of
            // labelled ClusterRoles into `admin`, `edit` and `view` (without it those
            // bootstrap roles have no rules, and config/rbac/tenants.yaml grants nothing).
            // The deployment controller stays off so tests own Deployment status.
            "--controllers=garbagecollector,namespace,pvc-protection,clusterrole-aggregation",
            "--leader-elect=false",
            "--port=0",
            "--secure-port=0",
        ]);
        plane.children.push(spawn("kube-controller-manager", dir, kcm)?);
        Ok(plane)
    }

    fn wait_ready(&mut self, timeout: Duration) -> Result<(), Error> {
        let deadline = Instant::now() + crate::patience::scaled(timeout);
        loop {
            for (name, child) in &mut self.children {
                if let Ok(Some(status)) = child.try_wait() {
                    return Err(Error::Exited(
                        name.to_string(),
                        status.to_string(),
                        self.dir.join(format!("{name}.log")),
                    ));
                }
            }
            let out = Command::new("kubectl")
                .args(["--kubeconfig", &self.kubeconfig.to_string_lossy(), "get", "--raw", "/readyz"])
                .stderr(Stdio::null())
                .output()
                .map_err(|e| Error::Io("run kubectl".into(), e))?;
            if out.status.success() && out.stdout.starts_with(b"ok") {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(Error::NotReady(self.dir.join("kube-apiserver.log")));
            }
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    /// Path of the admin kubeconfig.
    pub fn kubeconfig(&self) -> &Path {
        &self.kubeconfig
    }

    /// The apiserver's URL.
    pub fn server(&self) -> &str {
        &self.server
    }

    /// Kills the apiserver and starts it again on the same port with the same etcd:
    /// every watch breaks and every client must reconnect (a drill).
    pub fn restart_apiserver(&mut self, down_for: Duration) -> Result<(), Error> {
        self.kill("kube-apiserver");
        self.children.retain(|(n, _)| *n != "kube-apiserver");
        std::thread::sleep(down_for);
        let (bin, args) = self.apiserver.clone().ok_or_else(|| Error::Cluster("apiserver never started".into()))?;
        let mut api = Command::new(bin);
        api.args(&args);
        let restarted = spawn("kube-apiserver", &self.dir, api)?;
        self.children.push(restarted);
        self.wait_ready(STARTUP)
    }

    /// The process id of one of its processes by name (`etcd`, `kube-apiserver`), while it runs.
    pub fn pid(&self, name: &str) -> Option<u32> {
        self.children.iter().rev().find(|(n, _)| *n == name).map(|(_, child)| child.id())
    }

    /// Stops one process by name (for drills such as an apiserver restart).
    pub fn kill(&mut self, name: &str) {
        for (n, child) in &mut self.children {
            if *n == name {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }
}

impl Drop for ControlPlane {
    fn drop(&mut self) {
        // Reverse order: the controller manager and apiserver before their etcd.
        for (_, child) in self.children.iter_mut().rev() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
