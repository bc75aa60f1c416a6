//! Resolution: refuse untrusted hosts, then fetch every unique reference once,
//! vaults and App Configuration stores in parallel and a bounded number at a
//! time per host, inside a runtime that exists only for this and is gone
//! before anything is exec'd. A key-value that is a Key Vault reference is
//! followed in a second round through the same per-vault path (and shares a
//! fetch with a direct reference to the same secret).

mod backend;
mod fetch;

use fetch::Clients;

use crate::appconfig::{self};
use crate::cloud::Cloud;
use crate::error::{At, Error, Failure};
use crate::identity::{self, IdentityConfig};
use crate::reference::{ConfigRef, HostAddr, Reference, SecretRef};
use crate::token::TokenRef;
use crate::vault::{self, AllowedHost, Fetched};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;
use std::time::Duration;

/// Everything resolution needs, validated.
#[derive(Clone, Debug)]
pub(crate) struct Settings {
    pub cloud: Cloud,
    pub allowed: Vec<AllowedHost>,
    /// `--resolve`: host names pinned to an address.
    pub resolve: Vec<(String, std::net::SocketAddr)>,
    /// Extra trust anchors, each with where it came from (`--ca-file`, `SSL_CERT_FILE`).
    pub ca_files: Vec<(&'static str, PathBuf)>,
    pub identity: IdentityConfig,
    pub timeout: Duration,
    /// Requests in flight per host (`--concurrency`).
    pub concurrency: usize,
    /// The same for a host that turns out to speak only HTTP/1.1, where each
    /// one is a connection (and a TLS handshake) of its own.
    pub http1_concurrency: usize,
}

/// The outcome for every reference asked for.
#[derive(Debug, Default)]
pub(crate) struct Resolution {
    pub values: HashMap<Reference, Fetched>,
    pub failures: HashMap<Reference, Failure>,
    /// App Configuration key-values that are Key Vault references, and the
    /// secret each one resolved through (its value is that secret's).
    pub links: HashMap<ConfigRef, SecretRef>,
    /// The credential that was used, as messages name it.
    pub credential: String,
}

impl Resolution {
    /// The value `r` resolved to, following a key-value to its secret.
    pub(crate) fn value(&self, r: &Reference) -> Option<&Fetched> {
        if let Reference::Config(c) = r {
            if let Some(secret) = self.links.get(c) {
                return self.values.get(&Reference::Secret(secret.clone()));
            }
        }
        self.values.get(r)
    }
}

type Group<R> = BTreeMap<HostAddr, (vault::Trust, Vec<R>)>;

/// Resolves `refs`. A reference to a host that may not receive the token is
/// refused before any connection; with `all_or_nothing` (run, render) such a
/// refusal also means nothing else is fetched, since the command would not
/// start anyway. The network work runs on a thread that blocks SIGPIPE.
pub(crate) fn resolve(
    refs: &BTreeSet<Reference>,
    settings: &Settings,
    all_or_nothing: bool,
) -> Result<Resolution, Error> {
    let mut refused = Resolution::default();
    let work = partition(refs, settings, &mut refused);
    if work.is_empty() || (all_or_nothing && !refused.failures.is_empty()) {
        return Ok(refused);
    }
    crate::platform::without_sigpipe(|| Ok(Session::new(settings)?.fetch(work, refused)))
}

/// What a round fetches: secrets and key-values by host, and tokens.
#[derive(Default)]
struct Work {
    vaults: Group<SecretRef>,
    stores: Group<ConfigRef>,
    tokens: Vec<TokenRef>,
}

impl Work {
    fn is_empty(&self) -> bool {
        self.vaults.is_empty() && self.stores.is_empty() && self.tokens.is_empty()
    }
}

/// Groups `refs` by host, refusing (into `resolution`) those whose host may
/// not receive a token. No I/O.
fn partition(refs: &BTreeSet<Reference>, settings: &Settings, resolution: &mut Resolution) -> Work {
    let mut work = Work::default();
    let (vaults, stores) = (&mut work.vaults, &mut work.stores);
    for r in refs {
        let trusted = match r {
            // Checked before any request (`token::targets`).
            Reference::Token(t) => {
                work.tokens.push(t.clone());
                Ok(())
            }
            Reference::Secret(s) => {
                vault::trust(&s.vault, settings.cloud, &settings.allowed).map(|t| {
                    vaults
                        .entry(s.vault.clone())
                        .or_insert((t, Vec::new()))
                        .1
                        .push(s.clone())
                })
            }
            Reference::Config(c) => match settings.cloud.appconfig_scope() {
                None => Err(appconfig::undocumented_cloud(settings.cloud)),
                Some(_) => vault::trust_host(
                    &c.store,
                    settings.cloud.appconfig_suffixes(),
                    &settings.allowed,
                    "App Configuration store",
                ),
            }
            .map(|t| {
                stores
                    .entry(c.store.clone())
                    .or_insert((t, Vec::new()))
                    .1
                    .push(c.clone())
            }),
        };
        if let Err(failure) = trusted {
            resolution.failures.insert(r.clone(), failure);
        }
    }
    work
}

/// The runtime, TLS configuration and identity for as many rounds of
/// resolution as needed (one for `run`; one per refresh for `run --watch`,
/// reusing the token and resuming TLS sessions). Must live on a thread that
/// blocks SIGPIPE.
pub(crate) struct Session {
    runtime: tokio::runtime::Runtime,
    clients: Clients,
}

impl Session {
    pub(crate) fn new(settings: &Settings) -> Result<Session, Error> {
        let tls = crate::http::tls_config(&settings.ca_files)?;
        let plumbing = identity::Plumbing {
            local: crate::http::identity_client(&tls)?,
            remote: crate::http::vault_client(&tls, &[])?,
        };
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| Error::internal("cannot start the async runtime", e))?;
        // Credentials are built inside the runtime: some crates spawn on it.
        let identity = runtime
            .block_on(async { identity::build(&settings.identity, &plumbing) })
            .map_err(|e| Error::usage(At::Arg("AZURE_TOKEN_CREDENTIALS", None), e.to_string()))?;
        let clients = Clients {
            tls,
            identity,
            settings: settings.clone(),
            deadline: std::cell::Cell::new(tokio::time::Instant::now()),
        };
        Ok(Session { runtime, clients })
    }

