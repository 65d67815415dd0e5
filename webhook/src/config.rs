//! Command-line flags, each with an environment-variable fallback so a Deployment can
//! set them either way.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, ValueEnum};

/// How log lines are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// One JSON object per line, for log collectors.
    Json,
    /// Human-readable lines, for a terminal.
    Text,
}

/// How referenced Secrets are read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum SecretLookupMode {
    /// One GET per referenced Secret per review (no Secret is held in memory).
    Direct,
    /// A watch-fed cache of the Secrets in namespaces that hold a SupabaseProject (without
    /// Helm releases and service-account tokens), with a direct read on a miss and before
    /// any denial.
    Cache,
}

/// Admission webhook for SupabaseProject: fills defaults (`/mutate`) and rejects invalid
/// projects (`/validate`).
#[derive(Clone, Debug, Parser)]
#[command(name = "webhook", version)]
pub struct Settings {
    /// Address of the TLS admission endpoint.
    #[arg(long, env = "WEBHOOK_LISTEN", default_value = "0.0.0.0:8443")]
    pub listen: SocketAddr,
    /// PEM serving certificate chain (reloaded when its content changes).
    #[arg(long, env = "WEBHOOK_TLS_CERT", default_value = "/tls/tls.crt")]
    pub tls_cert: PathBuf,
    /// PEM private key of the serving certificate (reloaded with the certificate).
    #[arg(long, env = "WEBHOOK_TLS_KEY", default_value = "/tls/tls.key")]
    pub tls_key: PathBuf,
    /// How often the certificate, key and policy files are read for changes, in milliseconds.
    #[arg(long, env = "WEBHOOK_RELOAD_INTERVAL_MS", default_value_t = 10_000)]
    pub reload_interval_ms: u64,
    /// Plain-HTTP address of /healthz, /readyz and /metrics.
    #[arg(long, env = "WEBHOOK_HEALTH_LISTEN", default_value = "0.0.0.0:8080")]
    pub health_listen: SocketAddr,
    /// Policy file (YAML). Omit for the permissive defaults.
    #[arg(long, env = "WEBHOOK_POLICY")]
    pub policy: Option<PathBuf>,
    /// Log format.
    #[arg(long, env = "WEBHOOK_LOG_FORMAT", value_enum, default_value = "json")]
    pub log_format: LogFormat,
    /// Kubeconfig file; without it the in-cluster configuration (or $KUBECONFIG) is used.
    #[arg(long, env = "WEBHOOK_KUBECONFIG")]
    pub kubeconfig: Option<PathBuf>,
    /// Ask the apiserver (SubjectAccessReview) whether the requesting user may `get` each
    /// referenced Secret.
    #[arg(long, env = "WEBHOOK_CHECK_SECRET_ACCESS", default_value_t = true, action = clap::ArgAction::Set)]
    pub check_secret_access: bool,
    /// How long an "allowed" access answer is reused, in seconds.
    #[arg(long, env = "WEBHOOK_ACCESS_ALLOWED_TTL_SECONDS", default_value_t = 300)]
    pub access_allowed_ttl_seconds: u64,
    /// How long a "denied" access answer is reused, in seconds (short, so a new grant works soon).
    #[arg(long, env = "WEBHOOK_ACCESS_DENIED_TTL_SECONDS", default_value_t = 30)]
    pub access_denied_ttl_seconds: u64,
    /// How referenced Secrets are read.
    #[arg(long, env = "WEBHOOK_SECRET_LOOKUP", value_enum, default_value = "cache")]
    pub secret_lookup: SecretLookupMode,
    /// Deadline of one admission request, in milliseconds; keep it below the webhook
    /// configurations' `timeoutSeconds` (5 in config/webhook), so the apiserver gets a
    /// clear "retry" answer rather than a timeout.
    #[arg(long, env = "WEBHOOK_REQUEST_DEADLINE_MS", default_value_t = 4_000)]
    pub request_deadline_ms: u64,
    /// Time allowed to receive a request's headers (and the TLS handshake), in milliseconds.
    #[arg(long, env = "WEBHOOK_HEADER_READ_TIMEOUT_MS", default_value_t = 5_000)]
    pub header_read_timeout_ms: u64,
    /// Largest accepted request body in bytes (an AdmissionReview carries the object and,
    /// on update, the old object).
    #[arg(long, env = "WEBHOOK_MAX_BODY_BYTES", default_value_t = 4 * 1024 * 1024)]
    pub max_body_bytes: usize,
    /// Admission requests handled at once; more wait for a slot for up to half the request
    /// deadline, then get a retryable "busy" denial.
    #[arg(long, env = "WEBHOOK_MAX_CONCURRENCY", default_value_t = 64)]
    pub max_concurrency: usize,
    /// After SIGTERM, how long to keep serving while readiness is false, so endpoints stop
    /// routing here, in milliseconds.
    #[arg(long, env = "WEBHOOK_SHUTDOWN_DELAY_MS", default_value_t = 3_000)]
    pub shutdown_delay_ms: u64,
    /// After that, how long in-flight requests may take to finish, in milliseconds.
    #[arg(long, env = "WEBHOOK_SHUTDOWN_GRACE_MS", default_value_t = 15_000)]
    pub shutdown_grace_ms: u64,
}

impl Settings {
    /// The interval between reads of the watched files.
    pub fn reload_interval(&self) -> Duration {
        Duration::from_millis(self.reload_interval_ms.max(10))
    }

    /// The deadline of one admission request.
    pub fn request_deadline(&self) -> Duration {
        Duration::from_millis(self.request_deadline_ms.max(1))
    }

    /// The header read timeout.
    pub fn header_read_timeout(&self) -> Duration {
        Duration::from_millis(self.header_read_timeout_ms.max(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_parse_and_flags_override() {
        let s = Settings::parse_from(["webhook"]);
        assert_eq!(s.listen.port(), 8443);
        assert!(s.check_secret_access);
        let s = Settings::parse_from(["webhook", "--check-secret-access", "false", "--log-format", "text"]);
        assert!(!s.check_secret_access);
        assert_eq!(s.log_format, LogFormat::Text);
    }
}
