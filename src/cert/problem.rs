//! Why a certificate's secret cannot give the part asked for, and the
//! status, line and hint each reason gets.

use crate::error::{Failure, Status};

/// Why a secret cannot give a part.
#[derive(Debug)]
pub(crate) enum Problem {
    NotACertificate(String),
    UnsupportedKey(String),
    NoKey,
    Encrypted,
    NoLeaf(String),
}

impl Problem {
    /// The failure, naming the variable and the secret (`named`).
    pub(crate) fn failure(self, var: &str, named: &str) -> Failure {
        let (status, detail, hint) = match self {
            Problem::NotACertificate(why) => (
                Status::NotACertificate,
                format!("{named} is not a certificate kvenv can read (--cert {var}): {why}"),
                "--cert reads a Key Vault certificate's secret: PEM, or base64 of a PKCS#12 (PFX)",
            ),
            Problem::UnsupportedKey(what) => (
                Status::NotACertificate,
                format!("{named} holds {what} (--cert {var})"),
                "kvenv hands on RSA keys and EC keys on P-256, P-384 or P-521",
            ),
            Problem::NoKey => (
                Status::KeyNotExportable,
                format!("{named} holds no private key, so --cert {var} cannot write it"),
                "the certificate's policy must have an exportable key (keyProperties.exportable), or ask for cert or fullchain",
            ),
            Problem::Encrypted => (
                Status::CertificateEncrypted,
                format!("{named} is encrypted with a password (--cert {var})"),
                "store it without a password, as Key Vault does for the certificates it holds",
            ),
            Problem::NoLeaf(why) => (
                Status::NoLeafCertificate,
                format!("{named} has no leaf certificate (--cert {var}): {why}"),
                "store the server's certificate with its key and issuers",
            ),
        };
        Failure::new(status, detail).hint(hint)
    }
}
