//! Command-line flags, each with an environment-variable fallback so a Deployment can
//! set them either way (reconciler/README.md lists them), and the run configuration
//! they make.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use kube::Client;
use kube::config::{KubeConfigOptions, Kubeconfig};
use webhook::config::LogFormat;

use crate::{Config, Error, LeaseConfig, Metrics};

/// Reconciler for SupabaseProject: ordered rollout and status.
#[derive(Clone, Debug, Parser)]
#[command(name = "reconciler", version)]
pub struct Settings {
    /// Kubeconfig file; without it, the in-cluster service account (or the default kubeconfig).
    #[arg(long, env = "KUBECONFIG")]
    pub kubeconfig: Option<PathBuf>,
    /// Address of the plain-HTTP /healthz, /readyz and /metrics endpoint.
    #[arg(long, env = "RECONCILER_HEALTH_ADDR", default_value = "0.0.0.0:8080")]
    pub health_addr: SocketAddr,
    /// Reconcile only the projects of this namespace (default: all namespaces).
    #[arg(long, env = "RECONCILER_WATCH_NAMESPACE")]
    pub watch_namespace: Option<String>,
    /// Name of the leader-election Lease.
    #[arg(long, env = "RECONCILER_LEASE_NAME", default_value = "supabase-reconciler")]
    pub lease_name: String,
    /// Namespace of the Lease (default: the pod's namespace, else the kubeconfig's).
    #[arg(long, env = "RECONCILER_LEASE_NAMESPACE")]
    pub lease_namespace: Option<String>,
    /// How long standbys wait after the last renewal before taking over (e.g. 15s).
    #[arg(long, env = "RECONCILER_LEASE_DURATION", default_value = "15s", value_parser = duration)]
    pub lease_duration: Duration,
    /// How long the leader keeps acting without renewing; shorter than the lease duration.
    #[arg(long, env = "RECONCILER_RENEW_DEADLINE", default_value = "10s", value_parser = duration)]
    pub renew_deadline: Duration,
    /// Time between attempts to acquire or renew the Lease.
    #[arg(long, env = "RECONCILER_RETRY_PERIOD", default_value = "2s", value_parser = duration)]
    pub retry_period: Duration,
    /// This replica's identity in the Lease (default: the host name, i.e. the pod name).
    #[arg(long, env = "RECONCILER_IDENTITY")]
    pub identity: Option<String>,
    /// Most projects reconciled at once (0 = no limit).
    #[arg(long, env = "RECONCILER_CONCURRENCY", default_value_t = 16)]
    pub concurrency: u16,
    /// Log format.
    #[arg(long, env = "RECONCILER_LOG_FORMAT", value_enum, default_value = "json")]
    pub log_format: LogFormat,
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

impl Settings {
    /// Refuses election timings under which the leader could not renew in time.
    pub fn check(&self) -> Result<(), Error> {
        if self.renew_deadline >= self.lease_duration {
            return Err(Error::Flags("--renew-deadline must be shorter than --lease-duration".into()));
        }
        if self.retry_period >= self.renew_deadline {
            // Leadership lapses at the renew deadline; renewals must come more often.
            return Err(Error::Flags("--retry-period must be shorter than --renew-deadline".into()));
        }
        Ok(())
    }

    /// The Kubernetes client the flags ask for.
    pub async fn client(&self) -> Result<Client, Error> {
        let config = match &self.kubeconfig {
            Some(path) => {
                let kc = Kubeconfig::read_from(path).map_err(|e| Error::Config(format!("{}: {e}", path.display())))?;
                kube::Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
                    .await
                    .map_err(|e| Error::Config(e.to_string()))?
            }
            None => kube::Config::infer().await.map_err(|e| Error::Config(e.to_string()))?,
        };
        Client::try_from(crate::leader::client_config(config)).map_err(Error::Kube)
    }

    /// The run configuration; the Lease lives in the client's namespace unless a flag says.
    pub fn config(self, client: &Client) -> Config {
        let identity = self
            .identity
            .or_else(|| hostname::get().ok().and_then(|h| h.into_string().ok()))
            .unwrap_or_else(|| format!("reconciler-{}", std::process::id()));
        Config {
            lease: LeaseConfig {
                name: self.lease_name,
                namespace: self.lease_namespace.unwrap_or_else(|| client.default_namespace().to_string()),
                identity,
                lease_duration: self.lease_duration,
                renew_deadline: self.renew_deadline,
                retry_period: self.retry_period,
            },
            health_addr: Some(self.health_addr),
            namespace: self.watch_namespace,
            metrics: Arc::new(Metrics::new()),
            concurrency: self.concurrency,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn durations_parse_like_client_go_flags() {
        assert_eq!(duration("15s"), Ok(Duration::from_secs(15)));
        assert_eq!(duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(duration("3"), Ok(Duration::from_secs(3)));
        assert!(duration("soon").is_err() && duration("5h").is_err());
    }

    #[test]
    fn flags_parse_and_timings_are_checked() {
        let parse = |args: &[&str]| Settings::try_parse_from([&["reconciler"], args].concat()).unwrap();
        let s = parse(&["--lease-duration", "4s", "--log-format", "text"]);
        assert_eq!((s.lease_duration, s.log_format), (Duration::from_secs(4), LogFormat::Text));
        assert!(s.check().is_err(), "the default 10s renew deadline is not shorter than a 4s lease");
        assert!(parse(&["--lease-duration", "4s", "--renew-deadline", "3s", "--retry-period", "1s"]).check().is_ok());
        assert!(parse(&["--renew-deadline", "2s"]).check().is_err(), "the 2s retry period is not shorter");
    }

    /// The README's table lists exactly the flags parsed, each with its variable.
    #[test]
    fn the_readmes_flags_and_variables_are_the_ones_parsed() {
        let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
        let listed: Vec<(String, String)> = readme
            .lines()
            .filter(|l| l.starts_with("| `--"))
            .map(|l| {
                let cells: Vec<&str> = l.split('|').map(|c| c.trim().trim_matches('`')).collect();
                (cells[1].trim_start_matches("--").to_string(), cells[2].to_string())
            })
            .collect();
        let parsed: Vec<(String, String)> = Settings::command()
            .get_arguments()
            .filter_map(|a| {
                let env = a.get_env().and_then(|e| e.to_str())?;
                Some((a.get_long()?.to_string(), env.to_string()))
            })
            .collect();
        assert_eq!(listed.len(), 11, "{listed:?}");
        assert_eq!(listed, parsed);
    }
}
