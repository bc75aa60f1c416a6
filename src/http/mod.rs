//! The HTTP clients kvenv injects into the Azure crates: rustls on ring with
//! the bundled Mozilla roots plus `--ca-file` / `SSL_CERT_FILE`, no redirects,
//! `TCP_NODELAY`, pooled connections, kvenv's own name resolution, and the
//! transport and retry policy shared by every call.

mod backoff;
mod failure;
mod gate;
mod lane;
mod last;
mod meaning;
mod policies;
mod wire;

pub(crate) use backoff::Backoff;
pub(crate) use failure::{find, TransportFailure};
pub(crate) use gate::{Gate, Protocol};
pub(crate) use lane::{First, Lane};
pub(crate) use last::{Heard, LastHeard};
pub(crate) use meaning::{meaning, About};
pub(crate) use policies::{
    authority, AudiencePolicy, ClaimsChallengePolicy, PreauthPolicy, RenewToken,
};
pub(crate) use wire::{Wire, LOCAL_BODY_MAX, REMOTE_BODY_MAX};

use crate::error::{At, Error};
use azure_core::http::{ClientOptions, RetryOptions, Transport};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// `--concurrency` by default over HTTP/2: streams on one connection. Also the
/// stream limit HTTP/2 servers commonly announce; measured in BENCHMARKS.md.
pub(crate) const HTTP2_CONCURRENCY: usize = 100;
/// `--concurrency` by default over HTTP/1.1: connections.
pub(crate) const HTTP1_CONCURRENCY: usize = 16;

/// Trust anchors: Mozilla's (bundled, so a `scratch` image works) plus extra PEM files.
pub(crate) fn tls_config(
    extra: &[(&'static str, PathBuf)],
) -> Result<Arc<rustls::ClientConfig>, Error> {
    let mut roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    for (origin, path) in extra {
        let certs = read_pem(origin, path)?;
        for cert in certs {
            roots.add(cert).map_err(|e| {
                Error::usage(At::file(origin, path), format!("unusable certificate: {e}"))
            })?;
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::internal("TLS set-up failed", e))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    // HTTP/2 where the server offers it (Key Vault, App Configuration and Entra
    // ID do): one connection per host, requests multiplexed on it. HTTP/1.1
    // with pooled connections otherwise.
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// A CA bundle is at most a few hundred KB (the whole Mozilla set is ~250 KB).
const CA_FILE_MAX: u64 = 1 << 20;

fn read_pem(origin: &'static str, path: &Path) -> Result<Vec<CertificateDer<'static>>, Error> {
    let bad = |what: String| Error::usage(At::file(origin, path), what);
    let bytes = crate::files::read_regular(path, CA_FILE_MAX, crate::files::Links::Follow)
        .map_err(|e| bad(e.to_string()))?;
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
        // No NSS, so a static binary in a `scratch` image resolves names too;
        // /etc/hosts wins over DNS (see `dns`).
        .dns_resolver(std::sync::Arc::new(crate::dns::Resolver::default()))
        .tls_backend_preconfigured(tls.clone())
        .redirect(reqwest::redirect::Policy::none())
        .tcp_nodelay(true)
        .connect_timeout(Duration::from_secs(10))
        .pool_idle_timeout(Duration::from_secs(30))
        .user_agent(concat!("kvenv/", env!("CARGO_PKG_VERSION")))
}

/// For Key Vault, App Configuration and Entra ID: HTTPS only; an HTTPS proxy
/// from the environment is honoured (it sees only a CONNECT tunnel).
pub(crate) fn vault_client(
    tls: &rustls::ClientConfig,
    resolve: &[(String, std::net::SocketAddr)],
) -> Result<reqwest::Client, Error> {
    remote(tls, resolve)
        .build()
        .map_err(|e| Error::internal("HTTP client set-up failed", e))
}

/// A client for one vault or store, whose first connection opens `gate`.
pub(crate) fn host_client(
    tls: &rustls::ClientConfig,
    resolve: &[(String, std::net::SocketAddr)],
    gate: &Gate,
) -> Result<reqwest::Client, Error> {
    remote(tls, resolve)
        .connector_layer(gate.layer())
        .build()
        .map_err(|e| Error::internal("HTTP client set-up failed", e))
}

fn remote(
    tls: &rustls::ClientConfig,
    resolve: &[(String, std::net::SocketAddr)],
) -> reqwest::ClientBuilder {
    resolve
        .iter()
        .fold(builder(tls), |b, (host, addr)| b.resolve(host, *addr))
        .https_only(true)
}

/// For identity endpoints (plain HTTP on the host in Azure): never through a
/// proxy, so no proxy ever sees an identity header or a token.
pub(crate) fn identity_client(tls: &rustls::ClientConfig) -> Result<reqwest::Client, Error> {
    builder(tls)
        .no_proxy()
        .build()
        .map_err(|e| Error::internal("HTTP client set-up failed", e))
}

/// The one place that builds `ClientOptions`: kvenv's transport over `http`
/// with bodies capped at `body_max`, kvenv's retry policy, the log line, and
/// `policies` (pre-authorisation, the audience check) in front of the transport.
pub(crate) fn client_options(
    http: &reqwest::Client,
    body_max: usize,
    policies: Vec<Arc<dyn azure_core::http::policies::Policy>>,
) -> ClientOptions {
    let mut per_try = policies;
    per_try.push(Arc::new(policies::LogPolicy));
    ClientOptions {
        transport: Some(Transport::new(Arc::new(Wire::new(http, body_max)))),
        retry: RetryOptions::custom(Arc::new(Backoff::default())),
        per_try_policies: per_try,
        ..Default::default()
    }
}

/// A pipeline for kvenv's own requests (identity endpoints the crates do not
/// cover), with the same transport, policies and backoff as every other
/// request; `retry` says which statuses are retried.
pub(crate) fn pipeline(
    http: &reqwest::Client,
    body_max: usize,
    retry: Backoff,
) -> azure_core::http::Pipeline {
    pipeline_of(ClientOptions {
        retry: RetryOptions::custom(Arc::new(retry)),
        ..client_options(http, body_max, Vec::new())
    })
}

/// A pipeline named for kvenv over `options` (from [`client_options`]), for
/// requests no Azure crate makes for us.
pub(crate) fn pipeline_of(options: ClientOptions) -> azure_core::http::Pipeline {
    azure_core::http::Pipeline::new(
        Some("kvenv"),
        Some(env!("CARGO_PKG_VERSION")),
        options,
        Vec::new(),
        Vec::new(),
        None,
    )
}
