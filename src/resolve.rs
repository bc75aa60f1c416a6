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
    let fetched = crate::exec::without_sigpipe(|| fetch_all(by_vault, settings))?;
    for (r, outcome) in fetched {
        match outcome {
            Ok(value) => {
                resolution.values.insert(r, value);
            }
            Err(failure) => {
                resolution.failures.insert(r, failure);
            }
        }
    }
    Ok(resolution)
}

type Outcome = (SecretRef, Result<Fetched, Failure>);

/// Fetches every reference, vaults in parallel, inside a runtime that exists
/// only for this; each fetch carries the one `--timeout` deadline.
fn fetch_all(
    by_vault: BTreeMap<VaultAddr, (vault::Trust, Vec<SecretRef>)>,
    settings: &Settings,
) -> Result<Vec<Outcome>, Error> {
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
    let deadline = tokio::time::Instant::now() + settings.timeout;
    let outcomes = runtime.block_on(async {
        // Credentials are built inside the runtime: some crates spawn on it.
        let identity = identity::build(&settings.identity, &plumbing);
        let vaults = by_vault.into_iter().map(|(addr, (trust, refs))| {
            fetch_vault(
                addr,
                trust,
                refs,
                &identity,
                &vault_http,
                settings,
                deadline,
            )
        });
        let outcomes: Vec<Vec<Outcome>> = futures::future::join_all(vaults).await;
        Ok::<_, Error>(outcomes.into_iter().flatten().collect())
    });
    drop(runtime);
    outcomes
}

/// One vault's references, a bounded number in flight at once.
async fn fetch_vault(
    addr: VaultAddr,
    trust: vault::Trust,
    refs: Vec<SecretRef>,
    identity: &identity::Identity,
    http: &reqwest::Client,
    settings: &Settings,
    deadline: tokio::time::Instant,
) -> Vec<Outcome> {
    let client = match vault::client(
        &addr,
        trust,
        settings.cloud,
        http,
        identity.credential.clone(),
    ) {
        Ok(client) => client,
        Err(e) => {
            let failure = Failure::new(Status::OtherReasons, e.to_string());
            return refs
                .into_iter()
                .map(|r| (r, Err(failure.clone())))
                .collect();
        }
    };
    let fetch_one = |r: SecretRef| {
        let client = &client;
        async move {
            let started = Instant::now();
            let fetched = tokio::time::timeout_at(
                deadline,
                vault::fetch(client, &r, &|| identity.describe()),
            )
            .await;
            let result = fetched.unwrap_or_else(|_| Err(timed_out(&r, settings.timeout)));
            log_outcome(&r, &result, started);
            (r, result)
        }
    };
    let mut refs = refs.into_iter();
    let mut outcomes = Vec::new();
    // Under the cloud's suffix the token goes on the first request (see
    // `http::Wire`). Elsewhere the first request learns the vault's challenge
    // alone; the rest then go out together instead of all drawing a 401 first.
    if trust == vault::Trust::AllowListed {
        if let Some(first) = refs.next() {
            outcomes.push(fetch_one(first).await);
        }
    }
    let rest: Vec<Outcome> = futures::stream::iter(refs)
        .map(fetch_one)
        .buffer_unordered(settings.concurrency)
        .collect()
        .await;
    outcomes.extend(rest);
    outcomes
}

/// One line per reference at `-v`: which version, or which status, and how long.
fn log_outcome(r: &SecretRef, result: &Result<Fetched, Failure>, started: Instant) {
    let ms = started.elapsed().as_millis() as u64;
    match result {
        Ok(f) => {
            let version = f.version.as_deref().unwrap_or("?");
            tracing::info!(vault = %r.vault, secret = %r.name, version, ms, "resolved")
        }
        Err(e) => {
            tracing::info!(vault = %r.vault, secret = %r.name, status = %e.status, ms, "failed")
        }
    }
}

fn timed_out(r: &SecretRef, timeout: Duration) -> Failure {
    Failure::new(
        Status::FetchTimedOut,
        format!(
            "no answer for secret '{}' from {} within {:.1} s (--timeout)",
            r.name,
            r.vault,
            timeout.as_secs_f64()
        ),
    )
    .hint("the vault or the identity endpoint is slow or unreachable")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::{CredentialKind, IdentityConfig};

    fn settings() -> Settings {
        Settings {
            cloud: Cloud::Public,
            allowed: Vec::new(),
            resolve: Vec::new(),
            ca_files: Vec::new(),
            identity: IdentityConfig {
                kind: CredentialKind::Auto,
                user_assigned: None,
                tenant_id: None,
                cloud: Cloud::Public,
                env: crate::identity::Env::default(),
            },
            timeout: Duration::from_secs(1),
            concurrency: 4,
        }
    }

    fn reference(host: &str, name: &str) -> SecretRef {
        SecretRef {
            vault: VaultAddr {
                host: host.into(),
                port: None,
            },
            name: name.into(),
            version: None,
        }
    }

    // No request can reach these: the refusal comes before any client exists.
    #[test]
    fn a_refused_host_stops_everything_when_all_must_resolve() {
        let refs: BTreeSet<SecretRef> = [
            reference("evil.example", "a"),
            reference("v.vault.azure.net", "b"),
        ]
        .into();
        let resolution = resolve(&refs, &settings(), true).unwrap();
        assert!(resolution.values.is_empty());
        assert_eq!(resolution.failures.len(), 1);
        let failure = &resolution.failures[&reference("evil.example", "a")];
        assert_eq!(failure.status, Status::HostNotAllowed);
    }

    #[test]
    fn a_timeout_names_the_secret_the_vault_and_the_limit() {
        let failure = timed_out(
            &reference("v.vault.azure.net", "db"),
            Duration::from_millis(2500),
        );
        assert_eq!(failure.status, Status::FetchTimedOut);
        assert_eq!(
            failure.to_string(),
            "FetchTimedOut: no answer for secret 'db' from v.vault.azure.net within 2.5 s (--timeout); the vault or the identity endpoint is slow or unreachable"
        );
    }
}
