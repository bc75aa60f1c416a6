//! The lane a host's requests go through, beside the gate its first
//! connection opens: the first request alone; the rest once what [`First`]
//! says has happened, then together, as many at once as that connection's
//! protocol allows (HTTP/2 streams, or HTTP/1.1 connections).

use super::{Gate, LastHeard, Protocol};
use futures::future::Either;
use futures::StreamExt;
use std::future::Future;

/// What the rest of a host's requests wait for after the first goes out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum First {
    /// Its connection: the token is already on every request.
    Connects,
    /// Its answer: it learns the vault's challenge (and so the token's scope).
    Answers,
}

/// How many of a host's requests may be in flight.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Lane {
    /// `--concurrency`.
    pub concurrency: usize,
    /// Over HTTP/1.1 (or a protocol not known yet) each request is a
    /// connection: at most this many.
    pub http1_concurrency: usize,
}

impl Lane {
    /// Every item of one host, `--concurrency` at a time. The first goes out
    /// alone; the rest wait for what `first` says, then go out together, as
    /// many at once as the protocol of the host's first connection allows
    /// (`connection` is opened by it, see [`Gate`]).
    pub(crate) async fn all<R, T, F>(
        self,
        refs: Vec<R>,
        connection: &Gate,
        first: First,
        fetch: impl Fn(R) -> F,
    ) -> Vec<(R, T)>
    where
        F: Future<Output = (R, T)>,
    {
        let mut refs = refs.into_iter();
        let Some(head) = refs.next() else {
            return Vec::new();
        };
        let answered = &Gate::default();
        let fetch = &fetch;
        let head = async move {
            let outcome = fetch(head).await;
            connection.ended();
            answered.open();
            connection.open();
            outcome
        };
        // Over HTTP/1.1 each request in flight is a connection: fewer at once.
        let http1 = tokio::sync::Semaphore::new(self.http1_concurrency);
        let http1 = &http1;
        let rest = refs.map(|r| async move {
            match first {
                First::Connects => connection.opened().await,
                First::Answers => answered.opened().await,
            };
            // Only a connection known to speak HTTP/2 takes many at once; a
            // host whose protocol is unknown (its first request ended without
            // a connection) gets the HTTP/1.1 limit.
            let _permit = match connection.protocol() {
                Some(Protocol::Http2) => None,
                _ => http1.acquire().await.ok(),
            };
            let outcome = fetch(r).await;
            connection.ended();
            outcome
        });
        let all = std::iter::once(Either::Left(head)).chain(rest.map(Either::Right));
        // What any request to the host last heard, for those that never went out.
        let host_heard = LastHeard::for_host(connection);
        host_heard
            .scope(
                futures::stream::iter(all)
                    .buffer_unordered(self.concurrency)
                    .collect(),
            )
            .await
    }
}
