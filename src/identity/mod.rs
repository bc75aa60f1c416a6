//! Where kvenv's token comes from: the credential the user picked (or the
//! `auto` chain), wrapped so that each scope is asked for once per run.

mod cache;
mod msi;

use crate::cloud::Cloud;
use crate::error::Error;
use azure_core::credentials::TokenCredential;
use azure_core::http::{ClientOptions, RetryOptions, Transport};
use azure_identity::{ManagedIdentityCredential, ManagedIdentityCredentialOptions, UserAssignedId};
use clap::ValueEnum;
use std::sync::Arc;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, Default)]
pub enum CredentialKind {
    /// The first configured of: environment, workload-identity, managed-identity, azure-cli, azd.
    #[default]
    Auto,
    ManagedIdentity,
    WorkloadIdentity,
    Environment,
    AzureCli,
    Azd,
}

/// A user-assigned managed identity, as the flags name it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[allow(clippy::enum_variant_names)] // the flags' names
pub enum UserAssigned {
    ClientId(String),
    ObjectId(String),
    ResourceId(String),
}

impl std::fmt::Display for UserAssigned {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            UserAssigned::ClientId(v) => write!(f, "client id {v}"),
            UserAssigned::ObjectId(v) => write!(f, "object id {v}"),
            UserAssigned::ResourceId(v) => write!(f, "resource id {v}"),
        }
    }
}

#[derive(Clone, Debug)]
#[allow(dead_code)] // tenant and cloud are read by the credentials that talk to Entra ID
pub struct IdentityConfig {
    pub kind: CredentialKind,
    pub user_assigned: Option<UserAssigned>,
    pub tenant_id: Option<String>,
    pub cloud: Cloud,
}

/// The credential in use and how to name it in messages (never from the token).
pub struct Identity {
    pub credential: Arc<dyn TokenCredential>,
    pub description: String,
}

/// HTTP plumbing the credentials share.
pub struct Plumbing {
    pub http: reqwest::Client,
}

impl Plumbing {
    fn client_options(&self) -> ClientOptions {
        ClientOptions {
            transport: Some(Transport::new(Arc::new(self.http.clone()))),
            retry: RetryOptions::custom(Arc::new(crate::http::Backoff::default())),
            ..Default::default()
        }
    }
}

pub fn build(config: &IdentityConfig, plumbing: &Plumbing) -> Result<Identity, Error> {
    let (credential, description) = match config.kind {
        CredentialKind::Auto | CredentialKind::ManagedIdentity => {
            managed_identity(config, plumbing)?
        }
        other => {
            return Err(Error::Usage(format!(
                "--credential {}: not supported by this build yet; use managed-identity",
                other
                    .to_possible_value()
                    .map(|v| v.get_name().to_string())
                    .unwrap_or_default()
            )))
        }
    };
    tracing::info!(credential = %description, "identity chosen");
    Ok(Identity {
        credential: Arc::new(cache::OncePerScope::new(credential)),
        description,
    })
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

fn managed_identity(
    config: &IdentityConfig,
    plumbing: &Plumbing,
) -> Result<(Arc<dyn TokenCredential>, String), Error> {
    let which = config
        .user_assigned
        .as_ref()
        .map(|id| format!(", user-assigned {id}"))
        .unwrap_or_else(|| ", system-assigned".to_string());
    if let (Some(endpoint), Some(header)) = (env("IDENTITY_ENDPOINT"), env("IDENTITY_HEADER")) {
        let description = format!("managed identity (App Service / Container Apps{which})");
        if let Some(UserAssigned::ResourceId(_)) = config.user_assigned {
            // The official crate refuses resource ids on App Service; the endpoint takes `mi_res_id`.
            let flavor = msi::Flavor::AppService {
                url: endpoint,
                header,
            };
            let credential = msi::MsiCredential::new(
                plumbing.http.clone(),
                flavor,
                config.user_assigned.clone(),
            );
            return Ok((Arc::new(credential), description));
        }
        let options = ManagedIdentityCredentialOptions {
            user_assigned_id: config.user_assigned.clone().map(|id| match id {
                UserAssigned::ClientId(v) => UserAssignedId::ClientId(v),
                UserAssigned::ObjectId(v) => UserAssignedId::ObjectId(v),
                UserAssigned::ResourceId(v) => UserAssignedId::ResourceId(v),
            }),
            client_options: plumbing.client_options(),
        };
        let credential = ManagedIdentityCredential::new(Some(options))
            .map_err(|e| Error::Usage(format!("managed identity: {}", crate::error::chain(&e))))?;
        return Ok((credential, description));
    }
    let flavor = msi::Flavor::Imds {
        url: msi::imds_url(),
    };
    let credential =
        msi::MsiCredential::new(plumbing.http.clone(), flavor, config.user_assigned.clone());
    Ok((
        Arc::new(credential),
        format!("managed identity (IMDS{which})"),
    ))
}
