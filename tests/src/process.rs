//! The workspace's binaries as child processes of tests and benchmarks: found
//! beside the running executable, logging to a file, killed when dropped.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// The workspace binary `name` (`webhook`, `reconciler`, `cluster`, ...): the
/// environment variable `<NAME>_BIN` when set, else the file beside the running
/// executable — or one folder up, for test executables in `target/<profile>/deps`.
pub fn binary(name: &str) -> PathBuf {
    let var = format!("{}_BIN", name.to_uppercase().replace('-', "_"));
    if let Some(path) = std::env::var_os(var) {
        return PathBuf::from(path);
    }
    let exe = std::env::current_exe().ok();
    let dir = exe.as_deref().and_then(Path::parent);
    let candidates = [dir.map(|d| d.join(name)), dir.and_then(Path::parent).map(|d| d.join(name))];
    candidates.into_iter().flatten().find(|p| p.is_file()).unwrap_or_else(|| PathBuf::from(name))
}

/// Whether `name` is one of the variables Cargo sets for a program it runs (`cargo run`,
/// `cargo test`, nextest): `CARGO_MANIFEST_DIR`, `CARGO_PKG_NAME`, ...
fn set_by_cargo(name: &str) -> bool {
    name.starts_with("CARGO_PKG_")
        || name.starts_with("CARGO_BIN_EXE_")
        || matches!(
            name,
            "CARGO_MANIFEST_DIR"
                | "CARGO_MANIFEST_PATH"
                | "CARGO_MANIFEST_LINKS"
                | "CARGO_CRATE_NAME"
                | "CARGO_BIN_NAME"
                | "CARGO_PRIMARY_PACKAGE"
                | "CARGO_TARGET_TMPDIR"
                | "OUT_DIR"
        )
}

/// Removes from `cmd`'s environment the variables Cargo set for this process, for a
/// child that runs cargo itself. Some build scripts (ring's) track them: a build that
/// sees them would rebuild ring and everything above it (rustls, kube, every crate
/// here; minutes on 2 cores), and the next build from a plain shell all of it again.
pub fn without_cargo_env(cmd: &mut Command) -> &mut Command {
    for (name, _) in std::env::vars_os() {
        if name.to_str().is_some_and(set_by_cargo) {
            cmd.env_remove(name);
        }
    }
    cmd
}

/// A free loopback address.
pub fn free_addr() -> SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free loopback port")
}

/// A child process killed (and reaped) on drop.
#[derive(Debug)]
pub struct Proc {
    child: Child,
    /// Where its standard output and error go.
    pub log: PathBuf,
}

impl Proc {
    /// Starts `cmd` with both output streams appended to `log`.
    pub fn spawn(mut cmd: Command, log: &Path) -> Proc {
        let file = std::fs::OpenOptions::new().create(true).append(true).open(log).expect("open the log file");
        let child = cmd
            .stdin(Stdio::null())
            .stdout(file.try_clone().expect("clone the log handle"))
            .stderr(file)
            .spawn()
            .unwrap_or_else(|e| panic!("start {cmd:?}: {e} (is it built? `cargo build --workspace`)"));
        Proc { child, log: log.to_path_buf() }
    }

    /// Its process id.
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// Sends SIGTERM (for graceful-shutdown drills) without waiting.
    pub fn terminate(&self) {
        let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
    }

    /// Waits for it to exit.
    pub fn wait(&mut self) -> std::io::Result<std::process::ExitStatus> {
        self.child.wait()
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
