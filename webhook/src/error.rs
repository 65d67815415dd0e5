//! The crate's one error type. No variant carries a Secret value.

use std::net::SocketAddr;
use std::path::PathBuf;

/// Errors that stop the webhook from starting or running.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The certificate or key is unusable.
    #[error("TLS certificate {cert} / key {key}: {reason}")]
    Certificate {
        /// Certificate file.
        cert: PathBuf,
        /// Key file.
        key: PathBuf,
        /// What is wrong with the pair.
        reason: String,
    },
    /// The TLS configuration could not be built.
    #[error("TLS configuration: {0}")]
    Tls(#[from] rustls::Error),
    /// The policy file is unusable.
    #[error("policy file {path}: {reason}")]
    Policy {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// A listening socket could not be opened.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The Kubernetes client could not be configured.
    #[error("kubernetes client configuration: {0}")]
    KubeConfig(String),
    /// A Kubernetes client error.
    #[error("kubernetes: {0}")]
    Kube(#[from] kube::Error),
    /// Logging could not be set up.
    #[error("logging: {0}")]
    Logging(String),
    /// An admitted object's spec does not decode as a SupabaseProject spec.
    #[error("spec does not match the SupabaseProject schema: {0}")]
    NotASpec(String),
    /// A signal handler could not be installed.
    #[error("signal handler: {0}")]
    Signal(#[source] std::io::Error),
}
