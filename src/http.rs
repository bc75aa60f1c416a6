//! The HTTP clients kvenv injects into the Azure crates: rustls on ring with
//! the bundled Mozilla roots plus `--ca-file` / `SSL_CERT_FILE`, no redirects,
//! `TCP_NODELAY`, pooled connections, and the retry policy shared by every call.

use crate::error::Error;
use azure_core::http::headers::{HeaderName, RETRY_AFTER};
use azure_core::http::policies::{RetryHeaders, RetryPolicy};
use azure_core::http::StatusCode;
use azure_core::time::Duration as AzDuration;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// Trust anchors: Mozilla's (bundled, so a `scratch` image works) plus extra PEM files.
pub fn tls_config(extra: &[(String, PathBuf)]) -> Result<Arc<rustls::ClientConfig>, Error> {
    let mut roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    for (origin, path) in extra {
        let certs = read_pem(origin, path)?;
        for cert in certs {
            roots.add(cert).map_err(|e| {
                Error::Usage(format!(
                    "{origin} {}: unusable certificate: {e}",
                    path.display()
                ))
            })?;
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Internal(format!("TLS set-up failed: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

fn read_pem(origin: &str, path: &Path) -> Result<Vec<CertificateDer<'static>>, Error> {
    let bad = |what: String| Error::Usage(format!("{origin} {}: {what}", path.display()));
    let bytes = std::fs::read(path).map_err(|e| bad(format!("cannot read: {e}")))?;
    let certs: Vec<_> = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<_, _>>()
        .map_err(|e| bad(format!("not a PEM file: {e:?}")))?;
    if certs.is_empty() {
        return Err(bad("no PEM certificate in it".into()));
    }
    Ok(certs)
}

fn builder(tls: &rustls::ClientConfig) -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        // hickory reads /etc/resolv.conf and /etc/hosts itself: no NSS, so a
        // static binary in a `scratch` image resolves names too.
        .hickory_dns(true)
        .tls_backend_preconfigured(tls.clone())
        .redirect(reqwest::redirect::Policy::none())
        .tcp_nodelay(true)
        .connect_timeout(Duration::from_secs(10))
        .pool_idle_timeout(Duration::from_secs(30))
        .user_agent(concat!("kvenv/", env!("CARGO_PKG_VERSION")))
}

/// For Key Vault: HTTPS only; an HTTPS proxy from the environment is honoured
/// (it sees only a CONNECT tunnel).
pub fn vault_client(
    tls: &rustls::ClientConfig,
    resolve: &[(String, std::net::SocketAddr)],
) -> Result<reqwest::Client, Error> {
    resolve
        .iter()
        .fold(builder(tls), |b, (host, addr)| b.resolve(host, *addr))
        .https_only(true)
        .build()
        .map_err(|e| Error::Internal(format!("HTTP client set-up failed: {e}")))
}

/// For identity endpoints (plain HTTP on the host in Azure): never through a
/// proxy, so no proxy ever sees an identity header or a token.
pub fn identity_client(tls: &rustls::ClientConfig) -> Result<reqwest::Client, Error> {
    builder(tls)
        .no_proxy()
        .build()
        .map_err(|e| Error::Internal(format!("HTTP client set-up failed: {e}")))
}

/// The transport handed to the Azure crates: reqwest, plus one log line per
/// HTTP exchange at `-vv` (method, host, path, status, duration; never headers,
/// query values or bodies), and connection failures (refused, DNS, TLS
/// handshake) made final so that a wrong host fails in milliseconds instead of
/// after a round of retries.
///
/// For a vault under the cloud's Key Vault suffix the token's scope is known
/// in advance, so `preauth` puts the token on a request the SDK sends without
/// one (its first, which would only collect the 401 challenge): the secret
/// comes back in one round trip. If the vault answers 401 anyway, that answer
/// goes to the SDK, which follows the challenge with its resource check on.
#[derive(Clone)]
pub struct Wire {
    pub client: reqwest::Client,
    pub preauth: Option<(
        std::sync::Arc<dyn azure_core::credentials::TokenCredential>,
        &'static str,
    )>,
}

impl std::fmt::Debug for Wire {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Wire")
            .field("preauth", &self.preauth.as_ref().map(|(_, scope)| scope))
            .finish()
    }
}

impl Wire {
    pub fn plain(client: &reqwest::Client) -> Wire {
        Wire {
            client: client.clone(),
            preauth: None,
        }
    }
}

#[async_trait::async_trait]
impl azure_core::http::HttpClient for Wire {
    async fn execute_request(
        &self,
        request: &azure_core::http::Request,
    ) -> azure_core::Result<azure_core::http::AsyncRawResponse> {
        let started = std::time::Instant::now();
        let url = request.url();
        let (host, path) = (
            url.host_str().unwrap_or_default().to_string(),
            url.path().to_string(),
        );
        let authorized;
        let request = match &self.preauth {
            Some((credential, scope))
                if request
                    .headers()
                    .get_optional_str(&azure_core::http::headers::AUTHORIZATION)
                    .is_none() =>
            {
                let token = credential.get_token(&[scope], None).await?;
                let mut with_token = request.clone();
                with_token.insert_header(
                    azure_core::http::headers::AUTHORIZATION,
                    format!("Bearer {}", token.token.secret()),
                );
                authorized = with_token;
                &authorized
            }
            _ => request,
        };
        let result = azure_core::http::HttpClient::execute_request(&self.client, request).await;
        let ms = started.elapsed().as_millis() as u64;
        match &result {
            Ok(response) => {
                let status = u16::from(response.status());
                tracing::debug!(method = %request.method(), host, path, status, ms, "HTTP");
                if status == 429 || status >= 500 {
                    tracing::info!(host, path, status, "retryable answer; backing off");
                }
            }
            Err(e) => {
                tracing::debug!(method = %request.method(), host, path, ms, error = %crate::error::chain(e), "HTTP failed")
            }
        }
        result.map_err(|e| match e.kind() {
            azure_core::error::ErrorKind::Connection => azure_core::Error::with_error(
                azure_core::error::ErrorKind::Other,
                e,
                "cannot connect",
            ),
            _ => e,
        })
    }
}

/// Exponential backoff with full jitter for 408, 429 and 5xx (the crate's list),
/// honouring `Retry-After`. The overall `--timeout` bounds it all.
#[derive(Debug)]
pub struct Backoff {
    headers: RetryHeaders,
    max_retries: u32,
    base: Duration,
    cap: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            headers: RetryHeaders {
                retry_headers: vec![
                    HeaderName::from_static("x-ms-retry-after-ms"),
                    HeaderName::from_static("retry-after-ms"),
                    RETRY_AFTER,
                ],
            },
            max_retries: 8,
            base: Duration::from_millis(100),
            cap: Duration::from_secs(4),
        }
    }
}

