//! The transport handed to the Azure crates: reqwest, with every failure turned
//! into a typed [`TransportFailure`], every response body capped while it
//! streams, and one log line per HTTP exchange at `-vv` (method, host, path,
//! status, duration; never headers, query values or bodies).
//!
//! Failures that retrying cannot mend (DNS, refused, TLS, an oversized answer)
//! are made final so that a wrong host fails in milliseconds instead of after a
//! round of retries; a reset or a stall mid-exchange stays retryable.

use super::failure::TransportFailure;
use azure_core::credentials::TokenCredential;
use azure_core::error::ErrorKind;
use azure_core::http::headers::{HeaderName, AUTHORIZATION, WWW_AUTHENTICATE};
use azure_core::http::{AsyncRawResponse, HttpClient, Request};
use futures::StreamExt;
use std::sync::Arc;

/// Bodies from Key Vault and Entra ID: a secret is at most 25 KB, a token a few.
pub const REMOTE_BODY_MAX: usize = 1 << 20;
/// Bodies from identity endpoints on the host: a token response is a few KB.
pub const LOCAL_BODY_MAX: usize = 64 << 10;

/// The transport for one client.
#[derive(Clone)]
pub struct Wire {
    client: reqwest::Client,
    body_max: usize,
    /// For a vault under the cloud's Key Vault suffix the token's scope is known
    /// in advance: put it on a request the SDK sends without one (its first,
    /// which would only collect the 401 challenge), so the secret comes back in
    /// one round trip. A 401 still goes to the SDK, which follows the challenge.
    preauth: Option<(Arc<dyn TokenCredential>, &'static str)>,
    /// For Key Vault: a 401 whose challenge names another audience is refused
    /// here, before the SDK could ask any credential for that audience.
    audience: Option<&'static str>,
}

impl std::fmt::Debug for Wire {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Wire")
            .field("body_max", &self.body_max)
            .field("preauth", &self.preauth.as_ref().map(|(_, scope)| scope))
            .finish()
    }
}

impl Wire {
    pub fn new(client: &reqwest::Client, body_max: usize) -> Wire {
        Wire {
            client: client.clone(),
            body_max,
            preauth: None,
            audience: None,
        }
    }

    pub fn with_audience(mut self, scope: &'static str) -> Wire {
        self.audience = Some(scope);
        self
    }

    pub fn with_preauth(
        mut self,
        credential: Arc<dyn TokenCredential>,
        scope: &'static str,
    ) -> Wire {
        self.preauth = Some((credential, scope));
        self
    }

    async fn authorized(&self, request: &Request) -> azure_core::Result<Option<Request>> {
        let Some((credential, scope)) = &self.preauth else {
            return Ok(None);
        };
        if request.headers().get_optional_str(&AUTHORIZATION).is_some() {
            return Ok(None);
        }
        let token = credential.get_token(&[scope], None).await?;
        let mut with_token = request.clone();
        // The header type takes a String: this copy lives as long as the request.
        with_token.insert_header(AUTHORIZATION, format!("Bearer {}", token.token.secret()));
        Ok(Some(with_token))
    }
}

fn failed(failure: TransportFailure) -> azure_core::Error {
    // Io is what the crates' retry policy retries; Other is final.
    let kind = if failure.is_transient() {
        ErrorKind::Io
    } else {
        ErrorKind::Other
    };
    azure_core::Error::new(kind, failure)
}

const CONTENT_LENGTH: HeaderName = HeaderName::from_static("content-length");

#[async_trait::async_trait]
impl HttpClient for Wire {
    async fn execute_request(&self, request: &Request) -> azure_core::Result<AsyncRawResponse> {
        let started = std::time::Instant::now();
        let url = request.url();
        let host = match (url.host_str().unwrap_or_default(), url.port()) {
            (host, Some(port)) => format!("{host}:{port}"),
            (host, None) => host.to_string(),
        };
        let path = url.path().to_string();
        let with_token = self.authorized(request).await?;
        let request = with_token.as_ref().unwrap_or(request);
        let result = HttpClient::execute_request(&self.client, request).await;
        let ms = started.elapsed().as_millis() as u64;
        let response = match result {
            Ok(response) => response,
            Err(e) => {
                let failure = match e
                    .get_ref()
                    .and_then(|inner| inner.downcast_ref::<reqwest::Error>())
                {
                    Some(reqwest_error) => TransportFailure::of(&host, reqwest_error),
                    None => TransportFailure::Other {
                        host: host.clone(),
                        reason: crate::error::chain(&e),
                    },
                };
                tracing::debug!(method = %request.method(), host, path, ms, error = %failure, "HTTP failed");
                return Err(failed(failure));
            }
        };
        let status = u16::from(response.status());
        tracing::debug!(method = %request.method(), host, path, status, ms, "HTTP");
        if status == 429 || status >= 500 {
            tracing::info!(host, path, status, "retryable answer; backing off");
        }
        if let (401, Some(allowed)) = (status, self.audience) {
            let asked = response
                .headers()
                .get_optional_str(&WWW_AUTHENTICATE)
                .and_then(crate::audience::challenge_audience);
            if let Some(asked) = asked.filter(|a| !crate::audience::same_audience(a, allowed)) {
                let wrong = crate::audience::WrongAudience {
                    host,
                    asked: crate::error::printable(&asked),
                    allowed,
                };
                return Err(azure_core::Error::new(ErrorKind::Other, wrong));
            }
        }
        let declared = response
            .headers()
            .get_optional_str(&CONTENT_LENGTH)
            .and_then(|v| v.trim().parse::<u64>().ok());
        let cap = self.body_max;
        let too_large = move |host: String| failed(TransportFailure::TooLarge { host, cap });
        if declared.is_some_and(|n| n > cap as u64) {
            return Err(too_large(host));
        }
        let (status, headers, body) = response.deconstruct();
        // Ends the stream with an error as soon as it passes the cap: an endless
        // body costs at most `cap` bytes, however long the server keeps sending.
        let capped = body.scan(0usize, move |seen, chunk| {
            let item = match chunk {
                _ if *seen > cap => None,
                Err(e) => Some(Err(e)),
                Ok(chunk) => {
                    *seen = seen.saturating_add(chunk.len());
                    Some(if *seen > cap {
                        Err(too_large(host.clone()))
                    } else {
                        Ok(chunk)
                    })
                }
            };
            futures::future::ready(item)
        });
        Ok(AsyncRawResponse::new(status, headers, Box::pin(capped)))
    }
}
