//! App Configuration references: a small client for one key-value over the
//! same pipeline as every other request (fixed audience, pre-authorisation,
//! body caps, retries with `retry-after-ms`, one log line). There is no
//! official Rust crate for App Configuration's data plane.
//!
//! `GET {endpoint}/kv/{key}?label={label}&api-version=1.0`; no label means the
//! key-value without a label (`label=%00`), as App Service reads it. A
//! key-value whose content type is a Key Vault reference is followed to that
//! secret by the caller (`resolve/`), through every Key Vault rule.

mod classify;

use crate::cloud::Cloud;
use crate::error::{Failure, Status};
use crate::http::{AudiencePolicy, PreauthPolicy};
use crate::reference::{ConfigRef, HostAddr, SecretRef};
use crate::secret::SecretBytes;
use azure_core::credentials::TokenCredential;
use azure_core::http::{Context, Method, Pipeline, PipelineSendOptions, Request, Url};
pub(crate) use classify::chained_failure;
use classify::{http_failure, transport};
use std::sync::Arc;

const API_VERSION: &str = "1.0";
/// The content type App Configuration gives a Key Vault reference.
const KEY_VAULT_REFERENCE: &str = "application/vnd.microsoft.appconfig.keyvaultref+json";

/// What a key-value turned out to be.
pub(crate) enum KeyValue {
    /// A plain value, already in kvenv's secret type.
    Value(SecretBytes),
    /// A Key Vault reference, to be fetched as a secret.
    KeyVault(SecretRef),
}

/// One store's client.
pub(crate) struct Store {
    pipeline: Pipeline,
    addr: HostAddr,
}

/// A client for the store at `addr`; the token is always the cloud's App
/// Configuration audience, requested by kvenv, never named by the store.
pub(crate) fn store(
    addr: &HostAddr,
    scope: &'static str,
    http: &reqwest::Client,
    credential: Arc<dyn TokenCredential>,
) -> Store {
    let policies: Vec<Arc<dyn azure_core::http::policies::Policy>> = vec![
        Arc::new(AudiencePolicy { scope }),
        Arc::new(PreauthPolicy { credential, scope }),
    ];
    let options = crate::http::client_options(http, crate::http::REMOTE_BODY_MAX, policies);
    Store {
        pipeline: crate::http::pipeline_of(options),
        addr: addr.clone(),
    }
}

/// App Configuration in a cloud whose store suffix and token audience are
/// not documented: no token is sent to a store there.
pub(crate) fn undocumented_cloud(cloud: Cloud) -> Failure {
    Failure::new(
        Status::HostNotAllowed,
        format!(
            "App Configuration in the {} cloud is not supported yet: its store suffix and token audience are not documented, so kvenv sends no token to a store there",
            cloud.name()
        ),
    )
    .hint("put the value in a Key Vault secret and reference that")
}

/// `{endpoint}/kv/{key}?label=...&api-version=1.0`, the key as one path segment
/// (so `/`, `:`, spaces and unicode are percent-encoded, never path syntax).
fn url(addr: &HostAddr, r: &ConfigRef) -> Result<Url, Failure> {
    let mut url = Url::parse(&addr.url()).map_err(|e| {
        Failure::new(
            Status::InvalidSyntax,
            format!("store {addr} is not a usable URL: {e}"),
        )
    })?;
    url.path_segments_mut()
        .map_err(|_| {
            Failure::new(
                Status::InvalidSyntax,
                format!("store {addr} is not a usable URL"),
            )
        })?
        .clear()
        .push("kv")
        .push(&r.key);
    url.query_pairs_mut()
        .append_pair("label", r.label.as_deref().unwrap_or("\0"))
        .append_pair("api-version", API_VERSION);
    Ok(url)
}

/// The parts of a key-value kvenv reads.
#[derive(serde::Deserialize)]
struct Body {
    #[serde(default)]
    content_type: Option<String>,
    #[serde(default)]
    value: Option<String>,
}

impl Drop for Body {
    fn drop(&mut self) {
        if let Some(value) = &mut self.value {
            zeroize::Zeroize::zeroize(value);
        }
    }
}

