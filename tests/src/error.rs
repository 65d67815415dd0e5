//! The harness's one error type.

use std::path::PathBuf;

/// Errors of the test harness.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file or process operation failed.
    #[error("{0}: {1}")]
    Io(String, #[source] std::io::Error),
    /// The control-plane installer failed.
    #[error("installing the control plane failed: see the output of {0}")]
    Install(PathBuf),
    /// A control-plane process exited early.
    #[error("{0} exited ({1}); its log is {2}")]
    Exited(String, String, PathBuf),
    /// The apiserver did not become ready.
    #[error("kube-apiserver not ready in time; its log is {0}")]
    NotReady(PathBuf),
    /// Generating keys or certificates failed.
    #[error("certificate generation: {0}")]
    Cert(String),
    /// A Kubernetes API call failed.
    #[error("kubernetes: {0}")]
    Kube(#[from] kube::Error),
    /// Reading the kubeconfig failed.
    #[error("kubeconfig: {0}")]
    Kubeconfig(String),
    /// A committed manifest did not parse.
    #[error("{0}: {1}")]
    Manifest(PathBuf, String),
    /// The shared cluster helper did not come up.
    #[error("the cluster helper did not come up: {0}")]
    Cluster(String),
}
