//! A private CA and a serving certificate for the admission webhook, for clusters
//! without cert-manager (`config/self-signed/`) and for `make demo`.
//!
//! The CA is reused when its key already exists in the output folder, so renewing
//! the serving certificate never changes the `caBundle` the apiserver trusts.
#![forbid(unsafe_code)]

mod error;
mod files;
mod issue;

pub use error::Error;
pub use files::{Written, write_all};
pub use issue::{Ca, Serving, issue_serving, new_ca, reuse_ca};
