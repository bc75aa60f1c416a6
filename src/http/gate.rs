//! Opening a host's connection before the rest of its requests go out.
//!
//! With ALPN the HTTP client only learns that a host speaks HTTP/2 once a
//! connection is up. Requests started together before that each open a
//! connection of their own (a full TLS handshake apiece) and all but one are
//! thrown away once the first turns out to be h2. So a burst to one host sends
//! its first request alone and holds the rest until that request's connection
//! is established (they then multiplex on it under h2, or open pooled
//! connections of their own under HTTP/1.1), or until the first request ends
//! without one.
//!
//! The first connection also tells which protocol the host speaks, which
//! decides how many of the held requests may go at once: streams over HTTP/2,
//! connections over HTTP/1.1.
//!
//! [`ConnectGate`] is a connector layer that opens the gate when a connection
//! comes up; [`Gate::opened`] is what the held requests wait on.
//!
//! The same layer paces connections. A host whose connections die before they
//! answer (an HTTP/2 server that sends GOAWAY at once, say) would otherwise
//! get a new connection for every retry of every request, thousands at once.
//! A host may have as many connections as requests can be in flight over
//! HTTP/1.1, plus one for each request that has ended; every connection past
//! that waits its turn behind a growing backoff, as retried requests do.

use hyper_util::client::legacy::connect::Connection;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::sync::watch;

/// What a host's connection speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Protocol {
    /// It negotiated HTTP/2.
    Http2,
    /// It did not (HTTP/1.1).
    Http1,
}

/// Whether a host's first connection is up (or its first request is over),
/// and, apart from that, what its first connection speaks.
#[derive(Clone, Debug)]
pub(crate) struct Gate {
    open: Arc<watch::Sender<bool>>,
    /// Unknown until a connection is up (the first request may end without one).
    protocol: Arc<std::sync::OnceLock<Protocol>>,
    pace: Arc<Pace>,
}

/// How many connections a host has been given and may be given freely.
#[derive(Debug)]
struct Pace {
    /// Connections free of any wait: requests in flight over HTTP/1.1.
    free: usize,
    connects: AtomicUsize,
    /// Requests that ended (each may have used up a connection).
    ended: AtomicUsize,
    /// Connections past the free ones go one at a time.
    turn: tokio::sync::Mutex<()>,
}

/// The wait before the first connection past the free ones, doubling for
/// each one more, up to [`PACE_CAP`].
const PACE_BASE: Duration = Duration::from_millis(50);
const PACE_CAP: Duration = Duration::from_secs(2);

impl Default for Gate {
    fn default() -> Gate {
        Gate::new(super::HTTP1_CONCURRENCY)
    }
}

impl Gate {
    /// A gate for a host that may have `free` connections without waiting.
    pub(crate) fn new(free: usize) -> Gate {
        Gate {
            open: Arc::new(watch::Sender::new(false)),
            protocol: Arc::new(std::sync::OnceLock::new()),
            pace: Arc::new(Pace {
                free,
                connects: AtomicUsize::new(0),
                ended: AtomicUsize::new(0),
                turn: tokio::sync::Mutex::new(()),
            }),
        }
    }

    /// How many connections were opened, if more than the free ones were
    /// needed: the host keeps closing them (none past the free ones is opened
    /// otherwise, as each ended request frees one).
    pub(crate) fn closing_connections(&self) -> Option<usize> {
        let opened = self.pace.connects.load(Ordering::SeqCst);
        let free = self.pace.free + self.pace.ended.load(Ordering::SeqCst);
        (opened > free).then_some(opened)
    }

    /// A request to this host ended: one more connection is free.
    pub(crate) fn ended(&self) {
        self.pace.ended.fetch_add(1, Ordering::SeqCst);
    }

    /// Waits, if this connection is past the free ones, for its turn and its
    /// backoff; the wait grows with how far past it is.
    async fn pace(&self) {
        let pace = &self.pace;
        let number = pace.connects.fetch_add(1, Ordering::SeqCst) + 1;
        let past =
            |pace: &Pace| number.saturating_sub(pace.free + pace.ended.load(Ordering::SeqCst));
        if past(pace) == 0 {
            return;
        }
        let _turn = pace.turn.lock().await;
        let past = past(pace);
        if past == 0 {
            return;
        }
        let ceiling = PACE_BASE
            .saturating_mul(1u32 << (past - 1).min(16))
            .min(PACE_CAP);
        let wait = ceiling / 2 + (ceiling / 2).mul_f64(fastrand::f64());
        tracing::debug!(
            connection = number,
            wait_ms = wait.as_millis() as u64,
            "pacing a new connection"
        );
        tokio::time::sleep(wait).await;
    }

    /// Lets every held request go (once is enough).
    pub(crate) fn open(&self) {
        self.open
            .send_if_modified(|open| !std::mem::replace(open, true));
    }

