//! The Azure clouds kvenv knows: Key Vault DNS suffix, token scope, Entra authority.

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Cloud {
    #[default]
    Public,
    China,
    UsGov,
}

impl std::str::FromStr for Cloud {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|c| c.name() == text)
            .ok_or_else(|| {
                format!(
                    "'{}' is not one of public, china, usgov",
                    crate::error::printable(text)
                )
            })
    }
}

impl Cloud {
    pub const ALL: [Cloud; 3] = [Cloud::Public, Cloud::China, Cloud::UsGov];

    /// The name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Cloud::Public => "public",
            Cloud::China => "china",
            Cloud::UsGov => "usgov",
        }
    }

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

    /// The DNS suffixes App Configuration stores of this cloud live under: the
    /// current `appconfig` domain and the older `azconfig` one, as the Azure
    /// SDKs' audience rules list them.
    pub fn appconfig_suffixes(self) -> &'static [&'static str] {
        match self {
            Cloud::Public => &["azconfig.io", "appconfig.azure.com"],
            Cloud::China => &["azconfig.azure.cn", "appconfig.azure.cn"],
            Cloud::UsGov => &["azconfig.azure.us", "appconfig.azure.us"],
        }
    }

    /// The token scope for App Configuration in this cloud.
    pub fn appconfig_scope(self) -> &'static str {
        match self {
            Cloud::Public => "https://appconfig.azure.com/.default",
            Cloud::China => "https://appconfig.azure.cn/.default",
            Cloud::UsGov => "https://appconfig.azure.us/.default",
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