/// Fetches one key-value. `identity` names the credential, for messages about access.
pub(crate) async fn fetch(
    store: &Store,
    r: &ConfigRef,
    identity: &dyn Fn() -> String,
) -> Result<KeyValue, Failure> {
    let mut request = Request::new(url(&store.addr, r)?, Method::Get);
    request.insert_header(
        "accept",
        "application/vnd.microsoft.appconfig.kv+json, application/problem+json",
    );
    let options = PipelineSendOptions {
        skip_checks: true,
        ..Default::default()
    };
    let response = store
        .pipeline
        .send(&Context::new(), &mut request, Some(options))
        .await
        .map_err(|e| transport(&e, r))?;
    let (status, _, body) = response.deconstruct();
    match u16::from(status) {
        200 => key_value(body.as_ref(), r),
        code => Err(http_failure(code, r, &identity())),
    }
}

fn key_value(body: &[u8], r: &ConfigRef) -> Result<KeyValue, Failure> {
    let mut parsed: Body = serde_json::from_slice(body).map_err(|_| {
        Failure::new(
            Status::OtherReasons,
            format!("the answer for {r} is not a key-value"),
        )
    })?;
    let value = parsed.value.take().map(SecretBytes::from_string);
    let Some(value) = value else {
        return Err(Failure::new(
            Status::OtherReasons,
            format!("{r} has no value"),
        ));
    };
    let is_reference = parsed.content_type.as_deref().is_some_and(|ct| {
        ct.split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .eq_ignore_ascii_case(KEY_VAULT_REFERENCE)
    });
    if !is_reference {
        return Ok(KeyValue::Value(value));
    }
    #[derive(serde::Deserialize)]
    struct Link {
        uri: String,
    }
    let link: Link = serde_json::from_slice(value.expose()).map_err(|_| {
        Failure::new(
            Status::InvalidSyntax,
            format!("{r} is marked as a Key Vault reference but holds no {{\"uri\": ...}}"),
        )
    })?;
    crate::reference::parse_uri(&link.uri)
        .map(KeyValue::KeyVault)
        .map_err(|e| {
            Failure::new(
                Status::InvalidSyntax,
                format!("{r} holds a Key Vault reference that is not valid: {e}"),
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(key: &str, label: Option<&str>) -> ConfigRef {
        ConfigRef {
            store: HostAddr {
                host: "s.azconfig.io".into(),
                port: None,
            },
            key: key.into(),
            label: label.map(str::to_string),
        }
    }

    #[test]
    fn keys_are_one_path_segment_and_no_label_is_the_null_label() {
        let r = config("App:Db/Pass word ключ", None);
        assert_eq!(
            url(&r.store, &r).unwrap().as_str(),
            "https://s.azconfig.io/kv/App:Db%2FPass%20word%20%D0%BA%D0%BB%D1%8E%D1%87?label=%00&api-version=1.0"
        );
        let r = config("k", Some("prod west"));
        assert!(url(&r.store, &r)
            .unwrap()
            .as_str()
            .ends_with("/kv/k?label=prod+west&api-version=1.0"));
    }

    #[test]
    fn a_key_vault_reference_is_recognised_by_its_content_type() {
        let r = config("k", None);
        let body = br#"{"key":"k","content_type":"application/vnd.microsoft.appconfig.keyvaultref+json;charset=utf-8","value":"{\"uri\":\"https://v01.vault.azure.net/secrets/db\"}"}"#;
        match key_value(body, &r).unwrap() {
            KeyValue::KeyVault(s) => assert_eq!(
                (s.vault.host.as_str(), s.name.as_str()),
                ("v01.vault.azure.net", "db")
            ),
            KeyValue::Value(_) => panic!("not followed"),
        }
        let plain = br#"{"key":"k","content_type":"text/plain","value":"{\"uri\":\"https://x\"}"}"#;
        assert!(matches!(key_value(plain, &r).unwrap(), KeyValue::Value(_)));
        let broken = br#"{"content_type":"application/vnd.microsoft.appconfig.keyvaultref+json","value":"{\"uri\":\"http://v01.vault.azure.net/secrets/db\"}"}"#;
        let Err(f) = key_value(broken, &r) else {
            panic!("accepted")
        };
        assert_eq!(f.status, Status::InvalidSyntax);
        assert!(
            f.detail.contains("key 'k'") && f.detail.contains("https://"),
            "{}",
            f.detail
        );
    }
}