    /// A connection is up, speaking `protocol`: the first one's is kept.
    pub(crate) fn connected(&self, protocol: Protocol) {
        let _ = self.protocol.set(protocol);
        self.open();
    }

    /// Resolves once the gate is open.
    pub(crate) async fn opened(&self) {
        let mut rx = self.open.subscribe();
        // The sender lives in `self`, so waiting cannot fail.
        let _ = rx.wait_for(|open| *open).await;
    }

    /// Whether the gate is open.
    #[cfg(test)]
    fn is_open(&self) -> bool {
        *self.open.borrow()
    }

    /// What the host's first connection speaks, once one is up.
    pub(crate) fn protocol(&self) -> Option<Protocol> {
        self.protocol.get().copied()
    }

    /// The connector layer that opens this gate on the first connection.
    pub(crate) fn layer(&self) -> ConnectGate {
        ConnectGate { gate: self.clone() }
    }
}

/// A `tower` layer around reqwest's connector: every successful connect opens
/// the gate. It only observes; connections pass through untouched.
#[derive(Clone, Debug)]
pub(crate) struct ConnectGate {
    gate: Gate,
}

impl<S> tower_layer::Layer<S> for ConnectGate {
    type Service = Connector<S>;

    fn layer(&self, inner: S) -> Connector<S> {
        Connector {
            inner,
            gate: self.gate.clone(),
        }
    }
}

#[derive(Clone, Debug)]
pub(crate) struct Connector<S> {
    inner: S,
    gate: Gate,
}

impl<S, R> tower_service::Service<R> for Connector<S>
where
    S: tower_service::Service<R>,
    S::Response: Connection,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, dst: R) -> Self::Future {
        let connecting = self.inner.call(dst);
        let gate = self.gate.clone();
        Box::pin(async move {
            gate.pace().await;
            let connected = connecting.await;
            if let Ok(connection) = &connected {
                gate.connected(if connection.connected().is_negotiated_h2() {
                    Protocol::Http2
                } else {
                    Protocol::Http1
                });
            }
            connected
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper_util::client::legacy::connect::Connected;
    use std::time::Duration;

    #[tokio::test]
    async fn held_requests_wait_until_the_gate_opens_and_the_first_opening_stays() {
        let gate = Gate::default();
        let held = gate.clone();
        let waiting = tokio::spawn(async move { held.opened().await });
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!waiting.is_finished(), "released before the gate opened");
        gate.connected(Protocol::Http2);
        tokio::time::timeout(Duration::from_secs(5), waiting)
            .await
            .expect("still held after the gate opened")
            .unwrap();
        gate.open();
        gate.connected(Protocol::Http1);
        gate.opened().await;
        assert_eq!(gate.protocol(), Some(Protocol::Http2));
    }

    /// A connection as a connector hands it over: with or without h2.
    struct Conn(bool);

    impl Connection for Conn {
        fn connected(&self) -> Connected {
            let connected = Connected::new();
            if self.0 {
                connected.negotiated_h2()
            } else {
                connected
            }
        }
    }

    /// A connector that answers with what it was given.
    struct Answer(Option<bool>);

    impl tower_service::Service<()> for Answer {
        type Response = Conn;
        type Error = &'static str;
        type Future = std::future::Ready<Result<Conn, &'static str>>;

        fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), &'static str>> {
            Poll::Ready(Ok(()))
        }

        fn call(&mut self, _: ()) -> Self::Future {
            std::future::ready(self.0.map(Conn).ok_or("refused"))
        }
    }

    #[tokio::test]
    async fn a_connect_opens_the_gate_with_its_protocol_and_a_failed_one_does_not() {
        use tower_layer::Layer;
        use tower_service::Service;
        let gate = Gate::default();
        let mut failing = gate.layer().layer(Answer(None));
        assert!(failing.call(()).await.is_err());
        assert!(!gate.is_open(), "a failed connect opened the gate");
        assert_eq!(gate.protocol(), None);
        let mut http1 = gate.layer().layer(Answer(Some(false)));
        assert!(http1.call(()).await.is_ok());
        assert!(gate.is_open());
        assert_eq!(gate.protocol(), Some(Protocol::Http1));

        let gate = Gate::default();
        let mut h2 = gate.layer().layer(Answer(Some(true)));
        assert!(h2.call(()).await.is_ok());
        assert_eq!(gate.protocol(), Some(Protocol::Http2));
    }

    // The first request may end before any connection is up: the gate opens,
    // the protocol stays unknown (and the lane gives it the HTTP/1.1 limit).
    #[tokio::test]
    async fn a_first_request_without_a_connection_opens_the_gate_with_no_protocol() {
        let gate = Gate::default();
        gate.open();
        gate.opened().await;
        assert_eq!(gate.protocol(), None);
    }
}
