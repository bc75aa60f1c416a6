//! A developer's own sign-in on a laptop: the Azure CLI (`az`) and the Azure
//! Developer CLI (`azd`), through the crate's credentials, which run the tool.

use super::{Built, IdentityConfig, Unavailable};
use azure_core::credentials::TokenCredential;
use azure_identity::{
    AzureCliCredential, AzureCliCredentialOptions, AzureDeveloperCliCredential,
    AzureDeveloperCliCredentialOptions,
};
use std::sync::Arc;

/// Finds a developer tool on the snapshot's PATH (`az.cmd`, `azd.exe` on
/// Windows); the crates run it through `/bin/sh` or `cmd.exe`.
fn on_path(config: &IdentityConfig, tool: &'static str) -> Result<(), Unavailable> {
    let path = config.env.get("PATH").unwrap_or_default();
    let pathext = config.env.get("PATHEXT");
    crate::platform::find_program(
        std::ffi::OsStr::new(tool),
        std::ffi::OsStr::new(path),
        pathext.map(std::ffi::OsStr::new),
    )
    .map(|_| ())
    .ok_or(Unavailable::NotOnPath(tool))
}

pub(super) fn azure_cli(config: &IdentityConfig) -> Built {
    on_path(config, "az")?;
    let options = AzureCliCredentialOptions {
        tenant_id: config.tenant().map(str::to_string),
        ..Default::default()
    };
    AzureCliCredential::new(Some(options))
        .map(|c| {
            (
                c as Arc<dyn TokenCredential>,
                "Azure CLI sign-in (az)".to_string(),
            )
        })
        .map_err(Unavailable::refused)
}

pub(super) fn azd(config: &IdentityConfig) -> Built {
    on_path(config, "azd")?;
    let options = AzureDeveloperCliCredentialOptions {
        tenant_id: config.tenant().map(str::to_string),
        ..Default::default()
    };
    AzureDeveloperCliCredential::new(Some(options))
        .map(|c| {
            (
                c as Arc<dyn TokenCredential>,
                "Azure Developer CLI sign-in (azd)".to_string(),
            )
        })
        .map_err(Unavailable::refused)
}
