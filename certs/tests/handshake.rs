//! What certgen writes is what a TLS client that trusts `ca.crt` accepts.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Handshakes with a server using `dir/tls.{crt,key}` from a client trusting `ca`,
/// asking for `name`.
async fn handshake(dir: &Path, ca: &Path, name: &str) -> Result<(), String> {
    let certs: Vec<CertificateDer<'static>> =
        CertificateDer::pem_file_iter(dir.join("tls.crt")).unwrap().collect::<Result<_, _>>().unwrap();
    let key = PrivateKeyDer::from_pem_file(dir.join("tls.key")).unwrap();
    let server = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap();
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_file_iter(ca).unwrap() {
        roots.add(c.unwrap()).unwrap();
    }
    let client = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();

    let (a, b) = tokio::io::duplex(64 * 1024);
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(server));
    let server_task = tokio::spawn(async move {
        let mut s = acceptor.accept(b).await.map_err(|e| e.to_string())?;
        s.write_all(b"ok").await.map_err(|e| e.to_string())?;
        s.shutdown().await.map_err(|e| e.to_string())
    });
    let connector = tokio_rustls::TlsConnector::from(Arc::new(client));
    let server_name = ServerName::try_from(name.to_string()).unwrap();
    let mut c = connector.connect(server_name, a).await.map_err(|e| e.to_string())?;
    let mut buf = Vec::new();
    c.read_to_end(&mut buf).await.map_err(|e| e.to_string())?;
    let _ = server_task.await;
    if buf == b"ok" { Ok(()) } else { Err("no data".into()) }
}

const SVC: &str = "supabase-operator-webhook.supabase-operator-system.svc";

#[tokio::test]
async fn serving_certificate_verifies_for_its_names_only() {
    let dir = tempfile::tempdir().unwrap();
    let names = vec![SVC.to_string(), "127.0.0.1".to_string()];
    let w = certs::write_all(dir.path(), &names, 30, 365, false).unwrap();
    assert!(w.new_ca);
    handshake(dir.path(), &w.ca_cert, SVC).await.expect("DNS name verifies");
    handshake(dir.path(), &w.ca_cert, "127.0.0.1").await.expect("IP verifies");
    let err = handshake(dir.path(), &w.ca_cert, "other.example.com").await.expect_err("other name must fail");
    assert!(err.contains("NotValidForName") || err.contains("not valid for"), "{err}");
}

#[tokio::test]
async fn rerun_reuses_the_ca_so_the_bundle_stays_valid() {
    let dir = tempfile::tempdir().unwrap();
    let names = vec![SVC.to_string()];
    certs::write_all(dir.path(), &names, 30, 365, false).unwrap();
    let first_ca = dir.path().join("first-ca.crt");
    std::fs::copy(dir.path().join("ca.crt"), &first_ca).unwrap();
    let first_cert = std::fs::read_to_string(dir.path().join("tls.crt")).unwrap();

    let w = certs::write_all(dir.path(), &names, 30, 365, false).unwrap();
    assert!(!w.new_ca);
    assert_ne!(std::fs::read_to_string(&w.tls_cert).unwrap(), first_cert, "serving certificate renewed");
    handshake(dir.path(), &first_ca, SVC).await.expect("renewed certificate chains to the original CA");

    let w = certs::write_all(dir.path(), &names, 30, 365, true).unwrap();
    assert!(w.new_ca);
    let err = handshake(dir.path(), &first_ca, SVC).await.expect_err("a new CA is not trusted by the old bundle");
    assert!(err.contains("UnknownIssuer") || err.contains("issuer"), "{err}");
}

#[test]
fn bundle_and_patch_carry_the_ca_and_keys_are_private() {
    use base64::Engine;
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let w = certs::write_all(dir.path(), &[SVC.to_string()], 30, 365, false).unwrap();
    let bundle = std::fs::read_to_string(&w.ca_bundle).unwrap();
    let decoded = base64::engine::general_purpose::STANDARD.decode(bundle.trim()).unwrap();
    assert_eq!(decoded, std::fs::read(&w.ca_cert).unwrap());
    let patch = std::fs::read_to_string(&w.ca_bundle_patch).unwrap();
    assert!(patch.contains(bundle.trim()) && patch.contains("/webhooks/0/clientConfig/caBundle"));
    for key in ["tls.key", "ca.key"] {
        let mode = std::fs::metadata(dir.path().join(key)).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{key} is readable by others");
    }
    assert!(matches!(certs::write_all(dir.path(), &[], 30, 365, false), Err(certs::Error::NoNames)));
}
