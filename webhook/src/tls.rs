//! The serving certificate: a rustls resolver whose pair is swapped when the files'
//! content changes. Content is polled because a mounted Secret rotates by swapping a
//! `..data` symlink, which a watch on the file itself does not see. A broken new pair
//! never replaces a good one.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use rustls::ServerConfig;
use rustls::crypto::CryptoProvider;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use sha2::{Digest, Sha256};
use tokio_util::sync::CancellationToken;

use crate::Error;
use crate::metrics::Metrics;

/// ALPN protocols offered, preferred first.
pub const ALPN: [&[u8]; 2] = [b"h2", b"http/1.1"];

/// The crypto provider every TLS object of the webhook uses.
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Hands rustls the current pair.
#[derive(Debug, Default)]
pub struct Resolver {
    current: RwLock<Option<Arc<CertifiedKey>>>,
}

impl Resolver {
    /// Whether a pair has been loaded.
    pub fn loaded(&self) -> bool {
        self.current.read().map(|c| c.is_some()).unwrap_or(false)
    }

    fn set(&self, key: CertifiedKey) {
        if let Ok(mut current) = self.current.write() {
            *current = Some(Arc::new(key));
        }
    }
}

impl ResolvesServerCert for Resolver {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        self.current.read().ok().and_then(|c| c.clone())
    }
}

/// A TLS 1.2/1.3 server configuration with ALPN h2 and http/1.1 over `resolver`.
pub fn server_config(resolver: Arc<Resolver>) -> Result<ServerConfig, Error> {
    let mut config = ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
        .with_no_client_auth()
        .with_cert_resolver(resolver);
    config.alpn_protocols = ALPN.iter().map(|p| p.to_vec()).collect();
    Ok(config)
}

/// The raw bytes of both files, as read in one poll.
#[derive(Debug, PartialEq, Eq)]
struct Files {
    cert: Vec<u8>,
    key: Vec<u8>,
}

fn read(path: &Path) -> Result<Vec<u8>, Error> {
    std::fs::read(path).map_err(|source| Error::Read { path: path.to_path_buf(), source })
}

/// Parses and checks a PEM pair: the chain is not empty, the key parses and matches
/// the leaf certificate's public key.
pub fn parse_pair(cert_pem: &[u8], key_pem: &[u8]) -> Result<CertifiedKey, String> {
    let certs: Vec<_> = rustls_pemfile::certs(&mut &cert_pem[..])
        .collect::<Result<_, _>>()
        .map_err(|e| format!("certificate PEM does not parse: {e}"))?;
    if certs.is_empty() {
        return Err("no CERTIFICATE block in the certificate file".into());
    }
    let key = rustls_pemfile::private_key(&mut &key_pem[..])
        .map_err(|e| format!("key PEM does not parse: {e}"))?
        .ok_or("no PRIVATE KEY block in the key file")?;
    CertifiedKey::from_der(certs, key, &provider()).map_err(|e| format!("unusable pair: {e}"))
}

/// Keeps the resolver's pair in step with two files.
#[derive(Debug)]
pub struct CertFiles {
    cert: PathBuf,
    key: PathBuf,
    resolver: Arc<Resolver>,
    // Digest of the content last tried, good or bad, so a broken pair is reported once
    // and not re-parsed on every poll.
    last_seen: Option<[u8; 32]>,
}

impl CertFiles {
    /// Watches `cert` and `key` for `resolver`.
    pub fn new(cert: PathBuf, key: PathBuf, resolver: Arc<Resolver>) -> CertFiles {
        CertFiles { cert, key, resolver, last_seen: None }
    }

    fn read(&self) -> Result<Files, Error> {
        Ok(Files { cert: read(&self.cert)?, key: read(&self.key)? })
    }

    /// Reads the files and installs the pair if their content changed. Returns
    /// `Ok(true)` when a new pair went in, `Ok(false)` when nothing changed.
    pub fn reload(&mut self) -> Result<bool, Error> {
        let files = self.read()?;
        let mut digest = Sha256::new();
        digest.update((files.cert.len() as u64).to_be_bytes());
        digest.update(&files.cert);
        digest.update(&files.key);
        let digest: [u8; 32] = digest.finalize().into();
        if self.last_seen == Some(digest) {
            return Ok(false);
        }
        self.last_seen = Some(digest);
        let pair = parse_pair(&files.cert, &files.key).map_err(|reason| Error::Certificate {
            cert: self.cert.clone(),
            key: self.key.clone(),
            reason,
        })?;
        self.resolver.set(pair);
        Ok(true)
    }

    /// Polls the files until `stop` fires. The first read is the caller's (at start).
    pub async fn watch(mut self, interval: std::time::Duration, metrics: Arc<Metrics>, stop: CancellationToken) {
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(interval) => {}
            }
            match self.reload() {
                Ok(true) => {
                    metrics.cert_reload(true);
                    tracing::info!(cert = %self.cert.display(), "serving certificate loaded");
                }
                Ok(false) => {}
                Err(e) => {
                    metrics.cert_reload(false);
                    if self.resolver.loaded() {
                        tracing::warn!(error = %e, "new serving certificate unusable; keeping the previous one");
                    } else {
                        tracing::error!(error = %e, "no usable serving certificate yet; TLS handshakes fail");
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unusable_pairs_are_named() {
        let e = parse_pair(b"", b"").err().unwrap_or_default();
        assert!(e.contains("no CERTIFICATE block"), "{e}");
        let cert = b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
        let e = parse_pair(cert, b"not a key").err().unwrap_or_default();
        assert!(e.contains("no PRIVATE KEY block"), "{e}");
    }

    #[test]
    fn a_missing_file_is_an_error_and_nothing_is_loaded() {
        let resolver = Arc::new(Resolver::default());
        let mut files = CertFiles::new("/nonexistent/tls.crt".into(), "/nonexistent/tls.key".into(), resolver.clone());
        let e = files.reload().err().map(|e| e.to_string()).unwrap_or_default();
        assert!(e.contains("/nonexistent/tls.crt"), "{e}");
        assert!(!resolver.loaded());
    }
}
