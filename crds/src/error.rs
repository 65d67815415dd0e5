use thiserror::Error;

/// Errors of the shared library. None carries a secret value.
#[derive(Debug, Error)]
pub enum Error {
    /// A resource quantity that does not parse.
    #[error("quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$', got {0:?}")]
    Quantity(String),
    /// Signing a JWT failed.
    #[error("cannot sign JWT: {0}")]
    Sign(#[from] jsonwebtoken::errors::Error),
    /// Making or using a signing key failed; the message names no key material.
    #[error("signing keys: {0}")]
    Keys(String),
    /// Converting the CRD failed.
    #[error("cannot convert the CRD: {0}")]
    Convert(#[from] serde_json::Error),
    /// A spec given as defaulted lacks a value `defaults` fills (see `defaulted`).
    #[error("{0} has no value: the spec was not defaulted")]
    NotDefaulted(String),
    /// Serializing the CRD failed.
    #[error("cannot render the CRD: {0}")]
    Render(#[from] serde_yaml::Error),
}
