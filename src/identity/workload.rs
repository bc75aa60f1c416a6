//! Workload identity (AKS and other federated identities): a token file
//! projected by the platform, exchanged at Entra ID for a Key Vault token
//! through the crate's client-assertion credential. kvenv reads the file
//! itself: the crate's reader has no bound and would block on a FIFO.

use super::{Built, FileProblem, IdentityConfig, Plumbing, Unavailable, UserAssigned};
use azure_core::credentials::TokenCredential;
use azure_identity::{
    ClientAssertion, ClientAssertionCredential, ClientAssertionCredentialOptions,
};
use std::path::PathBuf;
use std::sync::Arc;

/// A projected service-account token is a JWT of a few KB.
const FEDERATED_TOKEN_MAX: u64 = 64 << 10;

/// The federated token file: a regular file of at most 64 KiB, read again on
/// every token request as the kubelet rotates it.
#[derive(Debug)]
struct FederatedTokenFile(PathBuf);

impl FederatedTokenFile {
    fn read(&self) -> Result<String, Unavailable> {
        let bad = |problem: FileProblem| Unavailable::File {
            var: "AZURE_FEDERATED_TOKEN_FILE",
            path: self.0.clone(),
            problem,
        };
        let bytes =
            crate::files::read_regular(&self.0, FEDERATED_TOKEN_MAX, crate::files::Links::Follow)
                .map(crate::secret::SecretBytes::new)
                .map_err(|e| bad(e.into()))?;
        let text = std::str::from_utf8(bytes.expose())
            .map_err(|_| bad(FileProblem::NotUtf8))?
            .trim();
        if text.is_empty() {
            return Err(bad(FileProblem::Empty));
        }
        Ok(text.to_string())
    }
}

#[async_trait::async_trait]
impl ClientAssertion for FederatedTokenFile {
    async fn secret(
        &self,
        _options: Option<azure_core::http::ClientMethodOptions<'_>>,
    ) -> azure_core::Result<String> {
        self.read().map_err(|e| {
            azure_core::Error::with_message(azure_core::error::ErrorKind::Credential, e.to_string())
        })
    }
}

pub(super) fn candidate(config: &IdentityConfig, plumbing: &Plumbing) -> Built {
    let token_file = config
        .env
        .get("AZURE_FEDERATED_TOKEN_FILE")
        .ok_or(Unavailable::NotSet("AZURE_FEDERATED_TOKEN_FILE"))?;
    let tenant = config
        .tenant()
        .ok_or(Unavailable::NotSet("AZURE_TENANT_ID"))?;
    let client_id = match &config.user_assigned {
        Some(UserAssigned::ClientId(id)) => id.as_str(),
        _ => config
            .env
            .get("AZURE_CLIENT_ID")
            .ok_or(Unavailable::NotSet("AZURE_CLIENT_ID"))?,
    };
    let token = FederatedTokenFile(PathBuf::from(token_file));
    // Checked now so that a bad file is named in the chain's reasons.
    token.read()?;
    let description = format!("workload identity {client_id}");
    let options = ClientAssertionCredentialOptions {
        client_options: plumbing.entra_options(config),
    };
    ClientAssertionCredential::new(
        tenant.to_string(),
        client_id.to_string(),
        token,
        Some(options),
    )
    .map(|c| (c as Arc<dyn TokenCredential>, description))
    .map_err(Unavailable::refused)
}
