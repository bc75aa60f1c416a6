//! Talking to Key Vault: which hosts may receive the token (checked before any
//! request), one official `SecretClient` per vault over the shared transport,
//! and turning the service's answers into actionable failures.

use crate::cloud::Cloud;
use crate::error::{chain, Error, Failure, Status};
use crate::reference::{SecretRef, VaultAddr};
use crate::secret::SecretBytes;
use azure_core::credentials::TokenCredential;
use azure_core::error::ErrorKind;
use azure_core::http::{ClientOptions, RetryOptions, Transport};
use azure_security_keyvault_secrets::models::SecretClientGetSecretOptions;
use azure_security_keyvault_secrets::{SecretClient, SecretClientOptions};
use std::sync::Arc;

/// A host named by `--allow-host HOST[:PORT]`; without a port, any port of that host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AllowedHost {
    host: String,
    port: Option<u16>,
}

impl AllowedHost {
    pub fn parse(text: &str) -> Result<AllowedHost, String> {
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

    fn allows(&self, vault: &VaultAddr) -> bool {
        self.host == vault.host && self.port.is_none_or(|p| p == vault.port.unwrap_or(443))
    }
}

/// Why a host may receive the token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trust {
    /// Under the cloud's Key Vault suffix: keep the SDK's challenge-resource check.
    CloudSuffix,
    /// Named by `--allow-host`: the allow-list is the guard.
    AllowListed,
}

/// Decides, before any connection, whether `vault` may receive a token.
pub fn trust(vault: &VaultAddr, cloud: Cloud, allowed: &[AllowedHost]) -> Result<Trust, Failure> {
    let suffix = cloud.vault_suffix();
    let host = vault.host.as_str();
    let under_suffix = host.len() > suffix.len() + 1
        && host.ends_with(suffix)
        && host.as_bytes()[host.len() - suffix.len() - 1] == b'.'
        && !host.starts_with('.')
        && host.parse::<std::net::IpAddr>().is_err();
    if under_suffix {
        return Ok(Trust::CloudSuffix);
    }
    if allowed.iter().any(|a| a.allows(vault)) {
        return Ok(Trust::AllowListed);
    }
    Err(Failure::new(
        Status::HostNotAllowed,
        format!(
            "vault host {vault} is not under .{suffix} and not named by --allow-host; kvenv sends its token only to those (add --allow-host {vault} if you trust it)"
        ),
    ))
}

pub fn client(
    vault: &VaultAddr,
    trust: Trust,
    cloud: Cloud,
    http: &reqwest::Client,
    credential: Arc<dyn TokenCredential>,
) -> Result<SecretClient, Error> {
    let wire = crate::http::Wire {
        client: http.clone(),
        preauth: (trust == Trust::CloudSuffix).then(|| (credential.clone(), cloud.vault_scope())),
    };
    let options = SecretClientOptions {
        client_options: ClientOptions {
            transport: Some(Transport::new(Arc::new(wire))),
            retry: RetryOptions::custom(Arc::new(crate::http::Backoff::default())),
            ..Default::default()
        },
        verify_challenge_resource: Some(trust == Trust::CloudSuffix),
        ..Default::default()
    };
    SecretClient::new(&vault.url(), credential, Some(options))
        .map_err(|e| Error::Internal(format!("Key Vault client for {vault}: {}", chain(&e))))
}

/// A fetched secret and the version the vault actually returned.
#[derive(Debug)]
pub struct Fetched {
    pub value: SecretBytes,
    pub version: Option<String>,
}

/// `identity` names the credential in use, for messages about access.
pub async fn fetch(
    client: &SecretClient,
    secret: &SecretRef,
    identity: &dyn Fn() -> String,
) -> Result<Fetched, Failure> {
    let options = SecretClientGetSecretOptions {
        secret_version: secret.version.clone(),
        ..Default::default()
    };
    let response = client
        .get_secret(&secret.name, Some(options))
        .await
        .map_err(|e| classify(&e, secret, &identity()))?;
    let model = response.into_model().map_err(|e| {
        Failure::new(
            Status::OtherReasons,
            format!(
                "the vault's answer for {secret} could not be read: {}",
                e.kind()
            ),
        )
    })?;
    let version = model
        .id
        .as_deref()
        .and_then(|id| id.trim_end_matches('/').rsplit('/').next())
        .filter(|v| *v != secret.name)
        .map(str::to_string);
    let Some(value) = model.value else {
        return Err(Failure::new(
            Status::OtherReasons,
            format!("the vault returned no value for {secret}"),
        ));
    };
    Ok(Fetched {
        value: SecretBytes::from_string(value),
        version,
    })
}

/// The innermost error's message: the OS's or the TLS library's own words.
fn root_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut last = error;
    while let Some(next) = last.source() {
        last = next;
    }
    crate::error::printable(&last.to_string())
}

