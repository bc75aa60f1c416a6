//! A service principal from the environment: `AZURE_TENANT_ID`,
//! `AZURE_CLIENT_ID` and `AZURE_CLIENT_SECRET`, or a certificate in
//! `AZURE_CLIENT_CERTIFICATE_PATH` (behind the `client-certificate` feature:
//! the crate parses it with OpenSSL).

#[cfg(feature = "client-certificate")]
use super::FileProblem;
use super::{Built, IdentityConfig, Plumbing, Unavailable};
use azure_core::credentials::{Secret, TokenCredential};
use azure_identity::{ClientSecretCredential, ClientSecretCredentialOptions};
use std::path::PathBuf;
use std::sync::Arc;

pub(super) fn candidate(config: &IdentityConfig, plumbing: &Plumbing) -> Built {
    let env = &config.env;
    let tenant = config
        .tenant()
        .ok_or(Unavailable::NotSet("AZURE_TENANT_ID"))?;
    let client_id = env
        .get("AZURE_CLIENT_ID")
        .ok_or(Unavailable::NotSet("AZURE_CLIENT_ID"))?;
    let description = format!("service principal {client_id} (environment)");
    if let Some(secret) = env.get("AZURE_CLIENT_SECRET") {
        let options = ClientSecretCredentialOptions {
            client_options: plumbing.entra_options(config),
        };
        let credential = ClientSecretCredential::new(
            tenant,
            client_id.to_string(),
            Secret::new(secret.to_string()),
            Some(options),
        )
        .map_err(Unavailable::refused)?;
        return Ok((credential, description));
    }
    if let Some(path) = env.get("AZURE_CLIENT_CERTIFICATE_PATH") {
        return certificate(tenant, client_id, PathBuf::from(path), config, plumbing)
            .map(|c| (c, description));
    }
    Err(Unavailable::NoClientSecret)
}

#[cfg(feature = "client-certificate")]
fn certificate(
    tenant: &str,
    client_id: &str,
    path: PathBuf,
    config: &IdentityConfig,
    plumbing: &Plumbing,
) -> Result<Arc<dyn TokenCredential>, Unavailable> {
    use azure_core::credentials::SecretBytes as CrateSecretBytes;
    use azure_identity::{ClientCertificateCredential, ClientCertificateCredentialOptions};
    const MAX: u64 = 1 << 20;
    let bad = |problem: FileProblem| Unavailable::File {
        var: "AZURE_CLIENT_CERTIFICATE_PATH",
        path: path.clone(),
        problem,
    };
    let bytes = crate::files::read_regular(&path, MAX, crate::files::Links::Follow)
        .map(crate::secret::SecretBytes::new)
        .map_err(|e| bad(e.into()))?;
    let password = config
        .env
        .get("AZURE_CLIENT_CERTIFICATE_PASSWORD")
        .map(str::to_string);
    // The crate reads PKCS#12 only; a PEM file (certificate + RSA key) is repacked.
    let (pkcs12, password) = if bytes.expose().starts_with(b"-----BEGIN") {
        (pem_to_pkcs12(bytes.expose()).map_err(bad)?, None)
    } else {
        (bytes, password)
    };
    let options = ClientCertificateCredentialOptions {
        client_options: plumbing.entra_options(config),
        password: password.map(Secret::new),
    };
    ClientCertificateCredential::new(
        tenant.to_string(),
        client_id.to_string(),
        CrateSecretBytes::new(pkcs12.expose().to_vec()),
        Some(options),
    )
    .map(|c| c as Arc<dyn TokenCredential>)
    .map_err(|e| bad(FileProblem::Refused(Box::new(e))))
}

/// Repacks a PEM certificate and private key as an unencrypted PKCS#12 bundle in memory.
#[cfg(feature = "client-certificate")]
fn pem_to_pkcs12(pem: &[u8]) -> Result<crate::secret::SecretBytes, FileProblem> {
    let key = openssl::pkey::PKey::private_key_from_pem(pem)
        .map_err(|_| FileProblem::Pem("no readable private key in the PEM file"))?;
    let mut certs = openssl::x509::X509::stack_from_pem(pem)
        .map_err(|_| FileProblem::Pem("no readable certificate in the PEM file"))?;
    if certs.is_empty() {
        return Err(FileProblem::Pem("no certificate in the PEM file"));
    }
    let repack = |e: openssl::error::ErrorStack| FileProblem::Repack(e.into());
    let cert = certs.remove(0);
    let mut builder = openssl::pkcs12::Pkcs12::builder();
    builder.name("kvenv").pkey(&key).cert(&cert);
    if !certs.is_empty() {
        let mut chain = openssl::stack::Stack::new().map_err(repack)?;
        for c in certs {
            chain.push(c).map_err(repack)?;
        }
        builder.ca(chain);
    }
    let bundle = builder.build2("").map_err(repack)?;
    bundle
        .to_der()
        .map(crate::secret::SecretBytes::new)
        .map_err(repack)
}

#[cfg(not(feature = "client-certificate"))]
fn certificate(
    _tenant: &str,
    _client_id: &str,
    _path: PathBuf,
    _config: &IdentityConfig,
    _plumbing: &Plumbing,
) -> Result<Arc<dyn TokenCredential>, Unavailable> {
    Err(Unavailable::NoCertificateSupport)
}
