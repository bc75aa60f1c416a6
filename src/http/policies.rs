//! kvenv's per-try pipeline policies, run after a client's own authorization
//! policy and before the transport, for every request kvenv makes:
//! one log line per exchange, the pre-authorised first request to a vault,
//! and the refusal of any challenge for another audience.

use azure_core::credentials::TokenCredential;
use azure_core::error::ErrorKind;
use azure_core::http::headers::{AUTHORIZATION, WWW_AUTHENTICATE};
use azure_core::http::policies::{Policy, PolicyResult};
use azure_core::http::{Context, Request};
use std::sync::Arc;

/// One line per HTTP exchange at `-vv`: method, host, path, status and
/// duration (never headers, query values or bodies); a retryable answer also
/// at `-v`.
#[derive(Debug)]
pub(super) struct LogPolicy;

/// `host:port` as messages name it (the port only when the URL has one).
pub(crate) fn authority(url: &azure_core::http::Url) -> String {
    match (url.host_str().unwrap_or_default(), url.port()) {
        (host, Some(port)) => format!("{host}:{port}"),
        (host, None) => host.to_string(),
    }
}

#[async_trait::async_trait]
impl Policy for LogPolicy {
    async fn send(
        &self,
        ctx: &Context,
        request: &mut Request,
        next: &[Arc<dyn Policy>],
    ) -> PolicyResult {
        let started = std::time::Instant::now();
        let (method, host, path) = (
            request.method(),
            authority(request.url()),
            request.url().path().to_string(),
        );
        let result = next[0].send(ctx, request, &next[1..]).await;
        let ms = started.elapsed().as_millis() as u64;
        let status = match &result {
            Ok(response) => Ok(u16::from(response.status())),
            Err(e) => Err(e),
        };
        super::last::record(&host, status);
        match &result {
            Ok(response) => {
                let status = u16::from(response.status());
                tracing::debug!(%method, host, path, status, ms, "HTTP");
                if status == 429 || status >= 500 {
                    tracing::info!(host, path, status, "retryable answer; backing off");
                }
            }
            Err(e) => {
                tracing::debug!(%method, host, path, ms, error = %crate::error::chain(e), "HTTP failed")
            }
        }
        result
    }
}

/// For a vault under the cloud's Key Vault suffix the token's scope is known in
/// advance: a request the SDK sends without a token (its first, which would
/// only collect the 401 challenge) gets one, so the secret comes back in one
/// round trip. A 401 still goes to the SDK, which follows the challenge.
#[derive(Debug)]
pub(crate) struct PreauthPolicy {
    pub credential: Arc<dyn TokenCredential>,
    pub scope: &'static str,
}

#[async_trait::async_trait]
impl Policy for PreauthPolicy {
    async fn send(
        &self,
        ctx: &Context,
        request: &mut Request,
        next: &[Arc<dyn Policy>],
    ) -> PolicyResult {
        if request.headers().get_optional_str(&AUTHORIZATION).is_none() {
            let token = self.credential.get_token(&[self.scope], None).await?;
            // The header type takes a String: this copy lives as long as the request.
            request.insert_header(AUTHORIZATION, format!("Bearer {}", token.token.secret()));
        }
        next[0].send(ctx, request, &next[1..]).await
    }
}

/// A 401 whose challenge names another audience than the cloud's Key Vault one
/// is refused here, before the client's authorization policy could ask any
/// credential for it.
#[derive(Debug)]
pub(crate) struct AudiencePolicy {
    pub scope: &'static str,
}

#[async_trait::async_trait]
impl Policy for AudiencePolicy {
    async fn send(
        &self,
        ctx: &Context,
        request: &mut Request,
        next: &[Arc<dyn Policy>],
    ) -> PolicyResult {
        let response = next[0].send(ctx, request, &next[1..]).await?;
        if u16::from(response.status()) != 401 {
            return Ok(response);
        }
        let asked = response
            .headers()
            .get_optional_str(&WWW_AUTHENTICATE)
            .and_then(crate::audience::challenge_audience);
        match asked.filter(|a| !crate::audience::same_audience(a, self.scope)) {
            Some(asked) => Err(azure_core::Error::new(
                ErrorKind::Other,
                crate::audience::WrongAudience {
                    host: authority(request.url()),
                    asked: crate::error::printable(&asked),
                    allowed: self.scope,
                },
            )),
            None => Ok(response),
        }
    }
}

/// Continuous access evaluation: a 401 whose challenge says
/// `insufficient_claims` means the token was revoked (a disabled identity, a
/// changed policy). kvenv does not declare the `cp1` capability, so this is
/// rare; when it comes, the cached token is dropped, a new one fetched and the
/// request sent once more. A second such answer fails, typed: never a loop.
/// The claims themselves are not passed on: no credential in the Azure crates
/// takes them yet. The renewal bypasses every cache, kvenv's and the
/// credential crates' (see `identity::Identity::renewer`).
/// A token for a scope (the first argument) that no cache has seen, which
/// replaces the revoked one (the second) in kvenv's cache.
pub(crate) type RenewToken = Arc<
    dyn Fn(
            &'static str,
            String,
        ) -> futures::future::BoxFuture<
            'static,
            azure_core::Result<azure_core::credentials::AccessToken>,
        > + Send
        + Sync,
>;

pub(crate) struct ClaimsChallengePolicy {
    pub renew: crate::http::RenewToken,
    pub scope: &'static str,
}

impl std::fmt::Debug for ClaimsChallengePolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClaimsChallengePolicy")
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

#[async_trait::async_trait]
impl Policy for ClaimsChallengePolicy {
    async fn send(
        &self,
        ctx: &Context,
        request: &mut Request,
        next: &[Arc<dyn Policy>],
    ) -> PolicyResult {
        let response = next[0].send(ctx, request, &next[1..]).await?;
        let revoked = |response: &azure_core::http::AsyncRawResponse| {
            u16::from(response.status()) == 401
                && response
                    .headers()
                    .get_optional_str(&WWW_AUTHENTICATE)
                    .is_some_and(crate::audience::is_claims_challenge)
        };
        if !revoked(&response) {
            return Ok(response);
        }
        tracing::info!(
            host = authority(request.url()),
            "token revoked (continuous access evaluation); renewing it once"
        );
        let revoked_token = request
            .headers()
            .get_optional_str(&AUTHORIZATION)
            .and_then(|h| h.strip_prefix("Bearer "))
            .unwrap_or_default()
            .to_string();
        let revoked_token = zeroize::Zeroizing::new(revoked_token);
        let token = (self.renew)(self.scope, revoked_token.to_string()).await?;
        let same = token.token.secret() == revoked_token.as_str();
        request.insert_header(AUTHORIZATION, format!("Bearer {}", token.token.secret()));
        let again = next[0].send(ctx, request, &next[1..]).await?;
        if revoked(&again) {
            return Err(azure_core::Error::new(
                ErrorKind::Other,
                crate::audience::ClaimsRejected {
                    host: authority(request.url()),
                    same,
                },
            ));
        }
        Ok(again)
    }
}
