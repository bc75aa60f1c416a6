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
//! [`ConnectGate`] is a connector layer that opens the gate when a connection
//! comes up; [`Gate::opened`] is what the held requests wait on.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::sync::watch;

/// Whether a host's first connection is up (or its first request is over).
#[derive(Clone, Debug)]
pub struct Gate {
    opened: Arc<watch::Sender<bool>>,
}

impl Default for Gate {
    fn default() -> Gate {
        Gate {
            opened: Arc::new(watch::Sender::new(false)),
        }
    }
}

impl Gate {
    /// Lets every held request go.
    pub fn open(&self) {
        self.opened.send_replace(true);
    }

    /// Resolves once the gate is open.
    pub async fn opened(&self) {
        let mut rx = self.opened.subscribe();
        // The sender lives in `self`, so waiting cannot fail.
        let _ = rx.wait_for(|open| *open).await;
    }

    /// The connector layer that opens this gate on the first connection.
    pub fn layer(&self) -> ConnectGate {
        ConnectGate { gate: self.clone() }
    }
}

/// A `tower` layer around reqwest's connector: every successful connect opens
/// the gate. It only observes; connections pass through untouched.
#[derive(Clone, Debug)]
pub struct ConnectGate {
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
pub struct Connector<S> {
    inner: S,
    gate: Gate,
}

impl<S, R> tower_service::Service<R> for Connector<S>
where
    S: tower_service::Service<R>,
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
            let connected = connecting.await;
            if connected.is_ok() {
                gate.open();
            }
            connected
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn held_requests_wait_until_the_gate_opens() {
        let gate = Gate::default();
        let held = gate.clone();
        let waiting = tokio::spawn(async move { held.opened().await });
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!waiting.is_finished(), "released before the gate opened");
        gate.open();
        tokio::time::timeout(Duration::from_secs(5), waiting)
            .await
            .expect("still held after the gate opened")
            .unwrap();
        // Once open, it stays open.
        gate.opened().await;
    }

    /// A connector that answers with what it was given.
    struct Answer(Result<u8, &'static str>);

    impl tower_service::Service<()> for Answer {
        type Response = u8;
        type Error = &'static str;
        type Future = std::future::Ready<Result<u8, &'static str>>;

        fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), &'static str>> {
            Poll::Ready(Ok(()))
        }

        fn call(&mut self, _: ()) -> Self::Future {
            std::future::ready(self.0)
        }
    }

    #[tokio::test]
    async fn a_successful_connect_opens_the_gate_and_a_failed_one_does_not() {
        use tower_layer::Layer;
        use tower_service::Service;
        let gate = Gate::default();
        let mut failing = gate.layer().layer(Answer(Err("refused")));
        assert_eq!(failing.call(()).await, Err("refused"));
        assert!(!*gate.opened.borrow(), "a failed connect opened the gate");
        let mut working = gate.layer().layer(Answer(Ok(7)));
        assert_eq!(working.call(()).await, Ok(7));
        assert!(*gate.opened.borrow());
    }
}
