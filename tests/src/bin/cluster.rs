//! Starts a local control plane for tests and demos.
//!
//! - `cluster run -- CMD...`: start one, run CMD with `KUBECONFIG` and
//!   `SUPABASE_TEST_KUBECONFIG` pointing at it, stop it, exit with CMD's status.
//! - `cluster serve --dir D [--parent-pid P]`: start one under D, write
//!   `D/ready-kubeconfig` when ready, and stop on SIGTERM/SIGINT or when process P exits.
//! - `cluster local-webhooks --url U --ca F`: print config/webhook's two webhook
//!   configurations as a List calling a webhook at U (outside the cluster), trusting
//!   the CA in F (for the demo).
#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use harness::{ControlPlane, KUBECONFIG_ENV};
use tokio::signal::unix::{SignalKind, signal};

#[derive(Parser)]
#[command(about = "A local etcd + kube-apiserver + garbage collector for tests and demos")]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run a command against a fresh cluster, then stop the cluster.
    Run {
        /// Keep the cluster's directory (logs, etcd data) after the command.
        #[arg(long)]
        keep: bool,
        /// The command and its arguments.
        #[arg(trailing_var_arg = true, required = true)]
        command: Vec<String>,
    },
    /// Serve a cluster until signalled or until the parent process exits.
    Serve {
        /// Directory for the cluster's files.
        #[arg(long)]
        dir: PathBuf,
        /// Stop when this process is gone.
        #[arg(long)]
        parent_pid: Option<u32>,
    },
    /// Print the webhook configurations for a webhook outside the cluster.
    LocalWebhooks {
        /// Base URL of the webhook, e.g. https://127.0.0.1:8443.
        #[arg(long)]
        url: String,
        /// PEM file of the CA that signed the webhook's certificate.
        #[arg(long)]
        ca: PathBuf,
    },
}

fn alive(pid: u32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}

async fn run(keep: bool, command: Vec<String>) -> Result<ExitCode, String> {
    let dir = tempfile::Builder::new().prefix("supabase-cluster-").tempdir().map_err(|e| e.to_string())?;
    let plane = ControlPlane::start(dir.path()).map_err(|e| e.to_string())?;
    eprintln!("cluster: apiserver at {} (files in {})", plane.server(), dir.path().display());
    let (program, args) = command.split_first().ok_or("no command given")?;
    let mut child = tokio::process::Command::new(program);
    // CMD is typically cargo, started from `cargo run --bin cluster`.
    harness::process::without_cargo_env(child.as_std_mut());
    let mut child = child
        .args(args)
        .env("KUBECONFIG", plane.kubeconfig())
        .env(KUBECONFIG_ENV, plane.kubeconfig())
        .spawn()
        .map_err(|e| format!("cannot run {program}: {e}"))?;
    let mut term = signal(SignalKind::terminate()).map_err(|e| e.to_string())?;
    let status = tokio::select! {
        s = child.wait() => s.map_err(|e| e.to_string())?,
        _ = term.recv() => { let _ = child.kill().await; return Ok(ExitCode::from(143)); }
        _ = tokio::signal::ctrl_c() => { let _ = child.kill().await; return Ok(ExitCode::from(130)); }
    };
    drop(plane);
    if keep {
        eprintln!("cluster: kept {}", dir.keep().display());
    }
    Ok(ExitCode::from(status.code().and_then(|c| u8::try_from(c).ok()).unwrap_or(1)))
}

async fn serve(dir: PathBuf, parent: Option<u32>) -> Result<ExitCode, String> {
    let plane = ControlPlane::start(&dir).map_err(|e| e.to_string())?;
    // Written last and atomically, so a reader never sees a half-written file.
    let ready = dir.join("ready-kubeconfig");
    let tmp = dir.join("ready-kubeconfig.tmp");
    std::fs::copy(plane.kubeconfig(), &tmp).map_err(|e| e.to_string())?;
    std::fs::rename(&tmp, &ready).map_err(|e| e.to_string())?;
    let mut term = signal(SignalKind::terminate()).map_err(|e| e.to_string())?;
    loop {
        tokio::select! {
            _ = term.recv() => break,
            _ = tokio::signal::ctrl_c() => break,
            _ = tokio::time::sleep(Duration::from_millis(250)) => {
                if parent.is_some_and(|p| !alive(p)) { break; }
            }
        }
    }
    drop(plane);
    Ok(ExitCode::SUCCESS)
}

async fn local_webhooks(url: &str, ca: &std::path::Path) -> Result<ExitCode, String> {
    let ca_pem = std::fs::read_to_string(ca).map_err(|e| format!("{}: {e}", ca.display()))?;
    // `kubectl kustomize` needs no cluster; the kubeconfig path is never read.
    let kubectl = harness::kubectl::Kubectl::new(std::path::Path::new("/dev/null"), "default");
    let items = harness::webhook_registration::local_configurations(kubectl, url, &ca_pem).await;
    if items.len() != 2 {
        return Err(format!("expected two webhook configurations in config/webhook, found {}", items.len()));
    }
    println!("{}", serde_json::json!({"apiVersion": "v1", "kind": "List", "items": items}));
    Ok(ExitCode::SUCCESS)
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Cmd::Run { keep, command } => run(keep, command).await,
        Cmd::Serve { dir, parent_pid } => serve(dir, parent_pid).await,
        Cmd::LocalWebhooks { url, ca } => local_webhooks(&url, &ca).await,
    };
    result.unwrap_or_else(|e| {
        eprintln!("cluster: {e}");
        ExitCode::FAILURE
    })
}
