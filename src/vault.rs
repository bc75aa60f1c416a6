//! Talking to Key Vault: which hosts may receive the token (checked before any
//! request), one official `SecretClient` per vault over the shared transport,
//! and turning the service's answers into actionable failures.

use crate::audience::{same_audience, WrongAudience};
use crate::cloud::Cloud;
use crate::error::{chain, Error, Failure, Status};
use crate::http::TransportFailure;
use crate::reference::{SecretRef, VaultAddr};
use crate::secret::SecretBytes;
use azure_core::credentials::TokenCredential;
use azure_core::error::ErrorKind;
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

/// The credential the Key Vault client gets: whatever scope the SDK asks for,
/// only the cloud's Key Vault scope is ever requested from the identity.
#[derive(Debug)]
struct VaultScopeOnly {
    inner: Arc<dyn TokenCredential>,
    scope: &'static str,
    host: String,
}

#[async_trait::async_trait]
impl TokenCredential for VaultScopeOnly {
    async fn get_token(
        &self,
        scopes: &[&str],
        options: Option<azure_core::credentials::TokenRequestOptions<'_>>,
    ) -> azure_core::Result<azure_core::credentials::AccessToken> {
        match scopes {
            [asked] if same_audience(asked, self.scope) => {
                self.inner.get_token(&[self.scope], options).await
            }
            _ => Err(azure_core::Error::new(
                ErrorKind::Other,
                WrongAudience {
                    host: self.host.clone(),
                    asked: crate::error::printable(&scopes.join(" ")),
                    allowed: self.scope,
                },
            )),
        }
    }
}

