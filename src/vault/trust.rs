//! Which hosts may receive the token, decided before any connection: hosts
//! under the cloud's Key Vault suffix, and hosts named by `--allow-host`.

use crate::cloud::Cloud;
use crate::error::{Failure, Status};
use crate::reference::HostAddr;

/// A host named by `--allow-host HOST[:PORT]`; without a port, any port of that host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct AllowedHost {
    host: String,
    port: Option<u16>,
}

impl AllowedHost {
    pub(crate) fn parse(text: &str) -> Result<AllowedHost, String> {
        let text = text.trim();
        if text.is_empty() || text.contains(['/', '@', '?', '#', ' ']) {
            return Err(format!(
                "'{}' is not HOST or HOST:PORT",
                crate::error::printable(text)
            ));
        }
        let url = url::Url::parse(&format!("https://{text}/")).map_err(|e| {
            format!(
                "'{}' is not HOST or HOST:PORT: {e}",
                crate::error::printable(text)
            )
        })?;
        let host = url
            .host_str()
            .filter(|h| !h.is_empty())
            .ok_or("empty host")?;
        let explicit_port = text
            .rsplit_once(':')
            .is_some_and(|(_, p)| p.chars().all(|c| c.is_ascii_digit()));
        Ok(AllowedHost {
            host: host.to_string(),
            port: explicit_port.then(|| url.port_or_known_default()).flatten(),
        })
    }

    fn allows(&self, vault: &HostAddr) -> bool {
        self.host == vault.host && self.port.is_none_or(|p| p == vault.port.unwrap_or(443))
    }
}

/// Why a host may receive the token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Trust {
    /// Under the cloud's Key Vault suffix: keep the SDK's challenge-resource check.
    CloudSuffix,
    /// Named by `--allow-host`: the allow-list is the guard.
    AllowListed,
}

/// Decides, before any connection, whether `vault` may receive a token.
pub(crate) fn trust(
    vault: &HostAddr,
    cloud: Cloud,
    allowed: &[AllowedHost],
) -> Result<Trust, Failure> {
    trust_host(vault, &[cloud.vault_suffix()], allowed, "vault")
}

/// Whether `host` may receive a token: under one of `suffixes` (a real
/// subdomain, not an IP literal), or named by `--allow-host`. `what` names the
/// service in the refusal ("vault", "App Configuration store").
pub(crate) fn trust_host(
    addr: &HostAddr,
    suffixes: &[&str],
    allowed: &[AllowedHost],
    what: &str,
) -> Result<Trust, Failure> {
    let host = addr.host.as_str();
    let under = |suffix: &str| {
        host.len() > suffix.len() + 1
            && host.ends_with(suffix)
            && host.as_bytes()[host.len() - suffix.len() - 1] == b'.'
            && !host.starts_with('.')
            && host.parse::<std::net::IpAddr>().is_err()
    };
    if suffixes.iter().any(|s| under(s)) {
        return Ok(Trust::CloudSuffix);
    }
    if allowed.iter().any(|a| a.allows(addr)) {
        return Ok(Trust::AllowListed);
    }
    let listed: Vec<String> = suffixes.iter().map(|s| format!(".{s}")).collect();
    Err(Failure::new(
        Status::HostNotAllowed,
        format!(
            "{what} host {addr} is not under {} and not named by --allow-host; kvenv sends its token only to those",
            listed.join(" or ")
        ),
    )
    .hint(format!("add --allow-host {addr} if you trust it")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(host: &str, port: Option<u16>) -> HostAddr {
        HostAddr::at(host, port)
    }

    fn allowed(list: &[&str]) -> Vec<AllowedHost> {
        list.iter()
            .map(|a| AllowedHost::parse(a).unwrap())
            .collect()
    }

    #[test]
    fn suffix_hosts_are_trusted_look_alikes_are_not() {
        let none = allowed(&[]);
        assert_eq!(
            trust(&addr("myvault.vault.azure.net", None), Cloud::Public, &none),
            Ok(Trust::CloudSuffix)
        );
        let stores = Cloud::Public.appconfig_suffixes();
        assert!(trust_host(&addr("s.azconfig.io", None), stores, &none, "store").is_ok());
        assert!(trust_host(&addr("s.appconfig.azure.com", None), stores, &none, "store").is_ok());
        for host in [
            "s.azconfig.io.evil.example",
            "azconfig.io",
            "s.azconfig.azure.us",
            "myazconfig.io",
        ] {
            assert!(
                trust_host(&addr(host, None), stores, &none, "store").is_err(),
                "{host}"
            );
        }
        for host in [
            "vault.azure.net",
            "myvault.vault.azure.net.evil.example",
            "myvaultvault.azure.net",
            "myvault.vault.azure.net.",
            "evil.example",
            "myvault.vault.azure.cn",
            "127.0.0.1",
        ] {
            assert!(
                trust(&addr(host, None), Cloud::Public, &none).is_err(),
                "{host}"
            );
        }
        assert_eq!(
            trust(&addr("v.vault.azure.cn", None), Cloud::China, &none),
            Ok(Trust::CloudSuffix)
        );
    }

    #[test]
    fn allow_list_matches_host_and_port() {
        let list = allowed(&["127.0.0.1:8443", "Vault.Internal"]);
        assert_eq!(
            trust(&addr("127.0.0.1", Some(8443)), Cloud::Public, &list),
            Ok(Trust::AllowListed)
        );
        assert!(trust(&addr("127.0.0.1", Some(9443)), Cloud::Public, &list).is_err());
        assert!(trust(&addr("127.0.0.1", None), Cloud::Public, &list).is_err());
        assert_eq!(
            trust(&addr("vault.internal", Some(1)), Cloud::Public, &list),
            Ok(Trust::AllowListed)
        );
        let list = allowed(&["kv.example:443"]);
        assert_eq!(
            trust(&addr("kv.example", None), Cloud::Public, &list),
            Ok(Trust::AllowListed)
        );
    }

    #[test]
    fn allow_host_rejects_urls() {
        for bad in ["", "https://x", "x/y", "u@x", "x y"] {
            assert!(AllowedHost::parse(bad).is_err(), "{bad}");
        }
        assert!(AllowedHost::parse("[::1]:8443").is_ok());
    }
}
