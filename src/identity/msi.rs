//! kvenv's own managed-identity requests, where the official crate cannot be
//! used: IMDS (the crate hard-codes 169.254.169.254, ignores
//! `AZURE_POD_IDENTITY_AUTHORITY_HOST`, does not probe and retries for ~72 s)
//! and App Service with a resource id (`mi_res_id`, which the crate refuses).
//! The protocol is the one the official SDKs speak.

use super::UserAssigned;
use crate::http::Backoff;
use azure_core::credentials::{AccessToken, TokenCredential, TokenRequestOptions};
use azure_core::error::{Error, ErrorKind};
use azure_core::time::OffsetDateTime;
use serde::Deserialize;
use std::time::Duration;

/// Where the IMDS token endpoint is, honouring the override the other SDKs honour.
pub fn imds_url() -> String {
    let host = std::env::var("AZURE_POD_IDENTITY_AUTHORITY_HOST")
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "http://169.254.169.254".to_string());
    format!(
        "{}/metadata/identity/oauth2/token",
        host.trim_end_matches('/')
    )
}

#[derive(Debug, Clone)]
pub enum Flavor {
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

/// Where the Arc agent keeps its challenge files on Linux; no other file is read.
const ARC_TOKEN_FOLDER: &str = "/var/opt/azcmagent/tokens";
/// The agent's key files are small; anything larger is not one.
const ARC_KEY_MAX: u64 = 4096;

/// Reads the secret the Arc agent's challenge points at, after checking that
/// the path is a `.key` file directly inside the agent's token folder.
pub fn read_arc_key(challenge: &str, folder: &std::path::Path) -> Result<String, String> {
    let realm = challenge
        .trim()
        .strip_prefix("Basic realm=")
        .ok_or("the Azure Arc endpoint sent no 'Basic realm=' challenge")?
        .trim_matches('"');
    let path = std::path::Path::new(realm);
    if path.parent() != Some(folder) || path.extension().and_then(|e| e.to_str()) != Some("key") {
        return Err(format!(
            "the Azure Arc challenge file is not a .key file in {}; refusing to read it",
            folder.display()
        ));
    }
    let size = std::fs::metadata(path)
        .map_err(|e| format!("the Azure Arc challenge file cannot be read: {e}"))?
        .len();
    if size > ARC_KEY_MAX {
        return Err(format!(
            "the Azure Arc challenge file is larger than {ARC_KEY_MAX} bytes; refusing it"
        ));
    }
    std::fs::read_to_string(path)
        .map_err(|e| format!("the Azure Arc challenge file cannot be read: {e}"))
}

pub struct MsiCredential {
    client: reqwest::Client,
    flavor: Flavor,
    id: Option<UserAssigned>,
    backoff: Backoff,
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

#[derive(Deserialize, Default)]
#[serde(default)]
struct ErrorResponse {
    error: Option<serde_json::Value>,
    error_description: Option<String>,
    message: Option<String>,
}

impl MsiCredential {
    pub fn new(client: reqwest::Client, flavor: Flavor, id: Option<UserAssigned>) -> MsiCredential {
        MsiCredential {
            client,
            flavor,
            id,
            backoff: Backoff::default(),
        }
    }

    fn request(&self, resource: &str) -> azure_core::Result<reqwest::RequestBuilder> {
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
            Flavor::Imds { url } => (url, "2018-02-01"),
            Flavor::AppService { url, .. } => (url, "2019-08-01"),
            Flavor::Arc { url } => (url, "2020-06-01"),
            Flavor::CloudShell { url } => {
                let body = url::form_urlencoded::Serializer::new(String::new())
                    .append_pair("resource", resource)
                    .finish();
                return Ok(self
                    .client
                    .post(url.as_str())
                    .header("Metadata", "true")
                    .header("Content-Type", "application/x-www-form-urlencoded")
                    .body(body));
            }
        };
        let mut query = vec![("api-version", api_version), ("resource", resource)];
        query.extend(id);
        let mut url = url::Url::parse(url).map_err(|e| {
            Error::with_message(
                ErrorKind::Credential,
                format!("the managed identity endpoint is not a valid URL: {e}"),
            )
        })?;
        url.query_pairs_mut().extend_pairs(query);
        let request = self.client.get(url);
        Ok(match &self.flavor {
            Flavor::AppService { header, .. } => request.header("X-IDENTITY-HEADER", header),
            _ => request.header("Metadata", "true"),
        })
    }