pub fn client(
    vault: &VaultAddr,
    trust: Trust,
    cloud: Cloud,
    http: &reqwest::Client,
    credential: Arc<dyn TokenCredential>,
) -> Result<SecretClient, Error> {
    let credential: Arc<dyn TokenCredential> = Arc::new(VaultScopeOnly {
        inner: credential,
        scope: cloud.vault_scope(),
        host: vault.to_string(),
    });
    let mut policies: Vec<Arc<dyn azure_core::http::policies::Policy>> =
        vec![Arc::new(crate::http::AudiencePolicy {
            scope: cloud.vault_scope(),
        })];
    if trust == Trust::CloudSuffix {
        policies.push(Arc::new(crate::http::PreauthPolicy {
            credential: credential.clone(),
            scope: cloud.vault_scope(),
        }));
    }
    let options = SecretClientOptions {
        client_options: crate::http::client_options(http, crate::http::REMOTE_BODY_MAX, policies),
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
    /// The version from the returned `id`, when it is one Key Vault issues.
    pub version: Option<String>,
    /// Something odd about the answer that did not stop it (for `check`).
    pub warning: Option<String>,
}

/// What Key Vault issues as a version: 32 hexadecimal characters.
fn is_version(text: &str) -> bool {
    text.len() == 32 && text.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Reads the version out of the `id` the vault returned, and checks that the
/// id names the vault and secret that were asked for.
fn version_of(
    id: Option<&str>,
    secret: &SecretRef,
) -> Result<(Option<String>, Option<String>), Failure> {
    let Some(id) = id else {
        return Ok((
            None,
            Some("the vault's answer has no id, so the version is unknown".into()),
        ));
    };
    let wrong = || {
        Failure::new(
            Status::OtherReasons,
            format!(
                "vault {} answered for another vault or secret than '{}' (its id does not match); refused",
                secret.vault, secret.name
            ),
        )
    };
    let url = url::Url::parse(id).map_err(|_| wrong())?;
    let same_vault = url
        .host_str()
        .is_some_and(|h| h.eq_ignore_ascii_case(&secret.vault.host))
        && url.port_or_known_default() == Some(secret.vault.port.unwrap_or(443));
    let segments: Vec<&str> = url
        .path_segments()
        .map(|s| s.filter(|p| !p.is_empty()).collect())
        .unwrap_or_default();
    let (name, version) = match segments.as_slice() {
        ["secrets", name] => (*name, None),
        ["secrets", name, version] => (*name, Some(*version)),
        _ => return Err(wrong()),
    };
    if !same_vault || !name.eq_ignore_ascii_case(&secret.name) {
        return Err(wrong());
    }
    if let (Some(asked), Some(got)) = (&secret.version, version) {
        if !asked.eq_ignore_ascii_case(got) {
            return Err(wrong());
        }
    }
    Ok(match version {
        Some(v) if is_version(v) => (Some(v.to_ascii_lowercase()), None),
        Some(_) => (
            None,
            Some(
                "the vault returned a version that is not 32 hexadecimal characters; not shown"
                    .into(),
            ),
        ),
        None => (None, Some("the vault's id names no version".into())),
    })
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
    // The crate hands the value over as a plain String: ours at once.
    let value = model.value.map(SecretBytes::from_string);
    let (version, warning) = version_of(model.id.as_deref(), secret)?;
    let Some(value) = value else {
        return Err(Failure::new(
            Status::OtherReasons,
            format!("the vault returned no value for {secret}"),
        ));
    };
    Ok(Fetched {
        value,
        version,
        warning,
    })
}

/// What one answer (status and body) from a vault comes to, without a
/// network: the path `fetch` takes, for the fuzz target.
pub fn outcome_of_answer(status: u16, body: &[u8], secret: &SecretRef) -> Result<Fetched, Failure> {
    use azure_core::http::{headers::Headers, RawResponse, StatusCode};
    if status == 200 {
        let model: azure_security_keyvault_secrets::models::Secret = serde_json::from_slice(body)
            .map_err(|_| {
            Failure::new(
                Status::OtherReasons,
                format!("the vault's answer for {secret} could not be read"),
            )
        })?;
        let value = model.value.map(SecretBytes::from_string);
        let (version, warning) = version_of(model.id.as_deref(), secret)?;
        let value = value.ok_or_else(|| Failure::new(Status::OtherReasons, "no value"))?;
        return Ok(Fetched {
            value,
            version,
            warning,
        });
    }
    let raw = RawResponse::from_bytes(StatusCode::from(status), Headers::new(), body.to_vec());
    let error = azure_core::Error::with_message(
        ErrorKind::HttpResponse {
            status: StatusCode::from(status),
            error_code: None,
            raw_response: Some(Box::new(raw)),
        },
        "fuzzed answer",
    );
    Err(classify(&error, secret, "the identity"))
}

/// Turns an SDK error into a status and a one-line hint. Response bodies are
/// never echoed; only Key Vault's error code and inner code are read. Below
/// HTTP, the failure is found by type (see `http::TransportFailure`).
fn classify(error: &azure_core::Error, secret: &SecretRef, identity: &str) -> Failure {
    let vault = &secret.vault;
    if let Some(wrong) = crate::http::find::<WrongAudience>(error) {
        return Failure::new(
            Status::AccessToKeyVaultDenied,
            format!("refused: {wrong}; a vault that asks for another audience is not Key Vault"),
        );
    }
    if let Some(failure) = crate::http::find::<TransportFailure>(error) {
        return transport_failure(failure, secret);
    }
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
        _ => Failure::new(
            Status::OtherReasons,
            format!(
                "cannot get secret '{}' from {vault}: {}",
                secret.name,
                chain(error)
            ),
        ),
    }
}

/// The status and hint for a failure below HTTP.
fn transport_failure(failure: &TransportFailure, secret: &SecretRef) -> Failure {
    let vault = &secret.vault;
    match failure {
        TransportFailure::Dns(dns)
            if dns.reason == crate::dns::DnsReason::NotFound
                && dns.name.eq_ignore_ascii_case(&vault.host) =>
        {
            Failure::new(
                Status::VaultNotFound,
                format!(
                    "{} does not resolve; check the vault name and private DNS",
                    vault.host
                ),
            )
        }
        TransportFailure::Dns(dns) if dns.name.eq_ignore_ascii_case(&vault.host) => Failure::new(
            Status::OtherReasons,
            format!("{dns}; check /etc/resolv.conf and the network"),
        ),
        TransportFailure::Dns(dns) => Failure::new(
            Status::OtherReasons,
            format!(
                "{}, the proxy for {vault}, {}; check HTTPS_PROXY",
                dns.name, dns.reason
            ),
        ),
        TransportFailure::Tls { .. } => Failure::new(
            Status::OtherReasons,
            format!(
                "{failure}; if a proxy or private CA is in the way, pass its root with --ca-file"
            ),
        ),
        TransportFailure::Connect { .. } => Failure::new(
            Status::OtherReasons,
            format!("{failure}; check the host, port and network (firewall, private endpoint)"),
        ),
        TransportFailure::Timeout { .. } => Failure::new(
            Status::FetchTimedOut,
            format!("{failure} for secret '{}'", secret.name),
        ),
        _ => Failure::new(
            Status::OtherReasons,
            format!("{failure} (secret '{}')", secret.name),
        ),
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

    fn failure_for(failure: TransportFailure, name: &str) -> Failure {
        let secret = SecretRef {
            vault: addr("myvault.vault.azure.net", None),
            name: name.into(),
            version: None,
        };
        let error = azure_core::Error::new(ErrorKind::Other, failure)
            .with_context("non-transport error occurred which will not be retried");
        classify(&error, &secret, "the identity")
    }

    // Regression: failures were classified by searching the error text, which
    // holds the URL, so a secret named `tls-cert` on a closed port was "TLS".
    #[test]
    fn failures_are_classified_by_type_whatever_the_names_say() {
        let host = "myvault.vault.azure.net".to_string();
        let refused = failure_for(
            TransportFailure::Connect {
                host: host.clone(),
                reason: "connection refused".into(),
            },
            "tls-dns-timeout-certificate",
        );
        assert_eq!(refused.status, Status::OtherReasons);
        assert!(
            refused
                .detail
                .starts_with("cannot connect to myvault.vault.azure.net: connection refused"),
            "{}",
            refused.detail
        );
        let dns = failure_for(
            TransportFailure::Dns(crate::dns::DnsFailure {
                name: host.clone(),
                reason: crate::dns::DnsReason::NotFound,
            }),
            "connect-tls",
        );
        assert_eq!(dns.status, Status::VaultNotFound);
        assert_eq!(
            dns.detail,
            "myvault.vault.azure.net does not resolve; check the vault name and private DNS"
        );
        let proxy = failure_for(
            TransportFailure::Dns(crate::dns::DnsFailure {
                name: "proxy.corp".into(),
                reason: crate::dns::DnsReason::NotFound,
            }),
            "s",
        );
        assert!(
            proxy
                .detail
                .starts_with("proxy.corp, the proxy for myvault.vault.azure.net, does not resolve"),
            "{}",
            proxy.detail
        );
        let tls = failure_for(
            TransportFailure::Tls {
                host: host.clone(),
                reason: "invalid peer certificate: UnknownIssuer".into(),
            },
            "dns-connect",
        );
        assert!(
            tls.detail
                .starts_with("TLS with myvault.vault.azure.net failed")
                && tls.detail.contains("--ca-file"),
            "{}",
            tls.detail
        );
        let timeout = failure_for(TransportFailure::Timeout { host: host.clone() }, "tls");
        assert_eq!(timeout.status, Status::FetchTimedOut);
        let big = failure_for(TransportFailure::TooLarge { host, cap: 1 << 20 }, "timeout");
        assert!(
            big.detail.contains("larger than 1024 KiB"),
            "{}",
            big.detail
        );
    }

    fn secret(name: &str, version: Option<&str>) -> SecretRef {
        SecretRef {
            vault: addr("v.vault.azure.net", None),
            name: name.into(),
            version: version.map(str::to_string),
        }
    }

    #[test]
    fn returned_ids_must_name_what_was_asked_for() {
        let v = "ec96f02080254f109c51a1f14cdb1931";
        let ok = version_of(
            Some(&format!("https://v.vault.azure.net/secrets/db/{v}")),
            &secret("db", None),
        )
        .unwrap();
        assert_eq!(ok, (Some(v.to_string()), None));
        for id in [
            format!("https://other.vault.azure.net/secrets/db/{v}"),
            format!("https://v.vault.azure.net:8443/secrets/db/{v}"),
            format!("https://v.vault.azure.net/secrets/other/{v}"),
            format!("https://v.vault.azure.net/keys/db/{v}"),
            "not a url".to_string(),
        ] {
            assert_eq!(
                version_of(Some(&id), &secret("db", None))
                    .unwrap_err()
                    .status,
                Status::OtherReasons,
                "{id}"
            );
        }
        let pinned = secret("db", Some("0123456789abcdef0123456789abcdef"));
        assert!(version_of(
            Some(&format!("https://v.vault.azure.net/secrets/db/{v}")),
            &pinned
        )
        .is_err());
    }

    #[test]
    fn odd_versions_are_not_shown() {
        for odd in ["\u{1b}]0;pwned\u{7}", "x".repeat(70_000).as_str(), "0123"] {
            let id = format!(
                "https://v.vault.azure.net/secrets/db/{}",
                url::form_urlencoded::byte_serialize(odd.as_bytes()).collect::<String>()
            );
            let (version, warning) = version_of(Some(&id), &secret("db", None)).unwrap();
            assert_eq!(version, None);
            assert!(warning.unwrap().contains("not 32 hexadecimal"));
        }
    }

    #[test]
    fn allow_host_rejects_urls() {
        for bad in ["", "https://x", "x/y", "u@x", "x y"] {
            assert!(AllowedHost::parse(bad).is_err(), "{bad}");
        }
        assert!(AllowedHost::parse("[::1]:8443").is_ok());
    }
}
