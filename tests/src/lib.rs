//! Test harness: a real etcd + kube-apiserver (+ garbage collector) on loopback,
//! a namespace per test, `kubectl` as a user drives it, and the helpers that stand
//! in for the kubelet.
#![forbid(unsafe_code)]
// Harness code runs only under tests, where a panic is the failure report.
#![allow(clippy::expect_used, clippy::unwrap_used)]

pub mod assets;
pub mod bench;
pub mod control_plane;
pub mod crd;
pub mod deployments;
mod env;
mod error;
pub mod fixtures;
pub mod kubectl;
pub mod kubelet;
pub mod meta;
pub mod patience;
pub mod pod_env;
pub mod postgres;
pub mod preflight_standin;
pub mod process;
pub mod reconciler;
pub mod studio;
pub mod supervisor;
pub mod tenant_roles;
pub mod webhook;
pub mod webhook_registration;
pub mod writes;

pub use control_plane::ControlPlane;
pub use env::{KUBECONFIG_ENV, TestEnv, client, config};
pub use error::Error;

/// Path of a file in the repository, for tests that read samples and manifests.
pub fn repo_path(relative: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(relative)
}
