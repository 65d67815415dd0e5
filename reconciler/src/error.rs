//! The reconciler's one error type. No variant carries Secret data: messages name
//! Secrets and keys, never their values.

/// Errors of the reconciler.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A project could not be turned into Kubernetes objects (e.g. it lacks the
    /// metadata an owner reference needs).
    #[error("cannot render {0}")]
    Render(String),
    /// A Kubernetes API call failed.
    #[error("kubernetes: {0}")]
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
}
