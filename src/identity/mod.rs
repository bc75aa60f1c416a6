//! Where kvenv's token comes from: the credential the user picked, or the
//! `auto` chain, wrapped so that each scope is asked for once per run.
//!
//! One file per credential family, as `azure_identity` lays them out:
//! `service_principal.rs` (secret or certificate), `workload.rs`,
//! `managed.rs` (App Service, IMDS, Cloud Shell, Azure Arc; kvenv's own
//! requests in `msi.rs`), `developer.rs` (az, azd); then `chain.rs` and
//! `cache.rs`. Every one reads the same [`Snapshot`] of the environment, never the process.

mod arc;
mod cache;
mod chain;
mod developer;
mod kind;
mod managed;
mod msi;
mod service_principal;
mod snapshot;
mod unavailable;
mod workload;

pub(crate) use kind::{token_credentials, CredentialKind, UnknownTokenCredentials};
pub(crate) use snapshot::Snapshot;
use unavailable::{FileProblem, ImdsProbe, Unavailable};

use crate::cloud::Cloud;
use azure_core::cloud::CloudConfiguration;
use azure_core::credentials::TokenCredential;
use azure_core::http::ClientOptions;
use chain::{Candidate, Chain};
use std::sync::{Arc, OnceLock};

/// A user-assigned managed identity, as the flags name it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[allow(clippy::enum_variant_names)] // the flags' names
pub(crate) enum UserAssigned {
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

/// Everything the credentials need to know, read once.
#[derive(Clone, Debug)]
pub(crate) struct IdentityConfig {
    pub kind: CredentialKind,
    /// From `--client-id`/`--object-id`/`--resource-id`, else `AZURE_CLIENT_ID`.
    pub user_assigned: Option<UserAssigned>,
    /// `--tenant-id`.
    pub tenant_id: Option<String>,
    pub cloud: Cloud,
    pub env: Snapshot,
}

impl IdentityConfig {
    /// `--tenant-id`, else `AZURE_TENANT_ID`.
    pub(crate) fn tenant(&self) -> Option<&str> {
        self.tenant_id
            .as_deref()
            .or_else(|| self.env.get("AZURE_TENANT_ID"))
    }
}

/// A credential, and how to name it in messages; or why it is not configured.
type Built = Result<(Arc<dyn TokenCredential>, String), Unavailable>;

/// The credential in use and how to name it in messages (never from the token).
pub(crate) struct Identity {
    pub credential: Arc<dyn TokenCredential>,
    cache: Arc<cache::OncePerScope>,
    chosen: Arc<OnceLock<String>>,
    fallback: String,
    /// What the credential was built from, to build it anew.
    setup: Arc<(IdentityConfig, Plumbing)>,
}

impl Identity {
    /// Before a new round: forget tokens that expire soon and failures, so
    /// that a long-running `run --watch` renews its token in time and tries
    /// a failed identity again.
    pub(crate) fn forget_stale_tokens(&self) {
        self.cache.forget_stale();
    }

    /// What renews a revoked token (see `ClaimsChallengePolicy`): the
    /// credential built anew, so that no cache answers, neither kvenv's nor a
    /// credential crate's own; its token then replaces the revoked one in
    /// kvenv's cache. A developer tool (az, azd) may still hand back the token
    /// it keeps on disk; the failure line says so.
    pub(crate) fn renewer(&self) -> crate::http::RenewToken {
        let (cache, setup) = (self.cache.clone(), self.setup.clone());
        Arc::new(move |scope, revoked| {
            let (cache, setup) = (cache.clone(), setup.clone());
            // The revoked token is a secret too: wiped when this is done.
            let revoked = zeroize::Zeroizing::new(revoked);
            Box::pin(async move {
                let (fresh, _, _) = chain(&setup.0, &setup.1);
                let token = fresh.get_token(&[scope], None).await?;
                cache.replace(scope, &revoked, &token);
                Ok(token)
            })
        })
    }

    /// The credential that issued the token, or what was configured.
    pub(crate) fn describe(&self) -> String {
        self.chosen
            .get()
            .cloned()
            .unwrap_or_else(|| self.fallback.clone())
    }
}

/// HTTP plumbing the credentials share.
#[derive(Clone)]
pub(crate) struct Plumbing {
    /// Local identity endpoints: never through a proxy.
    pub local: reqwest::Client,
    /// Entra ID over HTTPS: through `HTTPS_PROXY` if set.
    pub remote: reqwest::Client,
}

impl Plumbing {
    /// Options for a crate credential that talks to Entra ID.
    fn entra_options(&self, config: &IdentityConfig) -> ClientOptions {
        self.options(config, &self.remote, crate::http::REMOTE_BODY_MAX)
    }

