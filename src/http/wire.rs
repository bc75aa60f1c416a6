//! The transport handed to the Azure crates: reqwest, with every failure turned
//! into a typed [`TransportFailure`] and every response body capped while it
//! streams. Logging, pre-authorisation and the audience check are policies in
//! front of it (`policies.rs`).
//!
//! Failures that retrying cannot mend (DNS, refused, TLS, an oversized answer)
//! are made final so that a wrong host fails in milliseconds instead of after a
//! round of retries; a reset or a stall mid-exchange stays retryable.

use super::failure::TransportFailure;
use super::policies::authority;
use azure_core::error::ErrorKind;
use azure_core::http::headers::HeaderName;
use azure_core::http::{AsyncRawResponse, HttpClient, Request};
use futures::StreamExt;

/// Bodies from Key Vault and Entra ID: a secret is at most 25 KB, a token a few.
pub(crate) const REMOTE_BODY_MAX: usize = 1 << 20;
/// Bodies from identity endpoints on the host: a token response is a few KB.
pub(crate) const LOCAL_BODY_MAX: usize = 64 << 10;

/// The transport for one client: a reqwest client and the cap on its bodies.
#[derive(Clone, Debug)]
pub(crate) struct Wire {
    client: reqwest::Client,
    body_max: usize,
}

impl Wire {
    pub(crate) fn new(client: &reqwest::Client, body_max: usize) -> Wire {
        Wire {
            client: client.clone(),
            body_max,
        }
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
        let host = authority(request.url());
        let response = match HttpClient::execute_request(&self.client, request).await {
            Ok(response) => response,
            Err(e) => {
                let failure = match e
                    .get_ref()
                    .and_then(|inner| inner.downcast_ref::<reqwest::Error>())
                {
                    Some(reqwest_error) => TransportFailure::of(&host, reqwest_error),
                    None => TransportFailure::Other {
                        host,
                        reason: crate::error::chain(&e),
                    },
                };
                return Err(failed(failure));
            }
        };
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
