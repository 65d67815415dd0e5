//! The reconciler's one error type (the project keeps one per crate). Each variant is
//! one concern, and [`Error::metric_label`] names it for the failures counter and the
//! logs, as kube-rs's controller-rs does. No variant carries Secret data: messages
//! name Secrets and keys, never their values.

/// Errors of the reconciler.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A project could not be turned into Kubernetes objects (e.g. it lacks the
    /// metadata an owner reference needs).
    #[error("cannot render {0}")]
    Render(String),
    /// A Kubernetes API call failed.
    #[error("kubernetes: {}", brief(.0))]
    Kube(#[from] kube::Error),
    /// Writing a Secret failed. Only the status code and reason are kept: an apiserver
    /// message about a Secret write could echo what was sent.
    #[error("cannot write Secret {name}: {reason} ({code})")]
    SecretWrite {
        /// Secret name.
        name: String,
        /// HTTP status code, 0 when the request never got an answer.
        code: u16,
        /// The apiserver's reason (`Conflict`, `Forbidden`, ...) or the transport error kind.
        reason: String,
    },
    /// Signing the generated API keys failed.
    #[error("cannot sign the generated API keys: {0}")]
    Sign(#[from] crds::Error),
    /// This replica no longer holds the leader Lease, so it must not write.
    #[error("not the leader")]
    NotLeader,
    /// The leader Lease could not be renewed in time; the process must stop acting.
    #[error("lost the leader Lease {0}")]
    LostLeadership(String),
    /// The health and metrics server could not start.
    #[error("health server on {addr}: {source}")]
    Health {
        /// Address it tried to bind.
        addr: std::net::SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The Kubernetes client could not be configured.
    #[error("kubernetes client configuration: {0}")]
    Config(String),
    /// The flags contradict each other.
    #[error("flags: {0}")]
    Flags(String),
}

impl Error {
    /// The concern, as the `error` label of `supabase_reconciler_reconcile_failures_total`:
    /// a short, fixed set, so the counter's series stay few.
    pub fn metric_label(&self) -> &'static str {
        match self {
            Error::Render(_) => "render",
            Error::Kube(_) => "kubernetes",
            Error::SecretWrite { .. } => "secret_write",
            Error::Sign(_) => "sign",
            Error::NotLeader | Error::LostLeadership(_) => "leadership",
            Error::Health { .. } => "health_server",
            Error::Config(_) | Error::Flags(_) => "config",
        }
    }
}

/// The apiserver's own message and code, without the debug dump of the whole Status
/// that `kube::Error`'s Display appends (events and logs stay readable).
fn brief(e: &kube::Error) -> String {
    match e {
        kube::Error::Api(s) => format!("{} ({} {})", s.message, s.code, s.reason),
        other => other.to_string(),
    }
}