    /// One round: every reference fetched once, under one `--timeout` deadline.
    pub(crate) fn round(&self, refs: &BTreeSet<Reference>, all_or_nothing: bool) -> Resolution {
        let mut resolution = Resolution::default();
        let work = partition(refs, &self.clients.settings, &mut resolution);
        if all_or_nothing && !resolution.failures.is_empty() {
            return resolution;
        }
        self.fetch(work, resolution)
    }

    /// Fetches references already grouped by host into `resolution`.
    fn fetch(&self, work: Work, mut resolution: Resolution) -> Resolution {
        self.clients.identity.forget_stale_tokens();
        self.clients
            .deadline
            .set(tokio::time::Instant::now() + self.clients.settings.timeout);
        let fetches = self.runtime.block_on(self.clients.fetch(work));
        fetches.into(&mut resolution);
        resolution.credential = self.clients.identity.describe();
        resolution
    }
}

#[cfg(test)]
mod tests {
    use super::fetch::timed_out;
    use super::*;
    use crate::error::Status;
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
                env: crate::identity::Snapshot::default(),
            },
            timeout: Duration::from_secs(1),
            concurrency: 4,
            http1_concurrency: 4,
        }
    }

    fn reference(host: &str, name: &str) -> Reference {
        Reference::Secret(SecretRef {
            vault: HostAddr {
                host: host.into(),
                port: None,
            },
            name: name.into(),
            version: None,
        })
    }

    fn config(host: &str, key: &str) -> Reference {
        Reference::Config(ConfigRef {
            store: HostAddr {
                host: host.into(),
                port: None,
            },
            key: key.into(),
            label: None,
        })
    }

    // No request can reach these: the refusal comes before any client exists.
    #[test]
    fn a_refused_host_stops_everything_when_all_must_resolve() {
        let refs: BTreeSet<Reference> = [
            reference("evil.example", "a"),
            reference("v.vault.azure.net", "b"),
            config("s.azconfig.io.evil.example", "k"),
            config("s.azconfig.io", "k"),
        ]
        .into();
        let resolution = resolve(&refs, &settings(), true).unwrap();
        assert!(resolution.values.is_empty());
        assert_eq!(resolution.failures.len(), 2);
        let store = &resolution.failures[&config("s.azconfig.io.evil.example", "k")];
        assert_eq!(store.status, Status::HostNotAllowed);
        assert!(store.detail.starts_with("App Configuration store host s.azconfig.io.evil.example is not under .azconfig.io or .appconfig.azure.com"), "{}", store.detail);
        let failure = &resolution.failures[&reference("evil.example", "a")];
        assert_eq!(failure.status, Status::HostNotAllowed);
    }

    #[test]
    fn a_timeout_names_the_secret_the_vault_and_the_limit() {
        let Reference::Secret(secret) = reference("v.vault.azure.net", "db") else {
            unreachable!()
        };
        let failure = timed_out(&secret, Duration::from_millis(2500), None);
        assert_eq!(failure.status, Status::FetchTimedOut);
        assert_eq!(
            failure.to_string(),
            "FetchTimedOut: no answer for secret 'db' from v.vault.azure.net within 2.5 s (--timeout); the vault or the identity endpoint is slow or unreachable"
        );
    }
}
