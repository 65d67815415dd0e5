//! certgen's one error type.

use std::path::PathBuf;

/// Errors of the certificate generator.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Key or certificate generation failed (e.g. a DNS name rcgen refuses).
    #[error("certificate generation: {0}")]
    Rcgen(#[from] rcgen::Error),
    /// Reading or writing a file failed.
    #[error("{0}: {1}")]
    Io(PathBuf, #[source] std::io::Error),
    /// Neither a DNS name nor an IP address was given.
    #[error("give at least one --dns name or --ip address for the serving certificate")]
    NoNames,
}
