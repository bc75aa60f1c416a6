//! Resolution: refuse untrusted hosts, then fetch every unique reference once,
//! vaults in parallel and a bounded number at a time per vault, inside a
//! runtime that exists only for this and is gone before anything is exec'd.

use crate::cloud::Cloud;
use crate::error::{Error, Failure, Status};
use crate::identity::{self, IdentityConfig};
use crate::reference::{SecretRef, VaultAddr};
use crate::vault::{self, AllowedHost, Fetched};
use futures::StreamExt;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Everything resolution needs, validated.
#[derive(Clone, Debug)]
pub struct Settings {
    pub cloud: Cloud,
    pub allowed: Vec<AllowedHost>,
    /// `--resolve`: vault host names pinned to an address.
    pub resolve: Vec<(String, std::net::SocketAddr)>,
    /// Extra trust anchors, each with where it came from (`--ca-file`, `SSL_CERT_FILE`).
    pub ca_files: Vec<(String, PathBuf)>,
    pub identity: IdentityConfig,
    pub timeout: Duration,
    pub concurrency: usize,
}

/// The outcome for every reference asked for.
#[derive(Debug, Default)]
pub struct Resolution {
    pub values: HashMap<SecretRef, Fetched>,
    pub failures: HashMap<SecretRef, Failure>,
}

/// Resolves `refs`. A reference to a host that may not receive the token is
/// refused before any connection; with `all_or_nothing` (run, render) such a
/// refusal also means nothing else is fetched, since the command would not
/// start anyway.
pub fn resolve(
    refs: &BTreeSet<SecretRef>,
    settings: &Settings,
    all_or_nothing: bool,
) -> Result<Resolution, Error> {
    let mut resolution = Resolution::default();
    let mut by_vault: BTreeMap<VaultAddr, (vault::Trust, Vec<SecretRef>)> = BTreeMap::new();
    for r in refs {
        match vault::trust(&r.vault, settings.cloud, &settings.allowed) {
            Ok(trust) => by_vault
                .entry(r.vault.clone())
                .or_insert((trust, Vec::new()))
                .1
                .push(r.clone()),
            Err(failure) => {
                resolution.failures.insert(r.clone(), failure);
            }
        }
    }
    if by_vault.is_empty() || (all_or_nothing && !resolution.failures.is_empty()) {
        return Ok(resolution);
    }

    let tls = crate::http::tls_config(&settings.ca_files)?;
    let plumbing = identity::Plumbing {
        local: crate::http::identity_client(&tls)?,
        remote: crate::http::vault_client(&tls, &[])?,
    };
    let vault_http = crate::http::vault_client(&tls, &settings.resolve)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Internal(format!("cannot start the async runtime: {e}")))?;
    // Credentials are built inside the runtime: some crates spawn on it.
    let identity = runtime.block_on(async { identity::build(&settings.identity, &plumbing) })?;

    let done: Arc<Mutex<HashMap<SecretRef, Result<Fetched, Failure>>>> = Arc::default();
    let work = {
        let done = done.clone();
        let identity = &identity;
        let vault_http = &vault_http;
        async move {
            let vaults = by_vault.into_iter().map(|(addr, (trust, refs))| {
                let done = done.clone();
                async move {
                    let client = match vault::client(&addr, trust, settings.cloud, vault_http, identity.credential.clone()) {
                        Ok(client) => client,
                        Err(e) => {
                            let failure = Failure::new(Status::OtherReasons, e.to_string());
                            for r in refs {
                                done.lock().unwrap().insert(r, Err(failure.clone()));
                            }
                            return;
                        }
                    };
                    let fetch_one = |r: SecretRef| {
                        let client = &client;
                        let done = done.clone();
                        async move {
                            let started = Instant::now();
                            let result = vault::fetch(client, &r, &|| identity.describe()).await;
                            match &result {
                                Ok(f) => tracing::info!(vault = %r.vault, secret = %r.name, version = f.version.as_deref().unwrap_or("?"), ms = started.elapsed().as_millis() as u64, "resolved"),
                                Err(e) => tracing::info!(vault = %r.vault, secret = %r.name, status = %e.status, ms = started.elapsed().as_millis() as u64, "failed"),
                            }
                            done.lock().unwrap().insert(r, result);
                        }
                    };
                    let mut refs = refs.into_iter();
                    // Under the cloud's suffix the token goes on the first request
                    // (see `http::Wire`). Elsewhere the first request learns the
                    // vault's challenge alone; the rest then go out together instead
                    // of all drawing a 401 first.
                    if trust == vault::Trust::AllowListed {
                        if let Some(first) = refs.next() {
                            fetch_one(first).await;
                        }
                    }
                    futures::stream::iter(refs)
                        .map(fetch_one)
                        .buffer_unordered(settings.concurrency)
                        .collect::<Vec<()>>()
                        .await;
                }
            });
            futures::future::join_all(vaults).await;
        }
    };
    let timed_out =
        runtime.block_on(async { tokio::time::timeout(settings.timeout, work).await.is_err() });
    drop(runtime);

    let mut done = std::mem::take(&mut *done.lock().unwrap());
    for r in refs {
        if resolution.failures.contains_key(r) {
            continue;
        }
        match done.remove(r) {
            Some(Ok(fetched)) => {
                resolution.values.insert(r.clone(), fetched);
            }
            Some(Err(failure)) => {
                resolution.failures.insert(r.clone(), failure);
            }
            None => {
                debug_assert!(timed_out);
                resolution.failures.insert(
                    r.clone(),
                    Failure::new(
                        Status::FetchTimedOut,
                        format!(
                            "no answer for secret '{}' from {} within {:.1} s (--timeout); the vault or the identity endpoint is slow or unreachable",
                            r.name,
                            r.vault,
                            settings.timeout.as_secs_f64()
                        ),
                    ),
                );
            }
        }
    }
    Ok(resolution)
}
