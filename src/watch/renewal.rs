//! When `--token`s are renewed under `--watch`: before a token comes within
//! five minutes of its expiry, but never sooner than `--refresh-interval`
//! after the last renewal unless it has expired. An identity that issues
//! tokens with less than the margin left (or already expired) would otherwise
//! have kvenv ask it, and restart the command, every second: such a token is
//! renewed once per interval instead, with one warning line.

use crate::reference::Reference;
use crate::resolve::Resolution;
use crate::token::{TokenRef, TokenTarget};
use azure_core::time::OffsetDateTime;
use std::time::{Duration, Instant};

/// How long before its expiry a token is renewed.
pub(super) const MARGIN: Duration = Duration::from_secs(5 * 60);

/// After a failed renewal, the next try waits at least this (or the interval,
/// if shorter): an identity that is down is not asked every second.
const RETRY: Duration = Duration::from_secs(30);

/// What kvenv knows of each token it holds.
struct Held {
    token: TokenRef,
    expires_on: Option<OffsetDateTime>,
    /// When kvenv took this token.
    taken: Instant,
    /// Whether it had less than the margin left when kvenv took it.
    short: bool,
    warned: bool,
}

/// The tokens held and the last round that asked for them.
pub(super) struct Renewals {
    held: Vec<Held>,
    last_round: Instant,
}

impl Renewals {
    pub(super) fn new(tokens: &[TokenTarget]) -> Renewals {
        let now = Instant::now();
        let mut held: Vec<Held> = Vec::new();
        for t in tokens {
            if !held.iter().any(|h| h.token == t.token) {
                held.push(Held {
                    token: t.token.clone(),
                    expires_on: None,
                    taken: now,
                    short: false,
                    warned: false,
                });
            }
        }
        Renewals {
            held,
            last_round: now,
        }
    }

    /// A round that asks for the tokens again is starting.
    pub(super) fn round_started(&mut self) {
        self.last_round = Instant::now();
    }

    /// Takes note of the tokens `current` holds; gives the warning for each
    /// newly short-lived one (once per token).
    pub(super) fn sync(&mut self, current: &Resolution, tokens: &[TokenTarget]) -> Vec<String> {
        let (now, wall) = (Instant::now(), OffsetDateTime::now_utc());
        let mut lines = Vec::new();
        for h in &mut self.held {
            let expires_on = current
                .values
                .get(&Reference::Token(h.token.clone()))
                .and_then(|f| f.expires_on);
            if expires_on == h.expires_on {
                continue;
            }
            h.expires_on = expires_on;
            h.taken = now;
            h.short = expires_on.is_some_and(|e| left(e, wall) < MARGIN);
            if h.short && !h.warned {
                h.warned = true;
                let vars: Vec<&str> = tokens
                    .iter()
                    .filter(|t| t.token == h.token)
                    .map(|t| t.var.as_str())
                    .collect();
                lines.push(format!(
                    "{} (used by {}) lives less than 5 minutes; kvenv renews it once per --refresh-interval, not before its expiry",
                    h.token,
                    vars.join(", ")
                ));
            }
        }
        lines
    }

    /// The wait before the next round the tokens need, `None` when no token
    /// has an expiry.
    pub(super) fn wait(&self, interval: Duration) -> Option<Duration> {
        let (now, wall) = (Instant::now(), OffsetDateTime::now_utc());
        self.held
            .iter()
            .filter_map(|h| {
                let expires_on = h.expires_on?;
                Some(token_wait(&Timing {
                    left: left(expires_on, wall),
                    short: h.short,
                    since_taken: now.duration_since(h.taken),
                    since_round: now.duration_since(self.last_round),
                    interval,
                }))
            })
            .min()
    }
}

/// Time left before `expires_on`, zero once it has passed.
fn left(expires_on: OffsetDateTime, now: OffsetDateTime) -> Duration {
    Duration::try_from(expires_on - now).unwrap_or(Duration::ZERO)
}

/// What decides a token's renewal.
pub(super) struct Timing {
    /// Before it expires (zero: expired).
    pub left: Duration,
    /// Issued with less than [`MARGIN`] left.
    pub short: bool,
    pub since_taken: Duration,
    pub since_round: Duration,
    pub interval: Duration,
}

/// The wait before a token's renewal.
pub(super) fn token_wait(t: &Timing) -> Duration {
    let not_before = t.interval.saturating_sub(t.since_taken);
    let retry = t.interval.min(RETRY).saturating_sub(t.since_round);
    let due = match t.short {
        // The identity's tokens never last the margin: once per interval.
        true => not_before,
        false => {
            let due = (t.left + Duration::from_secs(1)).saturating_sub(MARGIN);
            // Never sooner than the interval after the last renewal, unless
            // the token expires first.
            due.max(not_before).min(t.left + Duration::from_secs(1))
        }
    };
    due.max(retry)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: Duration = Duration::from_secs(60);

    fn wait(left: u64, short: bool, since_taken: u64, since_round: u64, interval: u64) -> u64 {
        token_wait(&Timing {
            left: Duration::from_secs(left),
            short,
            since_taken: Duration::from_secs(since_taken),
            since_round: Duration::from_secs(since_round),
            interval: Duration::from_secs(interval),
        })
        .as_secs()
    }

    #[test]
    fn a_token_is_renewed_just_inside_the_margin() {
        // An hour's token, refreshed every ten minutes: renewed at 55 min + 1 s.
        assert_eq!(wait(3600, false, 0, 0, 600), 3600 - 300 + 1);
        // Taken long ago, 10 minutes left: five minutes and a second from now.
        assert_eq!(wait(600, false, 3000, 100, 600), 301);
        assert_eq!(MARGIN, 5 * MIN);
    }

    #[test]
    fn never_sooner_than_the_interval_after_the_last_renewal_unless_it_expires() {
        // A token of 6 minutes taken now, 10-minute interval: it expires
        // before the interval is over, so at its expiry, not at 1 minute.
        assert_eq!(wait(360, false, 0, 0, 600), 361);
        // A token of 8 minutes, 2-minute interval: due at 3 min + 1 s.
        assert_eq!(wait(480, false, 0, 0, 120), 181);
        // A token of 7 minutes, 4-minute interval: due at 2 min, held to 4 min.
        assert_eq!(wait(420, false, 0, 0, 240), 240);
    }

    #[test]
    fn short_and_expired_tokens_are_renewed_once_per_interval() {
        for left in [0, 1, 60, 299] {
            assert_eq!(wait(left, true, 0, 0, 600), 600, "{left}");
            assert_eq!(wait(left, true, 590, 590, 600), 10, "{left}");
        }
    }

    #[test]
    fn a_failed_renewal_is_retried_no_sooner_than_thirty_seconds() {
        // Taken an hour ago, expired, the last round (which failed) just now.
        assert_eq!(wait(0, false, 3600, 0, 600), 30);
        assert_eq!(wait(0, false, 3600, 10, 600), 20);
        // With a shorter interval, the interval.
        assert_eq!(wait(0, false, 3600, 0, 5), 5);
    }
}
