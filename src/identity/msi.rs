//! kvenv's own managed-identity requests, where the official crate cannot be
//! used: IMDS (the crate hard-codes 169.254.169.254, ignores
//! `AZURE_POD_IDENTITY_AUTHORITY_HOST`, does not probe and retries for ~72 s)
//! and App Service with a resource id (`mi_res_id`, which the crate refuses).
//! The protocol is the one the official SDKs speak. Requests go through the
//! same transport as every other (one log format, typed failures, a 64 KiB
//! body cap) and the same backoff.

use super::UserAssigned;
use crate::http::{Backoff, TransportFailure};
use azure_core::credentials::{AccessToken, TokenCredential, TokenRequestOptions};
use azure_core::error::{Error, ErrorKind};
use azure_core::http::headers::HeaderName;
use azure_core::http::{Context, Method, Pipeline, PipelineSendOptions, Request};
use azure_core::time::OffsetDateTime;
use serde::Deserialize;

#[derive(Debug, Clone)]
pub(super) enum Flavor {
    /// Azure VM / VMSS / AKS node IMDS.
    Imds { url: String },
    /// App Service / Container Apps (`IDENTITY_ENDPOINT` + `IDENTITY_HEADER`).
    AppService { url: String, header: String },
    /// Azure Cloud Shell (`MSI_ENDPOINT`): a POST with a form body.
    CloudShell { url: String },
    /// Azure Arc (`IDENTITY_ENDPOINT` + `IMDS_ENDPOINT`): a challenge names a key
    /// file only the agent's group can read; its content authorizes the retry.
    Arc { url: String },
}

pub(super) struct MsiCredential {
    pipeline: Pipeline,
    flavor: Flavor,
    id: Option<UserAssigned>,
}

impl std::fmt::Debug for MsiCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match self.flavor {
            Flavor::Imds { .. } => "IMDS",
            Flavor::AppService { .. } => "App Service",
            Flavor::CloudShell { .. } => "Cloud Shell",
            Flavor::Arc { .. } => "Azure Arc",
        };
        f.debug_struct("MsiCredential")
            .field("kind", &kind)
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    #[serde(default)]
    expires_on: Option<serde_json::Value>,
    #[serde(default)]
    expires_in: Option<serde_json::Value>,
}

impl Drop for TokenResponse {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.access_token);
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ErrorResponse {
    error: Option<serde_json::Value>,
    error_description: Option<String>,
    message: Option<String>,
}

fn credential_error(message: impl Into<std::borrow::Cow<'static, str>>) -> Error {
    Error::with_message(ErrorKind::Credential, message)
}

/// What an identity endpoint sent back, body read in full (within the cap).
struct Answer {
    status: u16,
    challenge: Option<String>,
    body: crate::secret::SecretBytes,
}

const WWW_AUTHENTICATE: HeaderName = HeaderName::from_static("www-authenticate");

impl MsiCredential {
    pub(super) fn new(
        client: reqwest::Client,
        flavor: Flavor,
        id: Option<UserAssigned>,
    ) -> MsiCredential {
        MsiCredential {
            pipeline: crate::http::pipeline(
                &client,
                crate::http::LOCAL_BODY_MAX,
                Backoff::for_identity(),
            ),
            flavor,
            id,
        }
    }

    fn request(&self, resource: &str) -> azure_core::Result<Request> {
        let id = self.id.as_ref().and_then(|id| match (&self.flavor, id) {
            // Cloud Shell and Arc have only the system identity.
            (Flavor::CloudShell { .. } | Flavor::Arc { .. }, _) => None,
            (_, UserAssigned::ClientId(v)) => Some(("client_id", v.as_str())),
            (Flavor::Imds { .. }, UserAssigned::ObjectId(v)) => Some(("object_id", v.as_str())),
            (Flavor::Imds { .. }, UserAssigned::ResourceId(v)) => Some(("msi_res_id", v.as_str())),
            (Flavor::AppService { .. }, UserAssigned::ObjectId(v)) => {
                Some(("principal_id", v.as_str()))
            }
            (Flavor::AppService { .. }, UserAssigned::ResourceId(v)) => {
                Some(("mi_res_id", v.as_str()))
            }
        });
        let (url, api_version) = match &self.flavor {
            Flavor::Imds { url } => (url, Some("2018-02-01")),
            Flavor::AppService { url, .. } => (url, Some("2019-08-01")),
            Flavor::Arc { url } => (url, Some("2020-06-01")),
            Flavor::CloudShell { url } => (url, None),
        };
        let mut url = url::Url::parse(url).map_err(|e| {
            credential_error(format!(
                "the managed identity endpoint is not a valid URL: {e}"
            ))
        })?;
        let Some(api_version) = api_version else {
            let mut request = Request::new(url, Method::Post);
            let body = url::form_urlencoded::Serializer::new(String::new())
                .append_pair("resource", resource)
                .finish();
            request.insert_header("metadata", "true");
            request.insert_header("content-type", "application/x-www-form-urlencoded");
            request.set_body(body.into_bytes());
            return Ok(request);
        };
        let mut query = vec![("api-version", api_version), ("resource", resource)];
        query.extend(id);
        url.query_pairs_mut().extend_pairs(query);
        let mut request = Request::new(url, Method::Get);
        match &self.flavor {
            Flavor::AppService { header, .. } => {
                request.insert_header("x-identity-header", header.clone())
            }
            _ => request.insert_header("metadata", "true"),
        }
        Ok(request)
    }

