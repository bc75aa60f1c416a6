//! A minimal HTTP/1.1 server (optionally over TLS) on 127.0.0.1 that hands each
//! request to a synchronous handler and can delay or cut the reply.

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::runtime::Runtime;

pub(crate) struct Request {
    pub method: String,
    pub path: String,
    pub query: Vec<(String, String)>,
    /// Header names in lower case.
    pub headers: HashMap<String, String>,
    pub body: Vec<u8>,
}

impl Request {
    pub fn query(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }

    /// The body as `application/x-www-form-urlencoded` pairs.
    pub fn form(&self) -> Vec<(String, String)> {
        form_urlencoded::parse(&self.body).into_owned().collect()
    }
}

pub(crate) struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub delay: Duration,
    /// Close the connection without answering (after the delay).
    pub hang_up: bool,
}

impl Reply {
    pub fn json(status: u16, body: serde_json::Value) -> Reply {
        Reply {
            status,
            headers: vec![(
                "content-type".into(),
                "application/json; charset=utf-8".into(),
            )],
            body: body.to_string().into_bytes(),
            delay: Duration::ZERO,
            hang_up: false,
        }
    }

    pub fn header(mut self, name: &str, value: &str) -> Reply {
        self.headers.push((name.into(), value.into()));
        self
    }
}

pub(crate) type Handler = Arc<dyn Fn(Request) -> Reply + Send + Sync>;

pub(crate) struct Server {
    runtime: Option<Runtime>,
    pub addr: SocketAddr,
    pub stats: Arc<Stats>,
}

/// What the server saw below HTTP.
#[derive(Default, Debug)]
pub struct Stats {
    /// TCP connections accepted.
    pub connections: std::sync::atomic::AtomicUsize,
    /// TLS handshakes that resumed an earlier session.
    pub resumed: std::sync::atomic::AtomicUsize,
    /// Connections that negotiated HTTP/2.
    pub http2: std::sync::atomic::AtomicUsize,
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

impl Server {
    pub fn start(tls: Option<Arc<rustls::ServerConfig>>, handler: Handler) -> Server {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("fake server runtime");
        let listener = runtime
            .block_on(TcpListener::bind("127.0.0.1:0"))
            .expect("bind 127.0.0.1");
        let addr = listener.local_addr().expect("local address");
        let acceptor = tls.map(tokio_rustls::TlsAcceptor::from);
        let stats = Arc::new(Stats::default());
        let counted = stats.clone();
        runtime.spawn(async move {
            use std::sync::atomic::Ordering::SeqCst;
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                counted.connections.fetch_add(1, SeqCst);
                // Without this every response waits out Nagle's delay (~40 ms).
                let _ = stream.set_nodelay(true);
                let handler = handler.clone();
                let acceptor = acceptor.clone();
                let counted = counted.clone();
                tokio::spawn(async move {
                    match acceptor {
                        Some(acceptor) => {
                            if let Ok(tls) = acceptor.accept(stream).await {
                                let (_, session) = tls.get_ref();
                                if session.handshake_kind() == Some(rustls::HandshakeKind::Resumed)
                                {
                                    counted.resumed.fetch_add(1, SeqCst);
                                }
                                if session.alpn_protocol() == Some(b"h2") {
                                    counted.http2.fetch_add(1, SeqCst);
                                }
                                serve(TokioIo::new(tls), handler).await;
                            }
                        }
                        None => serve(TokioIo::new(stream), handler).await,
                    }
                });
            }
        });
        Server {
            runtime: Some(runtime),
            addr,
            stats,
        }
    }
}

async fn serve<I>(io: I, handler: Handler)
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let service = service_fn(move |req: hyper::Request<Incoming>| {
        let handler = handler.clone();
        async move { respond(req, handler).await }
    });
    // HTTP/2 when the client negotiated it (or speaks it), HTTP/1.1 otherwise.
    let _ = hyper_util::server::conn::auto::Builder::new(hyper_util::rt::TokioExecutor::new())
        .serve_connection(io, service)
        .await;
}

#[derive(Debug)]
struct HangUp;

impl std::fmt::Display for HangUp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("hang up")
    }
}

impl std::error::Error for HangUp {}

async fn respond(
    req: hyper::Request<Incoming>,
    handler: Handler,
) -> Result<hyper::Response<Full<Bytes>>, HangUp> {
    let (parts, body) = req.into_parts();
    let body = body
        .collect()
        .await
        .map(|b| b.to_bytes().to_vec())
        .unwrap_or_default();
    let query = parts
        .uri
        .query()
        .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
        .unwrap_or_default();
    let mut headers: HashMap<String, String> = parts
        .headers
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_ascii_lowercase(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    // HTTP/2 carries the host as `:authority`, which hyper puts in the URI.
    if let Some(authority) = parts.uri.authority() {
        headers
            .entry("host".to_string())
            .or_insert_with(|| authority.to_string());
    }
    let request = Request {
        method: parts.method.to_string(),
        path: parts.uri.path().to_string(),
        query,
        headers,
        body,
    };
    let reply = handler(request);
    if !reply.delay.is_zero() {
        tokio::time::sleep(reply.delay).await;
    }
    if reply.hang_up {
        return Err(HangUp);
    }
    let mut response = hyper::Response::builder().status(reply.status);
    for (k, v) in &reply.headers {
        response = response.header(k, v);
    }
    Ok(response
        .body(Full::new(Bytes::from(reply.body)))
        .expect("valid response"))
}
