//! The reconciler: ordered rollout of a SupabaseProject's components and its status.
#![forbid(unsafe_code)]

mod error;
pub mod workloads;

pub use error::Error;
