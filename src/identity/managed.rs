//! Managed identity: which endpoint the platform offers, chosen from the
//! environment as the official SDKs choose it. App Service and Container Apps
//! (`IDENTITY_ENDPOINT` + `IDENTITY_HEADER`) go through the official crate,
//! except with a resource id, which the crate refuses there; Azure Arc
//! (`IDENTITY_ENDPOINT` + `IMDS_ENDPOINT`), Cloud Shell (`MSI_ENDPOINT`) and
//! IMDS (VMs, AKS nodes) are kvenv's own requests (`msi.rs`).

use super::chain::Candidate;
use super::msi::{Flavor, MsiCredential};
use super::{IdentityConfig, Plumbing, Unavailable, UserAssigned};
use azure_core::credentials::TokenCredential;
use azure_identity::{ManagedIdentityCredential, ManagedIdentityCredentialOptions, UserAssignedId};
use std::sync::Arc;

const NAME: &str = "managed-identity";

/// Where the IMDS token endpoint is, honouring the override the other SDKs honour.
pub(super) fn imds_url(config: &IdentityConfig) -> String {
    let host = config
        .env
        .get("AZURE_POD_IDENTITY_AUTHORITY_HOST")
        .unwrap_or("http://169.254.169.254");
    format!(
        "{}/metadata/identity/oauth2/token",
        host.trim_end_matches('/')
    )
}

/// In `auto` mode IMDS is probed first, briefly, so that a laptop moves on.
pub(super) fn candidate(config: &IdentityConfig, plumbing: &Plumbing, auto: bool) -> Candidate {
    let which = config
        .user_assigned
        .as_ref()
        .map(|id| format!(", user-assigned {id}"))
        .unwrap_or_else(|| ", system-assigned".to_string());
    let own = |flavor: Flavor| -> Arc<dyn TokenCredential> {
        Arc::new(MsiCredential::new(
            plumbing.local.clone(),
            flavor,
            config.user_assigned.clone(),
        ))
    };
    let env = &config.env;
    match (
        env.get("IDENTITY_ENDPOINT"),
        env.get("IDENTITY_HEADER"),
        env.get("IMDS_ENDPOINT"),
        env.get("MSI_ENDPOINT"),
    ) {
        (Some(endpoint), Some(header), _, _) => {
            app_service(config, plumbing, endpoint, header, &which)
        }
        (Some(endpoint), None, Some(_), _) => Candidate::ready(
            NAME,
            own(Flavor::Arc {
                url: endpoint.to_string(),
            }),
            format!("managed identity (Azure Arc{which})"),
        ),
        (None, _, _, Some(endpoint)) => Candidate::ready(
            NAME,
            own(Flavor::CloudShell {
                url: endpoint.to_string(),
            }),
            "managed identity (Cloud Shell)".to_string(),
        ),
        // In a pod, IMDS answers with the node's identity, which every pod on
        // the node shares: `auto` does not borrow it (an explicit
        // `--credential managed-identity` still may).
        _ if auto && env.get("KUBERNETES_SERVICE_HOST").is_some() => {
            Candidate::unavailable(NAME, Unavailable::NodeIdentityInPod)
        }
        _ => {
            let url = imds_url(config);
            let candidate = Candidate::ready(
                NAME,
                own(Flavor::Imds { url: url.clone() }),
                format!("managed identity (IMDS{which})"),
            );
            if auto {
                candidate.with_probe(plumbing.local.clone(), url)
            } else {
                candidate
            }
        }
    }
}

/// App Service and Container Apps: the official crate, except with a resource
/// id, which it refuses there while the endpoint takes it (`mi_res_id`).
fn app_service(
    config: &IdentityConfig,
    plumbing: &Plumbing,
    endpoint: &str,
    header: &str,
    which: &str,
) -> Candidate {
    let description = format!("managed identity (App Service / Container Apps{which})");
    if let Some(UserAssigned::ResourceId(_)) = config.user_assigned {
        let flavor = Flavor::AppService {
            url: endpoint.to_string(),
            header: header.to_string(),
        };
        let credential =
            MsiCredential::new(plumbing.local.clone(), flavor, config.user_assigned.clone());
        return Candidate::ready(NAME, Arc::new(credential), description);
    }
    let options = ManagedIdentityCredentialOptions {
        user_assigned_id: config.user_assigned.clone().map(|id| match id {
            UserAssigned::ClientId(v) => UserAssignedId::ClientId(v),
            UserAssigned::ObjectId(v) => UserAssignedId::ObjectId(v),
            UserAssigned::ResourceId(v) => UserAssignedId::ResourceId(v),
        }),
        client_options: plumbing.local_options(config),
    };
    match ManagedIdentityCredential::new(Some(options)) {
        Ok(credential) => Candidate::ready(NAME, credential, description),
        Err(e) => Candidate::unavailable(NAME, Unavailable::refused(e)),
    }
}
