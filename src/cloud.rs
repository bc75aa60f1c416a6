//! The Azure clouds kvenv knows: Key Vault DNS suffix, token scope, Entra authority.

use clap::ValueEnum;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, Default)]
pub enum Cloud {
    #[default]
    Public,
    China,
    #[value(name = "usgov")]
    UsGov,
}

impl Cloud {
    /// The DNS suffix every vault of this cloud lives under.
    pub fn vault_suffix(self) -> &'static str {
        match self {
            Cloud::Public => "vault.azure.net",
            Cloud::China => "vault.azure.cn",
            Cloud::UsGov => "vault.usgovcloudapi.net",
        }
    }

    /// The token scope for Key Vault in this cloud.
    pub fn vault_scope(self) -> &'static str {
        match self {
            Cloud::Public => "https://vault.azure.net/.default",
            Cloud::China => "https://vault.azure.cn/.default",
            Cloud::UsGov => "https://vault.usgovcloudapi.net/.default",
        }
    }

    /// The Entra ID authority host, unless `AZURE_AUTHORITY_HOST` overrides it.
    #[allow(dead_code)] // for the credentials that talk to Entra ID
    pub fn authority_host(self) -> &'static str {
        match self {
            Cloud::Public => "https://login.microsoftonline.com",
            Cloud::China => "https://login.chinacloudapi.cn",
            Cloud::UsGov => "https://login.microsoftonline.us",
        }
    }
}
