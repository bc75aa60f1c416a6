//! Which credential to use: `--credential` (`auto` or one by name), and
//! `AZURE_TOKEN_CREDENTIALS`, which narrows `auto` as the Azure SDKs narrow
//! DefaultAzureCredential.

use super::Snapshot;

/// Which credential to use (`--credential`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub(crate) enum CredentialKind {
    /// The first configured one that works of: environment, workload-identity, managed-identity, azure-cli, azd.
    #[default]
    Auto,
    ManagedIdentity,
    WorkloadIdentity,
    Environment,
    AzureCli,
    Azd,
}

impl CredentialKind {
    /// `auto`, then the order `auto` tries the others in.
    pub(crate) const ALL: [CredentialKind; 6] = [
        CredentialKind::Auto,
        CredentialKind::Environment,
        CredentialKind::WorkloadIdentity,
        CredentialKind::ManagedIdentity,
        CredentialKind::AzureCli,
        CredentialKind::Azd,
    ];

    /// The name on the command line and in messages.
    pub(crate) fn name(self) -> &'static str {
        match self {
            CredentialKind::Auto => "auto",
            CredentialKind::ManagedIdentity => "managed-identity",
            CredentialKind::WorkloadIdentity => "workload-identity",
            CredentialKind::Environment => "environment",
            CredentialKind::AzureCli => "azure-cli",
            CredentialKind::Azd => "azd",
        }
    }

    /// What `auto` tries, in order, or the one credential asked for.
    pub(crate) fn expand(self) -> &'static [CredentialKind] {
        match self {
            CredentialKind::Auto => &Self::ALL[1..],
            CredentialKind::ManagedIdentity => &[CredentialKind::ManagedIdentity],
            CredentialKind::WorkloadIdentity => &[CredentialKind::WorkloadIdentity],
            CredentialKind::Environment => &[CredentialKind::Environment],
            CredentialKind::AzureCli => &[CredentialKind::AzureCli],
            CredentialKind::Azd => &[CredentialKind::Azd],
        }
    }
}

impl std::str::FromStr for CredentialKind {
    type Err = UnknownCredential;

    fn from_str(text: &str) -> Result<Self, UnknownCredential> {
        Self::ALL
            .into_iter()
            .find(|k| k.name() == text)
            .ok_or_else(|| UnknownCredential {
                given: crate::error::printable(text),
            })
    }
}

/// `AZURE_TOKEN_CREDENTIALS`, the variable the Azure SDKs read to narrow
/// DefaultAzureCredential, narrowing `auto` the same way: `dev` (az, azd),
/// `prod` (environment, workload identity, managed identity), or one
/// credential by the SDKs' name (`AzureCliCredential`, ...) or kvenv's.
/// `None` when unset or empty; an explicit `--credential` wins over it.
pub(crate) fn token_credentials(
    env: &Snapshot,
) -> Result<Option<(&'static [CredentialKind], String)>, UnknownTokenCredentials> {
    use CredentialKind::*;
    let Some(value) = env
        .get("AZURE_TOKEN_CREDENTIALS")
        .map(str::trim)
        .filter(|v| !v.is_empty())
    else {
        return Ok(None);
    };
    let kinds: &'static [CredentialKind] = match value.to_ascii_lowercase().as_str() {
        "dev" => &[AzureCli, Azd],
        "prod" => &[Environment, WorkloadIdentity, ManagedIdentity],
        "environmentcredential" | "environment" => &[Environment],
        "workloadidentitycredential" | "workload-identity" => &[WorkloadIdentity],
        "managedidentitycredential" | "managed-identity" => &[ManagedIdentity],
        "azureclicredential" | "azure-cli" => &[AzureCli],
        "azuredeveloperclicredential" | "azd" => &[Azd],
        _ => {
            return Err(UnknownTokenCredentials {
                given: crate::error::printable(value),
            })
        }
    };
    Ok(Some((kinds, value.to_string())))
}

/// An `AZURE_TOKEN_CREDENTIALS` value kvenv does not know.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("'{given}' is not dev, prod, EnvironmentCredential, WorkloadIdentityCredential, ManagedIdentityCredential, AzureCliCredential or AzureDeveloperCliCredential (kvenv has no other credential)")]
pub(crate) struct UnknownTokenCredentials {
    given: String,
}

/// A `--credential` that names none of [`CredentialKind::ALL`].
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("'{given}' is not one of {}", CredentialKind::ALL.map(CredentialKind::name).join(", "))]
pub(crate) struct UnknownCredential {
    given: String,
}