    /// One exchange through the shared pipeline (log line, retries with
    /// backoff, typed failures, the body read within its cap).
    async fn send(&self, request: &mut Request) -> azure_core::Result<Answer> {
        let options = PipelineSendOptions {
            skip_checks: true,
            ..Default::default()
        };
        let response = match self
            .pipeline
            .send(&Context::new(), request, Some(options))
            .await
        {
            Ok(response) => response,
            Err(e) => {
                let why = crate::http::find::<TransportFailure>(&e)
                    .map_or_else(|| crate::error::chain(&e), |f| f.to_string());
                return Err(credential_error(format!(
                    "cannot reach the managed identity endpoint: {why}"
                )));
            }
        };
        let (status, headers, body) = response.deconstruct();
        Ok(Answer {
            status: u16::from(status),
            challenge: headers
                .get_optional_str(&WWW_AUTHENTICATE)
                .map(str::to_string),
            body: crate::secret::SecretBytes::new(body.to_vec()),
        })
    }

    async fn fetch(&self, resource: &str) -> azure_core::Result<AccessToken> {
        let answer = self.send(&mut self.request(resource)?).await?;
        match answer.status {
            401 if matches!(self.flavor, Flavor::Arc { .. }) => {
                self.answer_arc_challenge(resource, &answer).await
            }
            200..=299 => parse_token(&answer),
            _ => Err(failure(&answer)),
        }
    }

    async fn answer_arc_challenge(
        &self,
        resource: &str,
        challenge: &Answer,
    ) -> azure_core::Result<AccessToken> {
        let header = challenge.challenge.as_deref().unwrap_or_default();
        let key = super::arc::read_key(header, std::path::Path::new(super::arc::TOKEN_FOLDER))
            .map_err(|e| credential_error(e.to_string()))?;
        let key = std::str::from_utf8(key.expose())
            .ok()
            .filter(|k| k.bytes().all(|b| (0x20..0x7f).contains(&b)))
            .ok_or_else(|| {
                credential_error("the Azure Arc key file holds characters a header cannot carry")
            })?;
        let mut request = self.request(resource)?;
        // The header type takes a String: this copy lives as long as the request.
        request.insert_header("authorization", format!("Basic {key}"));
        let answer = self.send(&mut request).await?;
        if (200..300).contains(&answer.status) {
            parse_token(&answer)
        } else {
            Err(failure(&answer))
        }
    }
}

fn parse_token(answer: &Answer) -> azure_core::Result<AccessToken> {
    // Never echo the body: it holds the token.
    let parsed: TokenResponse = serde_json::from_slice(answer.body.expose()).map_err(|_| {
        credential_error(
            "the managed identity endpoint answered with something that is not a token response",
        )
    })?;
    let now = OffsetDateTime::now_utc();
    let number = |v: &serde_json::Value| match v {
        serde_json::Value::String(s) => s.trim().parse::<i64>().ok(),
        serde_json::Value::Number(n) => n.as_i64(),
        _ => None,
    };
    let expires_on = parsed
        .expires_on
        .as_ref()
        .and_then(number)
        .and_then(|t| OffsetDateTime::from_unix_timestamp(t).ok())
        .or_else(|| {
            parsed
                .expires_in
                .as_ref()
                .and_then(number)
                .and_then(|s| now.checked_add(azure_core::time::Duration::seconds(s)))
        })
        .unwrap_or(now + azure_core::time::Duration::minutes(5));
    if parsed.access_token.is_empty() {
        return Err(credential_error(
            "the managed identity endpoint returned an empty token",
        ));
    }
    Ok(AccessToken::new(parsed.access_token.clone(), expires_on))
}

fn failure(answer: &Answer) -> Error {
    let status = answer.status;
    let parsed: ErrorResponse = serde_json::from_slice(answer.body.expose()).unwrap_or_default();
    let said = parsed
        .error_description
        .or(parsed.message)
        .or_else(|| parsed.error.map(|e| e.to_string()))
        .map(|s| format!(": {}", crate::error::printable(&s)))
        .unwrap_or_default();
    let hint = match status {
        400 => "; is this identity assigned to the resource (check --client-id/--object-id/--resource-id)?",
        401 | 403 => "; is IDENTITY_HEADER right?",
        _ => "",
    };
    credential_error(format!(
        "the managed identity endpoint answered HTTP {status}{said}{hint}"
    ))
}

#[async_trait::async_trait]
impl TokenCredential for MsiCredential {
    async fn get_token(
        &self,
        scopes: &[&str],
        _options: Option<TokenRequestOptions<'_>>,
    ) -> azure_core::Result<AccessToken> {
        let [scope] = scopes else {
            return Err(Error::with_message(
                ErrorKind::Credential,
                "managed identity takes exactly one scope",
            ));
        };
        let resource = scope.strip_suffix("/.default").unwrap_or(scope);
        self.fetch(resource).await
    }
}