    async fn fetch(&self, resource: &str) -> azure_core::Result<AccessToken> {
        let mut attempt = 0;
        loop {
            let outcome = self.request(resource)?.send().await;
            let retry_after = match outcome {
                Ok(response)
                    if response.status().as_u16() == 401
                        && matches!(self.flavor, Flavor::Arc { .. }) =>
                {
                    return self.answer_arc_challenge(resource, &response).await;
                }
                Ok(response) => {
                    let status = response.status().as_u16();
                    // IMDS guidance: retry 404 (identity not ready), 410, 429 and 5xx.
                    let transient = matches!(status, 404 | 410 | 429 | 500..=599);
                    if response.status().is_success() {
                        return parse_token(response).await;
                    }
                    if !transient || attempt >= self.backoff.max_retries() {
                        return Err(failure(response).await);
                    }
                    tracing::debug!(status, attempt, "identity endpoint asked for a retry");
                    retry_after_header(&response)
                }
                Err(e)
                    if attempt < self.backoff.max_retries()
                        && (e.is_connect() || e.is_timeout() || e.is_request()) =>
                {
                    tracing::debug!(attempt, error = %crate::error::chain(&e), "identity endpoint unreachable; retrying");
                    None
                }
                Err(e) => {
                    return Err(Error::with_message(
                        ErrorKind::Credential,
                        format!(
                            "cannot reach the managed identity endpoint: {}",
                            crate::error::chain(&e)
                        ),
                    ))
                }
            };
            attempt += 1;
            let wait = match retry_after {
                Some(after) => self.backoff.after(after),
                None => self.backoff.delay(attempt),
            };
            tokio::time::sleep(wait).await;
        }
    }
}

impl MsiCredential {
    async fn answer_arc_challenge(
        &self,
        resource: &str,
        challenge: &reqwest::Response,
    ) -> azure_core::Result<AccessToken> {
        let header = challenge
            .headers()
            .get("www-authenticate")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        let key = read_arc_key(header, std::path::Path::new(ARC_TOKEN_FOLDER))
            .map(crate::secret::SecretBytes::from_string)
            .map_err(|e| Error::with_message(ErrorKind::Credential, e))?;
        let mut authorization = crate::secret::SecretBytes::with_capacity(6 + key.len());
        authorization.push(b"Basic ");
        authorization.push(key.expose());
        let value =
            reqwest::header::HeaderValue::from_bytes(authorization.expose()).map_err(|_| {
                Error::with_message(
                    ErrorKind::Credential,
                    "the Azure Arc key file holds characters a header cannot carry",
                )
            })?;
        let response = self
            .request(resource)?
            .header("Authorization", value)
            .send()
            .await
            .map_err(|e| {
                Error::with_message(
                    ErrorKind::Credential,
                    format!(
                        "cannot reach the Azure Arc endpoint: {}",
                        crate::error::chain(&e)
                    ),
                )
            })?;
        if response.status().is_success() {
            parse_token(response).await
        } else {
            Err(failure(response).await)
        }
    }
}

fn retry_after_header(response: &reqwest::Response) -> Option<Duration> {
    response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs)
}

async fn parse_token(response: reqwest::Response) -> azure_core::Result<AccessToken> {
    let body = response.bytes().await.map_err(|e| {
        Error::with_message(
            ErrorKind::Credential,
            format!(
                "reading the token response failed: {}",
                crate::error::chain(&e)
            ),
        )
    })?;
    // Never echo the body: it holds the token.
    let parsed: TokenResponse = serde_json::from_slice(&body).map_err(|_| {
        Error::with_message(
            ErrorKind::Credential,
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
                .map(|s| now + azure_core::time::Duration::seconds(s))
        })
        .unwrap_or(now + azure_core::time::Duration::minutes(5));
    if parsed.access_token.is_empty() {
        return Err(Error::with_message(
            ErrorKind::Credential,
            "the managed identity endpoint returned an empty token",
        ));
    }
    Ok(AccessToken::new(parsed.access_token, expires_on))
}

async fn failure(response: reqwest::Response) -> Error {
    let status = response.status().as_u16();
    let body = response.bytes().await.unwrap_or_default();
    let parsed: ErrorResponse = serde_json::from_slice(&body).unwrap_or_default();
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
    Error::with_message(
        ErrorKind::Credential,
        format!("the managed identity endpoint answered HTTP {status}{said}{hint}"),
    )
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arc_key_must_be_a_small_key_file_in_the_agent_folder() {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("abc.key");
        std::fs::write(&key, "arc-secret").unwrap();
        let ok = read_arc_key(&format!("Basic realm={}", key.display()), dir.path());
        assert_eq!(ok.unwrap(), "arc-secret");
        for bad in [
            "Bearer realm=/x".to_string(),
            format!("Basic realm={}/../abc.key", dir.path().display()),
            format!("Basic realm={}/abc.txt", dir.path().display()),
            "Basic realm=/etc/shadow".to_string(),
        ] {
            assert!(read_arc_key(&bad, dir.path()).is_err(), "{bad}");
        }
        let big = dir.path().join("big.key");
        std::fs::write(&big, vec![b'x'; 5000]).unwrap();
        let err = read_arc_key(&format!("Basic realm={}", big.display()), dir.path()).unwrap_err();
        assert!(err.contains("larger"), "{err}");
    }
}