    /// Options for a crate credential that talks to an endpoint on the host.
    fn local_options(&self, config: &IdentityConfig) -> ClientOptions {
        self.options(config, &self.local, crate::http::LOCAL_BODY_MAX)
    }

    fn options(
        &self,
        config: &IdentityConfig,
        http: &reqwest::Client,
        body_max: usize,
    ) -> ClientOptions {
        // The crate consults AZURE_AUTHORITY_HOST only when no cloud is set.
        let cloud = match (config.env.get("AZURE_AUTHORITY_HOST"), config.cloud) {
            (Some(_), _) => None,
            (None, Cloud::Public) => Some(CloudConfiguration::AzurePublic),
            (None, Cloud::China) => Some(CloudConfiguration::AzureChina),
            (None, Cloud::UsGov) => Some(CloudConfiguration::AzureGovernment),
            // Not in the crate's table: its authority, as the Azure SDKs name it.
            (None, sovereign @ (Cloud::Bleu | Cloud::Delos)) => {
                let mut custom = azure_core::cloud::CustomConfiguration::default();
                custom.authority_host = sovereign.authority_host().to_string();
                Some(CloudConfiguration::from(custom))
            }
        };
        ClientOptions {
            cloud: cloud.map(Arc::new),
            ..crate::http::client_options(http, body_max, Vec::new())
        }
    }
}

/// The credential for `config`: the one asked for, or the `auto` chain
/// (narrowed by `AZURE_TOKEN_CREDENTIALS`).
pub(crate) fn build(
    config: &IdentityConfig,
    plumbing: &Plumbing,
) -> Result<Identity, UnknownTokenCredentials> {
    token_credentials(&config.env)?;
    let (chain, chosen, fallback) = chain(config, plumbing);
    let cache = Arc::new(cache::OncePerScope::new(Arc::new(chain)));
    Ok(Identity {
        credential: cache.clone(),
        cache,
        chosen,
        fallback,
        setup: Arc::new((config.clone(), plumbing.clone())),
    })
}

/// The credentials for `config`, uncached: the chain, where it records the
/// one that answered, and how to name it before then.
fn chain(config: &IdentityConfig, plumbing: &Plumbing) -> (Chain, Arc<OnceLock<String>>, String) {
    let auto = config.kind == CredentialKind::Auto;
    let narrowed = match auto {
        true => token_credentials(&config.env).ok().flatten(),
        false => None,
    };
    let kinds = narrowed.as_ref().map_or(config.kind.expand(), |(k, _)| *k);
    let candidates: Vec<Candidate> = kinds
        .iter()
        .map(|kind| candidate(*kind, config, plumbing, auto))
        .collect();
    let fallback = match (&narrowed, auto) {
        (Some((_, value)), _) => format!(
            "the first working credential of the auto chain narrowed by AZURE_TOKEN_CREDENTIALS={value}"
        ),
        (None, true) => "the first working credential of the auto chain".to_string(),
        (None, false) => candidates[0].describe(),
    };
    let why = narrowed
        .as_ref()
        .map(|(_, value)| format!("AZURE_TOKEN_CREDENTIALS={value}"));
    let candidates = match &why {
        Some(why) => candidates
            .into_iter()
            .map(|c| c.narrowed_by(why.clone()))
            .collect(),
        None => candidates,
    };
    let chosen = Arc::new(OnceLock::new());
    (
        Chain::new(candidates, chosen.clone(), why),
        chosen,
        fallback,
    )
}

/// One candidate. A credential that is not configured becomes a candidate that
/// says why; with an explicit `--credential` the user sees those words when
/// the token is asked for.
fn candidate(
    kind: CredentialKind,
    config: &IdentityConfig,
    plumbing: &Plumbing,
    auto: bool,
) -> Candidate {
    let built = match kind {
        CredentialKind::ManagedIdentity => return managed::candidate(config, plumbing, auto),
        CredentialKind::Environment => service_principal::candidate(config, plumbing),
        CredentialKind::WorkloadIdentity => workload::candidate(config, plumbing),
        CredentialKind::AzureCli => developer::azure_cli(config),
        CredentialKind::Azd => developer::azd(config),
        CredentialKind::Auto => unreachable!("auto is expanded by build()"),
    };
    match built {
        Ok((credential, description)) => Candidate::ready(kind.name(), credential, description),
        Err(why) => Candidate::unavailable(kind.name(), why),
    }
}

#[cfg(test)]
mod tests;
