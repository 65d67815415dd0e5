//! The `SupabaseProject` custom resource and everything both binaries agree on:
//! the component catalog, the one `defaults` function, condition helpers and the
//! JWT conventions.
#![forbid(unsafe_code)]

pub mod catalog;
mod component_decode;
pub mod conditions;
pub mod crd;
pub mod defaulted;
pub mod defaults;
mod error;
pub mod functions_rules;
pub mod gateway;
pub mod jwt;
pub mod keys;
pub mod names;
pub mod project;
pub mod quantity;
pub mod refs;
pub mod release;
pub mod rules;
pub mod scaling;
pub mod status;

pub use catalog::{CATALOG, Component};
pub use defaulted::Defaulted;
pub use defaults::{Admitted, Previous, defaults, defaults_as};
pub use error::Error;
pub use project::{SupabaseProject, SupabaseProjectSpec};
pub use status::{Phase, SupabaseProjectStatus};

/// `app.kubernetes.io/managed-by` value and server-side apply field manager.
pub const MANAGER: &str = "supabase-operator";
