//! Talking to Key Vault: one official `SecretClient` per vault over kvenv's
//! pipeline, a credential that only ever asks for the Key Vault audience, and
//! what a vault returned, checked. Which hosts may receive the token is in
//! `trust.rs`; turning failures into statuses and hints in `classify.rs`.

mod classify;
mod trust;

pub(crate) use classify::outcome_of_answer;
pub(crate) use trust::{trust, trust_host, AllowedHost, Trust};

use crate::audience::{same_audience, WrongAudience};
use crate::cloud::Cloud;
use crate::error::{chain, Error, Failure, Status};
use crate::reference::{HostAddr, SecretRef};
use crate::secret::SecretBytes;
use azure_core::credentials::TokenCredential;
use azure_core::error::ErrorKind;
use azure_security_keyvault_secrets::models::SecretClientGetSecretOptions;
use azure_security_keyvault_secrets::{SecretClient, SecretClientOptions};
use std::sync::Arc;

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

/// The Key Vault data-plane API version kvenv speaks, pinned here so that an
/// upgrade of the crate cannot change what is sent to vaults unnoticed.
pub(crate) const API_VERSION: &str = "2025-07-01";

pub(crate) fn client(
    vault: &HostAddr,
    trust: Trust,
    cloud: Cloud,
    http: &reqwest::Client,
    credential: Arc<dyn TokenCredential>,
    renew: crate::http::RenewToken,
) -> Result<SecretClient, Error> {
    let credential: Arc<dyn TokenCredential> = Arc::new(VaultScopeOnly {
        inner: credential,
        scope: cloud.vault_scope(),
        host: vault.to_string(),
    });
    let mut policies: Vec<Arc<dyn azure_core::http::policies::Policy>> = vec![
        Arc::new(crate::http::ClaimsChallengePolicy {
            renew,
            scope: cloud.vault_scope(),
        }),
        Arc::new(crate::http::AudiencePolicy {
            scope: cloud.vault_scope(),
        }),
    ];
    if trust == Trust::CloudSuffix {
        policies.push(Arc::new(crate::http::PreauthPolicy {
            credential: credential.clone(),
            scope: cloud.vault_scope(),
        }));
    }
    let options = SecretClientOptions {
        api_version: API_VERSION.to_string(),
        client_options: crate::http::client_options(http, crate::http::REMOTE_BODY_MAX, policies),
        verify_challenge_resource: Some(trust == Trust::CloudSuffix),
    };
    SecretClient::new(&vault.url(), credential, Some(options))
        .map_err(|e| Error::internal(format!("Key Vault client for {vault}"), chain(&e)))
}

/// A fetched secret and the version the vault actually returned.
#[derive(Debug)]
pub(crate) struct Fetched {
    pub value: SecretBytes,
    /// The version from the returned `id`, when it is one Key Vault issues.
    pub version: Option<String>,
    /// Something odd about the answer that did not stop it (for `check`).
    pub warning: Option<String>,
    /// When it stops being valid: tokens (`--token`) only.
    pub expires_on: Option<azure_core::time::OffsetDateTime>,
    /// What the vault says about a secret besides its value.
    pub meta: Meta,
}

/// A secret's `contentType` and attributes, as the vault returned them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Meta {
    /// Printable, at most 255 characters (Key Vault's own limit).
    pub content_type: Option<String>,
    pub enabled: Option<bool>,
    pub not_before: Option<azure_core::time::OffsetDateTime>,
    pub expires: Option<azure_core::time::OffsetDateTime>,
}

impl Meta {
    /// Why the secret is not valid at `now`, if it is not: its expiry has
    /// passed, or its activation date is ahead.
    pub(crate) fn invalid_at(
        &self,
        now: azure_core::time::OffsetDateTime,
    ) -> Option<(Status, String)> {
        match (self.not_before, self.expires) {
            (_, Some(exp)) if exp <= now => Some((
                Status::SecretExpired,
                format!("expired {} (exp)", azure_core::time::to_rfc3339(&exp)),
            )),
            (Some(nbf), _) if nbf > now => Some((
                Status::SecretNotYetValid,
                format!(
                    "not valid before {} (nbf)",
                    azure_core::time::to_rfc3339(&nbf)
                ),
            )),
            _ => None,
        }
    }
}

/// What Key Vault issues as a version: 32 hexadecimal characters.
fn is_version(text: &str) -> bool {
    text.len() == 32 && text.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Reads the version out of the `id` the vault returned, and checks that the
/// id names the vault and secret that were asked for.
pub(super) fn version_of(
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
pub(crate) async fn fetch(
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
        .map_err(|e| classify::classify(&e, secret, &identity()))?;
    answer(response, secret)
}

/// A 200 answer for `secret`: the value (ours at once), and the version from
/// the returned id, which must name what was asked for.
fn answer(
    response: azure_core::http::Response<azure_security_keyvault_secrets::models::Secret>,
    secret: &SecretRef,
) -> Result<Fetched, Failure> {
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
    let attributes = model.attributes.unwrap_or_default();
    let meta = Meta {
        content_type: model
            .content_type
            .map(|ct| crate::error::printable(&ct.chars().take(255).collect::<String>())),
        enabled: attributes.enabled,
        not_before: attributes.not_before,
        expires: attributes.expires,
    };
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
        expires_on: None,
        meta,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(name: &str, version: Option<&str>) -> SecretRef {
        SecretRef {
            vault: HostAddr::at("v.vault.azure.net", None),
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
}