/// Turns an SDK error into a status and a one-line hint. Response bodies are
/// never echoed; only Key Vault's error code and inner code are read.
fn classify(error: &azure_core::Error, secret: &SecretRef, identity: &str) -> Failure {
    let vault = &secret.vault;
    match error.kind() {
        ErrorKind::HttpResponse {
            status,
            raw_response,
            ..
        } => {
            let inner = raw_response
                .as_ref()
                .and_then(|r| serde_json::from_slice::<serde_json::Value>(r.body()).ok())
                .and_then(|v| {
                    v["error"]["innererror"]["code"]
                        .as_str()
                        .map(str::to_string)
                });
            let code = u16::from(*status);
            match code {
                404 if secret.version.is_some() => Failure::new(
                    Status::SecretVersionNotFound,
                    format!("version {} of secret '{}' was not found in vault {vault} (HTTP 404); check SecretVersion", secret.version.as_deref().unwrap_or_default(), secret.name),
                ),
                404 => Failure::new(
                    Status::SecretNotFound,
                    format!("secret '{}' was not found in vault {vault} (HTTP 404); check the name, or whether it was deleted", secret.name),
                ),
                403 if inner.as_deref() == Some("SecretDisabled") => Failure::new(
                    Status::OtherReasons,
                    format!("secret '{}' in vault {vault} is disabled (HTTP 403); enable it or pin an enabled version", secret.name),
                ),
                403 => Failure::new(
                    Status::AccessToKeyVaultDenied,
                    format!("{identity} may not read secret '{}' in vault {vault} (HTTP 403); grant it the \"Key Vault Secrets User\" role on the vault, or an access policy with Get on secrets", secret.name),
                ),
                401 => Failure::new(
                    Status::AccessToKeyVaultDenied,
                    format!("vault {vault} rejected the token of {identity} (HTTP 401); check the tenant (--tenant-id) and the cloud (--cloud)"),
                ),
                _ => Failure::new(
                    Status::OtherReasons,
                    format!("vault {vault} answered HTTP {code} for secret '{}' after retries", secret.name),
                ),
            }
        }
        ErrorKind::Credential => Failure::new(
            Status::MSINotEnabled,
            format!(
                "no token for vault {vault} from {identity}: {}",
                chain(error)
            ),
        ),
        _ => {
            let text = chain(error);
            let root = root_cause(error);
            let lower = text.to_ascii_lowercase();
            if lower.contains("dns error")
                || lower.contains("failed to lookup")
                || lower.contains("name or service not known")
            {
                Failure::new(
                    Status::VaultNotFound,
                    format!(
                        "{} does not resolve; check the vault name and private DNS",
                        vault.host
                    ),
                )
            } else if lower.contains("certificate") || lower.contains("tls") {
                Failure::new(Status::OtherReasons, format!("TLS with {vault} failed: {root}; if a proxy or private CA is in the way, pass its root with --ca-file"))
            } else if lower.starts_with("cannot connect") {
                Failure::new(
                    Status::OtherReasons,
                    format!("cannot connect to {vault}: {root}; check the host, port and network (firewall, private endpoint)"),
                )
            } else if lower.contains("challenge resource") {
                Failure::new(
                    Status::OtherReasons,
                    format!(
                        "vault {vault} asked for a token for another resource; refused: {text}"
                    ),
                )
            } else {
                Failure::new(
                    Status::OtherReasons,
                    format!("cannot get secret '{}' from {vault}: {text}", secret.name),
                )
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(host: &str, port: Option<u16>) -> VaultAddr {
        VaultAddr {
            host: host.into(),
            port,
        }
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

    fn failure_for(message: &str) -> Failure {
        let secret = SecretRef {
            vault: addr("myvault.vault.azure.net", None),
            name: "s".into(),
            version: None,
        };
        let error = azure_core::Error::with_message(ErrorKind::Other, message.to_string());
        classify(&error, &secret, "the identity")
    }

    // Connection-level failures, as the HTTP stack words them, get the status and
    // hint an operator needs (a real DNS failure cannot be produced offline).
    #[test]
    fn connection_failures_are_named() {
        let dns = failure_for("cannot connect: dns error: no record found for Query { name: Name(\"myvault.vault.azure.net.\") }");
        assert_eq!(dns.status, Status::VaultNotFound);
        assert_eq!(
            dns.detail,
            "myvault.vault.azure.net does not resolve; check the vault name and private DNS"
        );
        let tls = failure_for("cannot connect: invalid peer certificate: UnknownIssuer");
        assert_eq!(tls.status, Status::OtherReasons);
        assert!(
            tls.detail
                .contains("TLS with myvault.vault.azure.net failed")
                && tls.detail.contains("--ca-file"),
            "{}",
            tls.detail
        );
        let refused = failure_for("cannot connect: Connection refused (os error 111)");
        assert!(
            refused
                .detail
                .starts_with("cannot connect to myvault.vault.azure.net"),
            "{}",
            refused.detail
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
