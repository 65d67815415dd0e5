//! The SupabaseProject admission webhook as a library: the binary in `main.rs` only
//! parses flags and calls [`start`], so integration tests run the very same server
//! in-process.
#![forbid(unsafe_code)]

pub mod access;
pub mod admission;
pub mod config;
mod error;
pub mod health;
pub mod lookup;
pub mod metrics;
pub mod mutate;
mod omitted;
pub mod plain;
pub mod policy;
pub mod review;
pub mod server;
pub mod shutdown;
pub mod telemetry;
pub mod tls;
pub mod validate;

pub use server::{Running, start};

pub use config::Settings;
pub use error::Error;
