//! Where kvenv's token comes from: the credential the user picked, or the
//! `auto` chain, wrapped so that each scope is asked for once per run.
//!
//! Which code does what: the official `azure_identity` provides the
//! client-secret, workload-identity, Azure CLI, azd and App Service
//! credentials; `msi.rs` is kvenv's own for IMDS (with a probe), App Service
//! with a resource id, Cloud Shell and Azure Arc, which the crate lacks.

mod cache;
mod chain;
mod msi;

use crate::cloud::Cloud;
use crate::error::Error;
use azure_core::cloud::CloudConfiguration;
use azure_core::credentials::{Secret, TokenCredential};
use azure_core::http::ClientOptions;
use azure_identity::{
    AzureCliCredential, AzureCliCredentialOptions, AzureDeveloperCliCredential,
    AzureDeveloperCliCredentialOptions, ClientAssertion, ClientAssertionCredential,
    ClientAssertionCredentialOptions, ClientSecretCredential, ClientSecretCredentialOptions,
    ManagedIdentityCredential, ManagedIdentityCredentialOptions, UserAssignedId,
};
use chain::{Candidate, Chain};
use clap::ValueEnum;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, Default)]
pub enum CredentialKind {
    /// The first configured one that works of: environment, workload-identity, managed-identity, azure-cli, azd.
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
pub struct IdentityConfig {
    pub kind: CredentialKind,
    /// From `--client-id`/`--object-id`/`--resource-id`, else `AZURE_CLIENT_ID`.
    pub user_assigned: Option<UserAssigned>,
    /// `--tenant-id` only; credentials that need a tenant fall back to `AZURE_TENANT_ID`.
    pub tenant_id: Option<String>,
    pub cloud: Cloud,
}

/// The credential in use and how to name it in messages (never from the token).
pub struct Identity {
    pub credential: Arc<dyn TokenCredential>,
    chosen: Arc<OnceLock<String>>,
    fallback: String,
}

impl Identity {
    /// The credential that issued the token, or what was configured.
    pub fn describe(&self) -> String {
        self.chosen
            .get()
            .cloned()
            .unwrap_or_else(|| self.fallback.clone())
    }
}

/// HTTP plumbing the credentials share.
pub struct Plumbing {
    /// Local identity endpoints: never through a proxy.
    pub local: reqwest::Client,
    /// Entra ID over HTTPS: through `HTTPS_PROXY` if set.
    pub remote: reqwest::Client,
}

impl Plumbing {
    fn client_options(
        &self,
        http: &reqwest::Client,
        cloud: Cloud,
        body_max: usize,
    ) -> ClientOptions {
        // The crate consults AZURE_AUTHORITY_HOST only when no cloud is set.
        let cloud = match (env("AZURE_AUTHORITY_HOST"), cloud) {
            (Some(_), _) => None,
            (None, Cloud::Public) => Some(CloudConfiguration::AzurePublic),
            (None, Cloud::China) => Some(CloudConfiguration::AzureChina),
            (None, Cloud::UsGov) => Some(CloudConfiguration::AzureGovernment),
        };
        ClientOptions {
            cloud: cloud.map(Arc::new),
            ..crate::http::client_options(http, body_max, Vec::new())
        }
    }
}

pub fn build(config: &IdentityConfig, plumbing: &Plumbing) -> Result<Identity, Error> {
    let kinds: &[CredentialKind] = match config.kind {
        CredentialKind::Auto => &[
            CredentialKind::Environment,
            CredentialKind::WorkloadIdentity,
            CredentialKind::ManagedIdentity,
            CredentialKind::AzureCli,
            CredentialKind::Azd,
        ],
        CredentialKind::ManagedIdentity => &[CredentialKind::ManagedIdentity],
        CredentialKind::WorkloadIdentity => &[CredentialKind::WorkloadIdentity],
        CredentialKind::Environment => &[CredentialKind::Environment],
        CredentialKind::AzureCli => &[CredentialKind::AzureCli],
        CredentialKind::Azd => &[CredentialKind::Azd],
    };
    let auto = config.kind == CredentialKind::Auto;
    let candidates: Vec<Candidate> = kinds
        .iter()
        .map(|kind| candidate(*kind, config, plumbing, auto))
        .collect::<Result<_, _>>()?;
    let fallback = if auto {
        "the first working credential of the auto chain".to_string()
    } else {
        candidates[0].describe()
    };
    let chosen = Arc::new(OnceLock::new());
    let chain = Chain::new(candidates, chosen.clone());
    Ok(Identity {
        credential: Arc::new(cache::OncePerScope::new(Arc::new(chain))),
        chosen,
        fallback,
    })
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

fn name_of(kind: CredentialKind) -> &'static str {
    match kind {
        CredentialKind::Auto => "auto",
        CredentialKind::ManagedIdentity => "managed-identity",
        CredentialKind::WorkloadIdentity => "workload-identity",
        CredentialKind::Environment => "environment",
        CredentialKind::AzureCli => "azure-cli",
        CredentialKind::Azd => "azd",
    }
}

/// Builds one candidate. A credential that is not configured becomes a
/// candidate that says why; with an explicit `--credential` that is an error
/// for the user only when the token is asked for, with the same words.
fn candidate(
    kind: CredentialKind,
    config: &IdentityConfig,
    plumbing: &Plumbing,
    auto: bool,
) -> Result<Candidate, Error> {
    let name = name_of(kind);
    let built = match kind {
        CredentialKind::Environment => environment(config, plumbing),
        CredentialKind::WorkloadIdentity => workload_identity(config, plumbing),
        CredentialKind::ManagedIdentity => return Ok(managed_identity(config, plumbing, auto)),
        CredentialKind::AzureCli => developer_tool("az").and_then(|_| {
            let options = AzureCliCredentialOptions {
                tenant_id: config.tenant_id.clone(),
                ..Default::default()
            };
            AzureCliCredential::new(Some(options))
                .map(|c| {
                    (
                        c as Arc<dyn TokenCredential>,
                        "Azure CLI sign-in (az)".to_string(),
                    )
                })
                .map_err(|e| crate::error::chain(&e))
        }),
        CredentialKind::Azd => developer_tool("azd").and_then(|_| {
            let options = AzureDeveloperCliCredentialOptions {
                tenant_id: config.tenant_id.clone(),
                ..Default::default()
            };
            AzureDeveloperCliCredential::new(Some(options))
                .map(|c| {
                    (
                        c as Arc<dyn TokenCredential>,
                        "Azure Developer CLI sign-in (azd)".to_string(),
                    )
                })
                .map_err(|e| crate::error::chain(&e))
        }),
        CredentialKind::Auto => unreachable!("auto is expanded by build()"),
    };
    Ok(match built {
        Ok((credential, description)) => Candidate::ready(name, credential, description),
        Err(why) => Candidate::unavailable(name, why),
    })
}

fn tenant(config: &IdentityConfig) -> Option<String> {
    config.tenant_id.clone().or_else(|| env("AZURE_TENANT_ID"))
}

fn environment(
    config: &IdentityConfig,
    plumbing: &Plumbing,
) -> Result<(Arc<dyn TokenCredential>, String), String> {
    let tenant = tenant(config).ok_or("AZURE_TENANT_ID not set")?;
    let client_id = env("AZURE_CLIENT_ID").ok_or("AZURE_CLIENT_ID not set")?;
    let description = format!("service principal {client_id} (environment)");
    if let Some(secret) = env("AZURE_CLIENT_SECRET") {
        let options = ClientSecretCredentialOptions {
            client_options: plumbing.client_options(
                &plumbing.remote,
                config.cloud,
                crate::http::REMOTE_BODY_MAX,
            ),
        };
        let credential =
            ClientSecretCredential::new(&tenant, client_id, Secret::new(secret), Some(options))
                .map_err(|e| crate::error::chain(&e))?;
        return Ok((credential, description));
    }
    if let Some(path) = env("AZURE_CLIENT_CERTIFICATE_PATH") {
        return certificate(&tenant, client_id, PathBuf::from(path), config, plumbing)
            .map(|c| (c, description));
    }
    Err("AZURE_CLIENT_SECRET not set (nor AZURE_CLIENT_CERTIFICATE_PATH)".into())
}

#[cfg(feature = "client-certificate")]
fn certificate(
    tenant: &str,
    client_id: String,
    path: PathBuf,
    config: &IdentityConfig,
    plumbing: &Plumbing,
) -> Result<Arc<dyn TokenCredential>, String> {
    use azure_core::credentials::SecretBytes as CrateSecretBytes;
    use azure_identity::{ClientCertificateCredential, ClientCertificateCredentialOptions};
    const MAX: u64 = 1 << 20;
    let shown = format!("AZURE_CLIENT_CERTIFICATE_PATH {}", path.display());
    let bytes = crate::files::read_regular(&path, MAX, crate::files::Links::Follow)
        .map(crate::secret::SecretBytes::new)
        .map_err(|e| format!("{shown}: {e}"))?;
    let password = env("AZURE_CLIENT_CERTIFICATE_PASSWORD");
    // The crate reads PKCS#12 only; a PEM file (certificate + RSA key) is repacked.
    let (pkcs12, password) = if bytes.expose().starts_with(b"-----BEGIN") {
        (
            pem_to_pkcs12(bytes.expose()).map_err(|e| format!("{shown}: {e}"))?,
            None,
        )
    } else {
        (bytes, password)
    };
    let options = ClientCertificateCredentialOptions {
        client_options: plumbing.client_options(
            &plumbing.remote,
            config.cloud,
            crate::http::REMOTE_BODY_MAX,
        ),
        password: password.map(Secret::new),
    };
    ClientCertificateCredential::new(
        tenant.to_string(),
        client_id,
        CrateSecretBytes::new(pkcs12.expose().to_vec()),
        Some(options),
    )
    .map(|c| c as Arc<dyn TokenCredential>)
    .map_err(|e| format!("{shown}: {}", crate::error::chain(&e)))
}

/// Repacks a PEM certificate and private key as an unencrypted PKCS#12 bundle in memory.
#[cfg(feature = "client-certificate")]
fn pem_to_pkcs12(pem: &[u8]) -> Result<crate::secret::SecretBytes, String> {
    let key = openssl::pkey::PKey::private_key_from_pem(pem)
        .map_err(|_| "no readable private key in the PEM file".to_string())?;
    let mut certs = openssl::x509::X509::stack_from_pem(pem)
        .map_err(|_| "no readable certificate in the PEM file".to_string())?;
    if certs.is_empty() {
        return Err("no certificate in the PEM file".into());
    }
    let cert = certs.remove(0);
    let mut builder = openssl::pkcs12::Pkcs12::builder();
    builder.name("kvenv").pkey(&key).cert(&cert);
    if !certs.is_empty() {
        let mut chain = openssl::stack::Stack::new().map_err(|e| e.to_string())?;
        for c in certs {
            chain.push(c).map_err(|e| e.to_string())?;
        }
        builder.ca(chain);
    }
    let bundle = builder
        .build2("")
        .map_err(|e| format!("cannot repack the PEM file: {e}"))?;
    bundle
        .to_der()
        .map(crate::secret::SecretBytes::new)
        .map_err(|e| format!("cannot repack the PEM file: {e}"))
}

#[cfg(not(feature = "client-certificate"))]
fn certificate(
    _tenant: &str,
    _client_id: String,
    _path: PathBuf,
    _config: &IdentityConfig,
    _plumbing: &Plumbing,
) -> Result<Arc<dyn TokenCredential>, String> {
    Err("AZURE_CLIENT_CERTIFICATE_PATH is set but this kvenv was built without the client-certificate feature (cargo build --features client-certificate; it needs OpenSSL)".into())
}

/// A projected service-account token is a JWT of a few KB.
const FEDERATED_TOKEN_MAX: u64 = 64 << 10;

/// The federated token for workload identity, read by kvenv itself (the
/// crate's reader has no bound and would block on a FIFO): a regular file of
/// at most 64 KiB, read again on every token request as the kubelet rotates it.
#[derive(Debug)]
struct FederatedTokenFile(PathBuf);

impl FederatedTokenFile {
    fn read(&self) -> Result<String, String> {
        let shown = format!("AZURE_FEDERATED_TOKEN_FILE {}", self.0.display());
        let bytes =
            crate::files::read_regular(&self.0, FEDERATED_TOKEN_MAX, crate::files::Links::Follow)
                .map(crate::secret::SecretBytes::new)
                .map_err(|e| format!("{shown}: {e}"))?;
        let text = std::str::from_utf8(bytes.expose())
            .map_err(|_| format!("{shown}: not a token (not UTF-8)"))?
            .trim();
        if text.is_empty() {
            return Err(format!("{shown}: empty"));
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
            azure_core::Error::with_message(azure_core::error::ErrorKind::Credential, e)
        })
    }
}

