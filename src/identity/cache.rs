//! One token per scope per run: a single-flight cache in front of any
//! credential. Concurrent callers wait for the first request; its result, token
//! or failure, is shared, so a broken identity is asked once, not once per secret.

use crate::secret::SecretBytes;
use azure_core::credentials::{AccessToken, TokenCredential, TokenRequestOptions};
use azure_core::error::{Error, ErrorKind};
use azure_core::time::OffsetDateTime;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::OnceCell;

struct Cached {
    token: SecretBytes,
    expires_on: OffsetDateTime,
}

type Slot = Arc<OnceCell<Result<Cached, Arc<Error>>>>;

#[derive(Debug)]
pub(super) struct OncePerScope {
    inner: Arc<dyn TokenCredential>,
    slots: Mutex<HashMap<String, Slot>>,
}

impl std::fmt::Debug for Cached {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

/// A token this close to its expiry is asked for again before the next round.
const RENEW_BEFORE: azure_core::time::Duration = azure_core::time::Duration::minutes(5);

impl OncePerScope {
    pub(super) fn new(inner: Arc<dyn TokenCredential>) -> OncePerScope {
        OncePerScope {
            inner,
            slots: Mutex::new(HashMap::new()),
        }
    }

    /// Puts `fresh` in place of the token cached for `scope` if that is
    /// `revoked` (a claims challenge) or nothing; a token already renewed by
    /// another caller stays.
    pub(super) fn replace(&self, scope: &str, revoked: &str, fresh: &AccessToken) {
        let mut slots = self.slots.lock().expect("token cache lock");
        let stale = match slots.get(scope).and_then(|s| s.get()) {
            Some(Ok(c)) => c.token.expose() == revoked.as_bytes(),
            Some(Err(_)) | None => true,
        };
        if stale {
            let cached = Cached {
                token: SecretBytes::new(fresh.token.secret().as_bytes().to_vec()),
                expires_on: fresh.expires_on,
            };
            slots.insert(
                scope.to_string(),
                Arc::new(OnceCell::new_with(Some(Ok(cached)))),
            );
        }
    }

    /// Drops failures and tokens that expire within five minutes, so that the
    /// next caller asks again (once, for everyone).
    pub(super) fn forget_stale(&self) {
        let soon = OffsetDateTime::now_utc() + RENEW_BEFORE;
        self.slots
            .lock()
            .expect("token cache lock")
            .retain(|_, slot| matches!(slot.get(), Some(Ok(c)) if c.expires_on > soon));
    }
}

#[async_trait::async_trait]
impl TokenCredential for OncePerScope {
    async fn get_token(
        &self,
        scopes: &[&str],
        options: Option<TokenRequestOptions<'_>>,
    ) -> azure_core::Result<AccessToken> {
        let slot = self
            .slots
            .lock()
            .expect("token cache lock")
            .entry(scopes.join(" "))
            .or_default()
            .clone();
        let cached = slot
            .get_or_init(|| async {
                let started = std::time::Instant::now();
                let result = self.inner.get_token(scopes, options).await;
                tracing::debug!(
                    scope = scopes.join(" "),
                    ms = started.elapsed().as_millis() as u64,
                    ok = result.is_ok(),
                    "token request"
                );
                match result {
                    // The crate hands the token over in its own type; keep ours.
                    Ok(token) => Ok(Cached {
                        token: SecretBytes::from_string(token.token.secret().to_string()),
                        expires_on: token.expires_on,
                    }),
                    Err(e) => Err(Arc::new(e)),
                }
            })
            .await;
        match cached {
            Ok(c) => Ok(AccessToken::new(
                String::from_utf8_lossy(c.token.expose()).into_owned(),
                c.expires_on,
            )),
            Err(e) => Err(Error::with_message(
                ErrorKind::Credential,
                crate::error::chain(&**e),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A credential that counts its calls and answers after a moment.
    #[derive(Debug, Default)]
    struct Counting {
        calls: AtomicUsize,
        fail: bool,
    }

    #[async_trait::async_trait]
    impl TokenCredential for Counting {
        async fn get_token(
            &self,
            _scopes: &[&str],
            _options: Option<TokenRequestOptions<'_>>,
        ) -> azure_core::Result<AccessToken> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            if self.fail {
                return Err(Error::with_message(
                    ErrorKind::Credential,
                    "no identity here",
                ));
            }
            Ok(AccessToken::new(
                "token-1".to_string(),
                OffsetDateTime::now_utc(),
            ))
        }
    }

    async fn ask_ten_times(
        inner: Arc<Counting>,
        scope: &str,
    ) -> Vec<azure_core::Result<AccessToken>> {
        let cache = OncePerScope::new(inner);
        let scopes = [scope];
        let asks = (0..10).map(|_| cache.get_token(&scopes, None));
        futures::future::join_all(asks).await
    }

    #[tokio::test]
    async fn concurrent_callers_share_one_request() {
        let inner = Arc::new(Counting::default());
        let results = ask_ten_times(inner.clone(), "https://vault.azure.net/.default").await;
        assert_eq!(inner.calls.load(Ordering::SeqCst), 1);
        assert!(results
            .iter()
            .all(|r| r.as_ref().unwrap().token.secret() == "token-1"));
    }

    #[tokio::test]
    async fn a_failure_is_shared_too_not_retried_per_secret() {
        let inner = Arc::new(Counting {
            fail: true,
            ..Counting::default()
        });
        let results = ask_ten_times(inner.clone(), "https://vault.azure.net/.default").await;
        assert_eq!(inner.calls.load(Ordering::SeqCst), 1);
        assert!(results.iter().all(|r| r
            .as_ref()
            .unwrap_err()
            .to_string()
            .contains("no identity here")));
    }

    #[tokio::test]
    async fn stale_tokens_and_failures_are_asked_for_again() {
        let inner = Arc::new(Counting::default());
        let cache = OncePerScope::new(inner.clone());
        // Counting's tokens expire now: stale at once.
        cache.get_token(&["a/.default"], None).await.unwrap();
        cache.forget_stale();
        cache.get_token(&["a/.default"], None).await.unwrap();
        assert_eq!(inner.calls.load(Ordering::SeqCst), 2);
        let failing = Arc::new(Counting {
            fail: true,
            ..Counting::default()
        });
        let cache = OncePerScope::new(failing.clone());
        let _ = cache.get_token(&["a/.default"], None).await;
        cache.forget_stale();
        let _ = cache.get_token(&["a/.default"], None).await;
        assert_eq!(failing.calls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn each_scope_has_its_own_token() {
        let inner = Arc::new(Counting::default());
        let cache = OncePerScope::new(inner.clone());
        cache.get_token(&["a/.default"], None).await.unwrap();
        cache.get_token(&["b/.default"], None).await.unwrap();
        cache.get_token(&["a/.default"], None).await.unwrap();
        assert_eq!(inner.calls.load(Ordering::SeqCst), 2);
    }
}
