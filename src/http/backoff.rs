//! The one retry policy for every request kvenv makes: exponential backoff
//! with jitter for 408, 429 and 5xx, honouring `Retry-After` (seconds, an
//! HTTP date, or `retry-after-ms`/`x-ms-retry-after-ms`), but never sooner
//! than the backoff floor: a `Retry-After` of 0, a negative number or a date
//! in the past does not turn backoff off. The overall `--timeout` bounds it all.

use azure_core::http::headers::{HeaderName, RETRY_AFTER};
use azure_core::http::policies::{RetryHeaders, RetryPolicy};
use azure_core::http::StatusCode;
use azure_core::time::Duration as AzDuration;
use std::time::Duration;

#[derive(Debug)]
pub(crate) struct Backoff {
    /// Statuses that are retried; empty means the crates' list (408, 429, 5xx).
    statuses: &'static [StatusCode],
    headers: RetryHeaders,
    max_retries: u32,
    base: Duration,
    cap: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            statuses: &[],
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

/// What the IMDS guidance retries: 404 and 410 (the identity is not ready
/// yet), 408, 429 and 5xx.
const IDENTITY_RETRIES: &[StatusCode] = &[
    StatusCode::NotFound,
    StatusCode::RequestTimeout,
    StatusCode::Gone,
    StatusCode::TooManyRequests,
    StatusCode::InternalServerError,
    StatusCode::BadGateway,
    StatusCode::ServiceUnavailable,
    StatusCode::GatewayTimeout,
];

impl Backoff {
    /// The same policy, for identity endpoints.
    pub(crate) fn for_identity() -> Backoff {
        Backoff {
            statuses: IDENTITY_RETRIES,
            ..Backoff::default()
        }
    }

    /// " after retries" for a status this policy retries (408, 429, 5xx),
    /// nothing for one asked once (a redirect, say), for the failure line.
    pub(crate) fn after_retries(status: u16) -> &'static str {
        match status {
            408 | 429 | 500..=599 => " after retries",
            _ => "",
        }
    }

    /// The wait before retry `attempt` (1-based): half the exponential ceiling
    /// as a floor, plus up to as much again at random, so that clients failing
    /// together do not come back together.
    pub(crate) fn delay(&self, attempt: u32) -> Duration {
        let ceiling = self
            .base
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(16))
            .min(self.cap);
        let floor = ceiling / 2;
        floor + floor.mul_f64(fastrand::f64())
    }

    /// The smallest wait [`Backoff::delay`] can choose for `attempt`.
    #[cfg(test)]
    pub(crate) fn floor(&self, attempt: u32) -> Duration {
        self.base
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(16))
            .min(self.cap)
            / 2
    }

    /// The same policy without retries (a probe that must answer at once).
    pub(crate) fn never() -> Backoff {
        Backoff {
            max_retries: 0,
            ..Backoff::default()
        }
    }

    /// The wait before retry `attempt` given what the server asked for: never
    /// before its `Retry-After` (spread over as long again) and never below the
    /// backoff floor. A zero or negative `Retry-After` counts as none.
    pub(crate) fn wait_for(&self, attempt: u32, retry_after: Option<AzDuration>) -> Duration {
        let backoff = self.delay(attempt);
        match retry_after
            .and_then(|after| Duration::try_from(after).ok())
            .filter(|after| !after.is_zero())
        {
            Some(after) => (after + after.mul_f64(fastrand::f64())).max(backoff),
            None => backoff,
        }
    }

    /// Waits before retry `attempt`, with one log line.
    pub(crate) async fn sleep(&self, attempt: u32, retry_after: Option<AzDuration>) {
        let wait = self.wait_for(attempt, retry_after);
        tracing::debug!(
            retry = attempt,
            wait_ms = wait.as_millis() as u64,
            "waiting before the retry"
        );
        tokio::time::sleep(wait).await;
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
        self.statuses
    }

    fn sleep_duration(&self, retry_count: u32) -> AzDuration {
        AzDuration::try_from(self.delay(retry_count)).unwrap_or(AzDuration::ZERO)
    }

    async fn wait(&self, retry_count: u32, retry_after: Option<AzDuration>) {
        self.sleep(retry_count, retry_after).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use azure_core::http::headers::Headers;
    use azure_core::time::OffsetDateTime;

    impl Backoff {
        /// What the server asked for in `headers`, read as the SDK's retry policy reads it.
        fn retry_after(&self, headers: &Headers) -> Option<AzDuration> {
            azure_core::http::policies::get_retry_after(
                headers,
                OffsetDateTime::now_utc,
                &self.headers.retry_headers,
            )
        }
    }

    fn headers(name: &'static str, value: &str) -> Headers {
        let mut h = Headers::new();
        h.insert(HeaderName::from_static(name), value.to_string());
        h
    }

    #[test]
    fn delays_grow_and_never_drop_below_the_floor() {
        let b = Backoff::default();
        for attempt in 1..=10 {
            for _ in 0..50 {
                let d = b.delay(attempt);
                assert!(d >= b.floor(attempt), "attempt {attempt}: {d:?}");
                assert!(d <= b.floor(attempt) * 2);
            }
        }
        assert_eq!(b.floor(1), Duration::from_millis(50));
        assert_eq!(b.floor(10), Duration::from_secs(2));
    }

    #[test]
    fn zero_negative_and_past_retry_after_fall_back_to_backoff() {
        let b = Backoff::default();
        for h in [
            headers("retry-after", "0"),
            headers("retry-after", "-5"),
            headers("retry-after", "Thu, 01 Jan 1970 00:00:00 GMT"),
            headers("retry-after-ms", "0"),
            headers("x-ms-retry-after-ms", "-100"),
        ] {
            let wait = b.wait_for(3, b.retry_after(&h));
            assert!(wait >= b.floor(3), "{h:?}: {wait:?}");
        }
    }

    #[test]
    fn a_real_retry_after_is_honoured_and_spread() {
        let b = Backoff::default();
        let wait = b.wait_for(1, b.retry_after(&headers("retry-after", "2")));
        assert!(wait >= Duration::from_secs(2) && wait <= Duration::from_secs(4));
        let wait = b.wait_for(1, b.retry_after(&headers("retry-after-ms", "700")));
        assert!(wait >= Duration::from_millis(700) && wait <= Duration::from_millis(1400));
    }
}