fn workload_identity(
    config: &IdentityConfig,
    plumbing: &Plumbing,
) -> Result<(Arc<dyn TokenCredential>, String), String> {
    let token_file =
        env("AZURE_FEDERATED_TOKEN_FILE").ok_or("AZURE_FEDERATED_TOKEN_FILE not set")?;
    let tenant = tenant(config).ok_or("AZURE_TENANT_ID not set")?;
    let client_id = match &config.user_assigned {
        Some(UserAssigned::ClientId(id)) => id.clone(),
        _ => env("AZURE_CLIENT_ID").ok_or("AZURE_CLIENT_ID not set")?,
    };
    let token = FederatedTokenFile(PathBuf::from(token_file));
    // Checked now so that a bad file is named in the chain's reasons.
    token.read()?;
    let description = format!("workload identity {client_id}");
    let options = ClientAssertionCredentialOptions {
        client_options: plumbing.client_options(
            &plumbing.remote,
            config.cloud,
            crate::http::REMOTE_BODY_MAX,
        ),
    };
    ClientAssertionCredential::new(tenant, client_id, token, Some(options))
        .map(|c| (c as Arc<dyn TokenCredential>, description))
        .map_err(|e| crate::error::chain(&e))
}

/// Finds a developer tool on PATH; the crates run it through `/bin/sh`.
fn developer_tool(tool: &str) -> Result<PathBuf, String> {
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join(tool))
        .find(|p| p.is_file())
        .ok_or_else(|| format!("`{tool}` not found on PATH"))
}

