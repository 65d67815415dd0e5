//! The reconciler's one error type.

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
}
