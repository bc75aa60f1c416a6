//! The Azure clouds kvenv knows: Key Vault DNS suffix, token scope, Entra
//! authority. The sovereign clouds Bleu (France) and Delos (Germany) are as
//! the Azure SDKs list them (the .NET SDK's trusted Key Vault domains,
//! `vault.sovcloud-api.fr` and `vault.sovcloud-api.de`, and its ARM
//! configuration's `login.sovcloud-identity.fr`/`.de` authorities); App
//! Configuration has no documented suffix there yet.

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub(crate) enum Cloud {
    #[default]
    Public,
    China,
    UsGov,
    /// France's sovereign cloud.
    Bleu,
    /// Germany's sovereign cloud.
    Delos,
}

impl std::str::FromStr for Cloud {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|c| c.name() == text)
            .ok_or_else(|| {
                format!(
                    "'{}' is not one of public, china, usgov, bleu, delos",
                    crate::error::printable(text)
                )
            })
    }
}

impl Cloud {
    pub(crate) const ALL: [Cloud; 5] = [
        Cloud::Public,
        Cloud::China,
        Cloud::UsGov,
        Cloud::Bleu,
        Cloud::Delos,
    ];

    /// The name on the command line.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Cloud::Public => "public",
            Cloud::China => "china",
            Cloud::UsGov => "usgov",
            Cloud::Bleu => "bleu",
            Cloud::Delos => "delos",
        }
    }

    /// The DNS suffix every vault of this cloud lives under.
    pub(crate) fn vault_suffix(self) -> &'static str {
        match self {
            Cloud::Public => "vault.azure.net",
            Cloud::China => "vault.azure.cn",
            Cloud::UsGov => "vault.usgovcloudapi.net",
            Cloud::Bleu => "vault.sovcloud-api.fr",
            Cloud::Delos => "vault.sovcloud-api.de",
        }
    }

    /// The token scope for Key Vault in this cloud.
    pub(crate) fn vault_scope(self) -> &'static str {
        match self {
            Cloud::Public => "https://vault.azure.net/.default",
            Cloud::China => "https://vault.azure.cn/.default",
            Cloud::UsGov => "https://vault.usgovcloudapi.net/.default",
            Cloud::Bleu => "https://vault.sovcloud-api.fr/.default",
            Cloud::Delos => "https://vault.sovcloud-api.de/.default",
        }
    }

    /// The DNS suffixes App Configuration stores of this cloud live under: the
    /// current `appconfig` domain and the older `azconfig` one, as the Azure
    /// SDKs' audience rules list them. None where no suffix is documented.
    pub(crate) fn appconfig_suffixes(self) -> &'static [&'static str] {
        match self {
            Cloud::Public => &["azconfig.io", "appconfig.azure.com"],
            Cloud::China => &["azconfig.azure.cn", "appconfig.azure.cn"],
            Cloud::UsGov => &["azconfig.azure.us", "appconfig.azure.us"],
            Cloud::Bleu | Cloud::Delos => &[],
        }
    }

    /// The token scope for App Configuration in this cloud, where it is documented.
    pub(crate) fn appconfig_scope(self) -> Option<&'static str> {
        match self {
            Cloud::Public => Some("https://appconfig.azure.com/.default"),
            Cloud::China => Some("https://appconfig.azure.cn/.default"),
            Cloud::UsGov => Some("https://appconfig.azure.us/.default"),
            Cloud::Bleu | Cloud::Delos => None,
        }
    }

    /// The Entra ID authority host, unless `AZURE_AUTHORITY_HOST` overrides it.
    pub(crate) fn authority_host(self) -> &'static str {
        match self {
            Cloud::Public => "https://login.microsoftonline.com",
            Cloud::China => "https://login.chinacloudapi.cn",
            Cloud::UsGov => "https://login.microsoftonline.us",
            Cloud::Bleu => "https://login.sovcloud-identity.fr",
            Cloud::Delos => "https://login.sovcloud-identity.de",
        }
    }
}
