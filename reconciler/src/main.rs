//! `reconciler`: rolls out the Supabase components of each SupabaseProject.
#![forbid(unsafe_code)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Parser, ValueEnum};
use kube::config::{KubeConfigOptions, Kubeconfig};
use reconciler::{Config, Error, LeaseConfig, Metrics};
use tokio_util::sync::CancellationToken;

#[derive(Clone, Copy, Debug, ValueEnum)]
enum LogFormat {
    /// One JSON object per line (production).
    Json,
    /// Human-readable lines (local runs).
    Text,
}

/// Reconciler for SupabaseProject: ordered rollout and status.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// Kubeconfig file; without it, the in-cluster service account (or the default kubeconfig).
    #[arg(long, env = "KUBECONFIG")]
    kubeconfig: Option<PathBuf>,
    /// Address of the plain-HTTP /healthz, /readyz and /metrics endpoint.
    #[arg(long, env = "RECONCILER_HEALTH_ADDR", default_value = "0.0.0.0:8080")]
    health_addr: SocketAddr,
    /// Reconcile only the projects of this namespace (default: all namespaces).
    #[arg(long, env = "RECONCILER_WATCH_NAMESPACE")]
    watch_namespace: Option<String>,
    /// Name of the leader-election Lease.
    #[arg(long, env = "RECONCILER_LEASE_NAME", default_value = "supabase-reconciler")]
    lease_name: String,
    /// Namespace of the Lease (default: the pod's namespace, else the kubeconfig's).
    #[arg(long, env = "RECONCILER_LEASE_NAMESPACE")]
    lease_namespace: Option<String>,
    /// How long standbys wait after the last renewal before taking over (e.g. 15s).
    #[arg(long, env = "RECONCILER_LEASE_DURATION", default_value = "15s", value_parser = duration)]
    lease_duration: Duration,
    /// How long the leader keeps acting without renewing; shorter than the lease duration.
    #[arg(long, env = "RECONCILER_RENEW_DEADLINE", default_value = "10s", value_parser = duration)]
    renew_deadline: Duration,
    /// Time between attempts to acquire or renew the Lease.
    #[arg(long, env = "RECONCILER_RETRY_PERIOD", default_value = "2s", value_parser = duration)]
    retry_period: Duration,
    /// This replica's identity in the Lease (default: the host name, i.e. the pod name).
    #[arg(long, env = "RECONCILER_IDENTITY")]
    identity: Option<String>,
    /// Most projects reconciled at once (0 = no limit).
    #[arg(long, env = "RECONCILER_CONCURRENCY", default_value_t = 16)]
    concurrency: u16,
    /// Log format.
    #[arg(long, env = "RECONCILER_LOG_FORMAT", value_enum, default_value = "json")]
    log_format: LogFormat,
}

/// Parses `500ms`, `15s`, `2m` or plain seconds.
fn duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (number, unit) = match s.find(|c: char| !c.is_ascii_digit() && c != '.') {
        Some(i) => s.split_at(i),
        None => (s, "s"),
    };
    let n: f64 = number.parse().map_err(|_| format!("{s:?} is not a duration like 15s, 500ms or 2m"))?;
    let secs = match unit {
        "ms" => n / 1000.0,
        "s" => n,
        "m" => n * 60.0,
        _ => return Err(format!("{s:?}: unit must be ms, s or m")),
    };
    Duration::try_from_secs_f64(secs).map_err(|e| format!("{s:?}: {e}"))
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    match format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
}

async fn client(kubeconfig: Option<&PathBuf>) -> Result<kube::Client, Error> {
    let config = match kubeconfig {
        Some(path) => {
            let kc = Kubeconfig::read_from(path).map_err(|e| Error::Config(format!("{}: {e}", path.display())))?;
            kube::Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
                .await
                .map_err(|e| Error::Config(e.to_string()))?
        }
        None => kube::Config::infer().await.map_err(|e| Error::Config(e.to_string()))?,
    };
    kube::Client::try_from(reconciler::leader::client_config(config)).map_err(Error::Kube)
}

fn identity(arg: Option<String>) -> String {
    arg.or_else(|| hostname::get().ok().and_then(|h| h.into_string().ok()))
        .unwrap_or_else(|| format!("reconciler-{}", std::process::id()))
}

async fn shutdown_on_signal(token: CancellationToken) {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (signal(SignalKind::terminate()), signal(SignalKind::interrupt())) else {
        tracing::error!("cannot install signal handlers");
        return;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
    tracing::info!("shutting down");
    token.cancel();
}

async fn main_async(args: Args) -> Result<(), Error> {
    if args.renew_deadline >= args.lease_duration {
        return Err(Error::Config("--renew-deadline must be shorter than --lease-duration".into()));
    }
    if args.retry_period >= args.renew_deadline {
        // Leadership lapses at the renew deadline; renewals must come more often.
        return Err(Error::Config("--retry-period must be shorter than --renew-deadline".into()));
    }
    let client = client(args.kubeconfig.as_ref()).await?;
    let lease_namespace = args.lease_namespace.clone().unwrap_or_else(|| client.default_namespace().to_string());
    let config = Config {
        lease: LeaseConfig {
            name: args.lease_name,
            namespace: lease_namespace,
            identity: identity(args.identity),
            lease_duration: args.lease_duration,
            renew_deadline: args.renew_deadline,
            retry_period: args.retry_period,
        },
        health_addr: Some(args.health_addr),
        namespace: args.watch_namespace,
        metrics: Arc::new(Metrics::new()),
        concurrency: args.concurrency,
    };
    tracing::info!(identity = %config.lease.identity, lease = %config.lease.name, "starting");
    let shutdown = CancellationToken::new();
    let signals = tokio::spawn(shutdown_on_signal(shutdown.clone()));
    let result = reconciler::run(config, client, shutdown).await;
    signals.abort();
    result
}

fn main() -> ExitCode {
    let args = Args::parse();
    init_logging(args.log_format);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(error = %e, "cannot start the async runtime");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(main_async(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "reconciler stopped");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_like_client_go_flags() {
        assert_eq!(duration("15s"), Ok(Duration::from_secs(15)));
        assert_eq!(duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(duration("3"), Ok(Duration::from_secs(3)));
        assert!(duration("soon").is_err() && duration("5h").is_err());
    }

    #[test]
    fn flags_parse() {
        let a = Args::try_parse_from(["reconciler", "--lease-duration", "4s", "--log-format", "text"]);
        assert!(a.is_ok_and(|a| a.lease_duration == Duration::from_secs(4)));
    }
}
