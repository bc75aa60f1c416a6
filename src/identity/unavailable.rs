//! Why a credential cannot be used, as values: what the `auto` chain lists
//! for each candidate it passed over, and what an explicit `--credential`
//! reports when the token is asked for.

use crate::files::FileError;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub(crate) enum Unavailable {
    /// A variable the credential needs is not set (or blank).
    #[error("{0} not set")]
    NotSet(&'static str),
    /// A service principal with neither a secret nor a certificate.
    #[error("AZURE_CLIENT_SECRET not set (nor AZURE_CLIENT_CERTIFICATE_PATH)")]
    NoClientSecret,
    /// `az` or `azd` is not on the snapshot's PATH.
    #[error("`{0}` not found on PATH")]
    NotOnPath(&'static str),
    /// A file the credential reads, named by `var`, cannot be used.
    #[error("{var} {}: {problem}", path.display())]
    File {
        var: &'static str,
        path: PathBuf,
        problem: FileProblem,
    },
    /// `auto` inside a pod: IMDS would lend it the node's identity.
    #[error("inside Kubernetes (KUBERNETES_SERVICE_HOST is set), IMDS would lend this pod the node's identity, which every pod on the node shares, so auto does not use it; use workload identity (AZURE_FEDERATED_TOKEN_FILE, set by the workload identity webhook), or --credential managed-identity to use the node's identity on purpose")]
    NodeIdentityInPod,
    /// A certificate was named, but this build cannot read one.
    #[cfg(not(feature = "client-certificate"))]
    #[error("AZURE_CLIENT_CERTIFICATE_PATH is set but this kvenv was built without the client-certificate feature (cargo build --features client-certificate; it needs OpenSSL)")]
    NoCertificateSupport,
    /// `auto`'s IMDS probe found nothing there.
    #[error("{0}")]
    Imds(#[from] ImdsProbe),
    /// The Azure crate refused to build the credential.
    #[error("{}", crate::error::chain(.0))]
    Refused(Box<azure_core::Error>),
}

impl Unavailable {
    /// The Azure crate refused to build the credential.
    pub(crate) fn refused(error: azure_core::Error) -> Unavailable {
        Unavailable::Refused(Box::new(error))
    }
}

/// What is wrong with a credential's file.
#[derive(Debug, thiserror::Error)]
pub(crate) enum FileProblem {
    #[error("{0}")]
    Unreadable(#[from] FileError),
    #[error("not a token (not UTF-8)")]
    NotUtf8,
    #[error("empty")]
    Empty,
    /// A PEM certificate file that cannot be repacked as PKCS#12.
    #[cfg(feature = "client-certificate")]
    #[error("{0}")]
    Pem(&'static str),
    #[cfg(feature = "client-certificate")]
    #[error("cannot repack the PEM file: {0}")]
    Repack(Box<dyn std::error::Error + Send + Sync>),
    /// The crate refused the certificate.
    #[cfg(feature = "client-certificate")]
    #[error("{}", crate::error::chain(.0))]
    Refused(Box<azure_core::Error>),
}

/// Why the IMDS probe of `auto` moved on.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ImdsProbe {
    #[error("the IMDS address {url} is not a URL: {error}")]
    NotAUrl { url: String, error: url::ParseError },
    #[error("no IDENTITY_ENDPOINT or MSI_ENDPOINT, and the IMDS probe got no answer from {host} in {seconds:.1} s")]
    Silent { host: String, seconds: f64 },
    #[error("no IDENTITY_ENDPOINT or MSI_ENDPOINT, and the IMDS probe failed: {}", failed(.0))]
    Failed(Box<azure_core::Error>),
}

/// A failed probe in one clause: the transport failure when there is one.
fn failed(error: &azure_core::Error) -> String {
    match crate::http::find::<crate::http::TransportFailure>(error) {
        Some(failure) => failure.to_string(),
        None => crate::error::chain(error),
    }
}
