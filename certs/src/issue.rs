//! Issuing: the CA and the serving certificate it signs.

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use sha2::{Digest, Sha256};
use time::{Duration, OffsetDateTime};

use crate::Error;

/// Common name of the CA, ending in a digest of its public key. Derived from the key
/// so a reused CA key becomes the same issuer again (same name, and the key
/// identifier is derived from the key too) without parsing the stored certificate;
/// distinct per CA so a bundle holding an old and a new CA during rotation has two
/// distinguishable issuers.
fn ca_name(key: &KeyPair) -> String {
    let digest = Sha256::digest(key.public_key_raw());
    format!("supabase-operator webhook CA {}", hex::encode(&digest[..6]))
}

/// A CA: its certificate (PEM) and key.
#[derive(Debug)]
pub struct Ca {
    /// PEM certificate: what goes into a webhook configuration's `caBundle`.
    pub cert_pem: String,
    key: KeyPair,
}

impl Ca {
    /// PEM private key.
    pub fn key_pem(&self) -> String {
        self.key.serialize_pem()
    }
}

/// A serving certificate and its key, PEM.
#[derive(Debug)]
pub struct Serving {
    /// PEM certificate.
    pub cert_pem: String,
    /// PEM private key.
    pub key_pem: String,
}

fn ca_params(key: &KeyPair, days: i64) -> CertificateParams {
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, ca_name(key));
    params.distinguished_name = dn;
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
    validity(&mut params, days);
    params
}

// Backdated a little so a node whose clock lags does not reject a fresh certificate.
fn validity(params: &mut CertificateParams, days: i64) {
    let now = OffsetDateTime::now_utc();
    params.not_before = now - Duration::hours(1);
    params.not_after = now + Duration::days(days);
}

/// A new CA valid for `days`.
pub fn new_ca(days: i64) -> Result<Ca, Error> {
    let key = KeyPair::generate()?;
    let cert = ca_params(&key, days).self_signed(&key)?;
    Ok(Ca { cert_pem: cert.pem(), key })
}

/// The CA whose certificate and key were written earlier.
pub fn reuse_ca(cert_pem: String, key_pem: &str) -> Result<Ca, Error> {
    Ok(Ca { cert_pem, key: KeyPair::from_pem(key_pem)? })
}

/// A serving certificate for `names` (DNS names and IP addresses), valid for `days`,
/// signed by `ca`.
pub fn issue_serving(ca: &Ca, names: &[String], days: i64) -> Result<Serving, Error> {
    if names.is_empty() {
        return Err(Error::NoNames);
    }
    let mut params = CertificateParams::new(names.to_vec())?;
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, names[0].as_str());
    params.distinguished_name = dn;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    validity(&mut params, days);
    let key = KeyPair::generate()?;
    let issuer = Issuer::new(ca_params(&ca.key, days), &ca.key);
    let cert = params.signed_by(&key, &issuer)?;
    Ok(Serving { cert_pem: cert.pem(), key_pem: key.serialize_pem() })
}