impl Backoff {
    /// Full jitter: a random wait between zero and the exponential ceiling.
    pub fn delay(&self, attempt: u32) -> Duration {
        let ceiling = self
            .base
            .saturating_mul(1u32 << attempt.min(16))
            .min(self.cap);
        ceiling.mul_f64(fastrand::f64())
    }

    pub fn max_retries(&self) -> u32 {
        self.max_retries
    }

    /// Never before the server's `Retry-After`, spread over as long again, so
    /// that a fleet throttled together does not come back together.
    pub fn after(&self, retry_after: Duration) -> Duration {
        retry_after + retry_after.mul_f64(fastrand::f64())
    }
}

#[async_trait::async_trait]
impl RetryPolicy for Backoff {
    fn is_expired(&self, _elapsed: AzDuration, retry_count: u32) -> bool {
        retry_count >= self.max_retries
    }

    fn retry_headers(&self) -> Option<&RetryHeaders> {
        Some(&self.headers)
    }

    fn retry_status_codes(&self) -> &[StatusCode] {
        &[]
    }

    fn sleep_duration(&self, retry_count: u32) -> AzDuration {
        AzDuration::try_from(self.delay(retry_count)).unwrap_or(AzDuration::ZERO)
    }

    async fn wait(&self, retry_count: u32, retry_after: Option<AzDuration>) {
        let wait = match retry_after {
            Some(after) => self.after(Duration::try_from(after).unwrap_or_default()),
            None => self.delay(retry_count),
        };
        tracing::debug!(
            retry = retry_count,
            wait_ms = wait.as_millis() as u64,
            "retrying Key Vault request"
        );
        tokio::time::sleep(wait).await;
    }
}