fn managed_identity(config: &IdentityConfig, plumbing: &Plumbing, auto: bool) -> Candidate {
    const NAME: &str = "managed-identity";
    let which = config
        .user_assigned
        .as_ref()
        .map(|id| format!(", user-assigned {id}"))
        .unwrap_or_else(|| ", system-assigned".to_string());
    let own = |flavor: msi::Flavor| -> Arc<dyn TokenCredential> {
        Arc::new(msi::MsiCredential::new(
            plumbing.local.clone(),
            flavor,
            config.user_assigned.clone(),
        ))
    };
    match (
        env("IDENTITY_ENDPOINT"),
        env("IDENTITY_HEADER"),
        env("IMDS_ENDPOINT"),
        env("MSI_ENDPOINT"),
    ) {
        (Some(endpoint), Some(header), _, _) => {
            let description = format!("managed identity (App Service / Container Apps{which})");
            if let Some(UserAssigned::ResourceId(_)) = config.user_assigned {
                // The official crate refuses resource ids on App Service; the endpoint takes `mi_res_id`.
                let credential = own(msi::Flavor::AppService {
                    url: endpoint,
                    header,
                });
                return Candidate::ready(NAME, credential, description);
            }
            let options = ManagedIdentityCredentialOptions {
                user_assigned_id: config.user_assigned.clone().map(|id| match id {
                    UserAssigned::ClientId(v) => UserAssignedId::ClientId(v),
                    UserAssigned::ObjectId(v) => UserAssignedId::ObjectId(v),
                    UserAssigned::ResourceId(v) => UserAssignedId::ResourceId(v),
                }),
                client_options: plumbing.client_options(
                    &plumbing.local,
                    config.cloud,
                    crate::http::LOCAL_BODY_MAX,
                ),
            };
            match ManagedIdentityCredential::new(Some(options)) {
                Ok(credential) => Candidate::ready(NAME, credential, description),
                Err(e) => Candidate::unavailable(NAME, crate::error::chain(&e)),
            }
        }
        (Some(endpoint), None, Some(_), _) => Candidate::ready(
            NAME,
            own(msi::Flavor::Arc { url: endpoint }),
            format!("managed identity (Azure Arc{which})"),
        ),
        (None, _, _, Some(endpoint)) => Candidate::ready(
            NAME,
            own(msi::Flavor::CloudShell { url: endpoint }),
            "managed identity (Cloud Shell)".to_string(),
        ),
        _ => {
            let url = msi::imds_url();
            let candidate = Candidate::ready(
                NAME,
                own(msi::Flavor::Imds { url: url.clone() }),
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
