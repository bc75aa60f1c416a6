//! Resolution: refuse untrusted hosts, then fetch every unique reference once,
//! vaults and App Configuration stores in parallel and a bounded number at a
//! time per host, inside a runtime that exists only for this and is gone
//! before anything is exec'd. A key-value that is a Key Vault reference is
//! followed in a second round through the same per-vault path (and shares a
//! fetch with a direct reference to the same secret).

use crate::appconfig::{self, KeyValue};
use crate::cloud::Cloud;
use crate::error::{Error, Failure, Status};
use crate::http::{Gate, Heard, LastHeard, Opened};
use crate::identity::{self, IdentityConfig};
use crate::reference::{ConfigRef, Named, Reference, SecretRef, VaultAddr};
use crate::secret::SecretBytes;
use crate::token::TokenRef;
use crate::vault::{self, AllowedHost, Fetched};
use futures::future::Either;
use futures::StreamExt;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::future::Future;
use std::path::PathBuf;
use std::time::{Duration, Instant};

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

/// `--concurrency` by default over HTTP/2: streams on one connection. Also the
/// stream limit HTTP/2 servers commonly announce; measured in BENCHMARKS.md.
pub(crate) const HTTP2_CONCURRENCY: usize = 100;
/// `--concurrency` by default over HTTP/1.1: connections.
pub(crate) const HTTP1_CONCURRENCY: usize = 16;

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

type Group<R> = BTreeMap<VaultAddr, (vault::Trust, Vec<R>)>;

/// What the rest of a host's requests wait for after the first goes out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum First {
    /// Its connection: the token is already on every request.
    Connects,
    /// Its answer: it learns the vault's challenge (and so the token's scope).
    Answers,
}

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
    crate::exec::without_sigpipe(|| Ok(Session::new(settings)?.fetch(work, refused)))
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
        let identity = runtime.block_on(async { identity::build(&settings.identity, &plumbing) });
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

/// The same failure for every reference of a host whose client could not be made.
/// What a reference gets when its host's client could not be set up.
fn set_up_failed(e: &Error) -> Failure {
    Failure::new(Status::OtherReasons, e.to_string())
}

fn all_failed<R, T>(refs: Vec<R>, failure: Failure) -> Vec<(R, Result<T, Failure>)> {
    refs.into_iter()
        .map(|r| (r, Err(failure.clone())))
        .collect()
}

/// What the runtime brings back.
#[derive(Default)]
struct Fetches {
    secrets: Vec<(SecretRef, Result<Fetched, Failure>)>,
    configs: Vec<(ConfigRef, Result<Fetched, Failure>)>,
    tokens: Vec<(TokenRef, Result<Fetched, Failure>)>,
    links: Vec<(ConfigRef, SecretRef)>,
}

impl Fetches {
    fn into(self, resolution: &mut Resolution) {
        let secrets = self
            .secrets
            .into_iter()
            .map(|(r, o)| (Reference::Secret(r), o));
        let configs = self
            .configs
            .into_iter()
            .map(|(r, o)| (Reference::Config(r), o));
        let tokens = self
            .tokens
            .into_iter()
            .map(|(t, o)| (Reference::Token(t), o));
        for (r, outcome) in secrets.chain(configs).chain(tokens) {
            match outcome {
                Ok(value) => {
                    resolution.values.insert(r, value);
                }
                Err(failure) => {
                    resolution.failures.insert(r, failure);
                }
            }
        }
        for (config, secret) in self.links {
            let failure = resolution
                .failures
                .get(&Reference::Secret(secret.clone()))
                .cloned();
            match failure {
                Some(f) => {
                    let f = appconfig::chained_failure(&config, &secret, &f);
                    resolution.failures.insert(Reference::Config(config), f);
                }
                None => {
                    resolution.links.insert(config, secret);
                }
            }
        }
    }
}

/// The HTTP clients and the identity a session fetches with.
struct Clients {
    tls: std::sync::Arc<rustls::ClientConfig>,
    identity: identity::Identity,
    settings: Settings,
    /// The current round's deadline.
    deadline: std::cell::Cell<tokio::time::Instant>,
}

impl Clients {
    async fn fetch(&self, work: Work) -> Fetches {
        let Work {
            vaults,
            stores,
            tokens,
        } = work;
        let direct: BTreeSet<SecretRef> = vaults
            .values()
            .flat_map(|(_, refs)| refs.iter().cloned())
            .collect();
        let (secrets, configs, tokens) = futures::join!(
            self.secrets(vaults),
            self.configs(stores),
            self.tokens(tokens)
        );
        let mut fetches = Fetches {
            secrets,
            tokens,
            ..Fetches::default()
        };
        // Key-values that are Key Vault references: a second round, for the
        // secrets no direct reference fetched already.
        let mut chained: Group<SecretRef> = BTreeMap::new();
        for (config, outcome) in configs {
            let outcome = match outcome {
                Ok(KeyValue::Value(value)) => Ok(Fetched {
                    value,
                    version: None,
                    warning: None,
                    expires_on: None,
                }),
                Ok(KeyValue::KeyVault(secret)) => {
                    match vault::trust(&secret.vault, self.settings.cloud, &self.settings.allowed) {
                        Ok(trust) => {
                            let group = &mut chained
                                .entry(secret.vault.clone())
                                .or_insert((trust, Vec::new()))
                                .1;
                            if !direct.contains(&secret) && !group.contains(&secret) {
                                group.push(secret.clone());
                            }
                            fetches.links.push((config, secret));
                            continue;
                        }
                        Err(refused) => Err(appconfig::chained_failure(&config, &secret, &refused)),
                    }
                }
                Err(failure) => Err(failure),
            };
            fetches.configs.push((config, outcome));
        }
        chained.retain(|_, (_, refs)| !refs.is_empty());
        fetches.secrets.extend(self.secrets(chained).await);
        fetches
    }

    async fn secrets(
        &self,
        vaults: Group<SecretRef>,
    ) -> Vec<(SecretRef, Result<Fetched, Failure>)> {
        let each = vaults.into_iter().map(|(addr, (trust, refs))| {
            let gate = Gate::new(self.settings.http1_concurrency);
            let client = self.http(&gate).and_then(|http| {
                vault::client(
                    &addr,
                    trust,
                    self.settings.cloud,
                    &http,
                    self.identity.credential.clone(),
                    self.identity.forgetter(),
                )
            });
            async move {
                match client {
                    Ok(client) => {
                        let fetch = |r: SecretRef| {
                            let client = &client;
                            async move {
                                let outcome = self
                                    .bounded(
                                        &r,
                                        vault::fetch(client, &r, &|| self.identity.describe()),
                                    )
                                    .await;
                                (r, outcome)
                            }
                        };
                        // Under the cloud's suffix the token goes on the first
                        // request (the pre-authorisation policy), and the rest
                        // follow once its connection is up. Elsewhere the first
                        // request learns the vault's challenge alone; the rest
                        // then go out together instead of all drawing a 401.
                        let first = match trust {
                            vault::Trust::CloudSuffix => First::Connects,
                            vault::Trust::AllowListed => First::Answers,
                        };
                        self.all(refs, &gate, first, fetch).await
                    }
                    Err(e) => all_failed(refs, set_up_failed(&e)),
                }
            }
        });
        futures::future::join_all(each)
            .await
            .into_iter()
            .flatten()
            .collect()
    }

    async fn configs(
        &self,
        stores: Group<ConfigRef>,
    ) -> Vec<(ConfigRef, Result<KeyValue, Failure>)> {
        let each = stores.into_iter().map(|(addr, (_, refs))| {
            let gate = Gate::new(self.settings.http1_concurrency);
            let scope = self.settings.cloud.appconfig_scope();
            let store = self
                .http(&gate)
                .map_err(|e| set_up_failed(&e))
                .and_then(|http| {
                    let scope =
                        scope.ok_or_else(|| appconfig::undocumented_cloud(self.settings.cloud))?;
                    Ok(appconfig::store(
                        &addr,
                        scope,
                        &http,
                        self.identity.credential.clone(),
                    ))
                });
            async move {
                let store = match store {
                    Ok(store) => store,
                    Err(failure) => return all_failed(refs, failure),
                };
                let fetch = |r: ConfigRef| {
                    let store = &store;
                    async move {
                        let outcome = self
                            .bounded(
                                &r,
                                appconfig::fetch(store, &r, &|| self.identity.describe()),
                            )
                            .await;
                        (r, outcome)
                    }
                };
                self.all(refs, &gate, First::Connects, fetch).await
            }
        });
        futures::future::join_all(each)
            .await
            .into_iter()
            .flatten()
            .collect()
    }

    /// `--token`s: each scope once, from the same credential and token cache
    /// as the vaults'. The token is a secret from the moment it arrives.
    async fn tokens(&self, tokens: Vec<TokenRef>) -> Vec<(TokenRef, Result<Fetched, Failure>)> {
        let each = tokens.into_iter().map(|t| async move {
            let fetch = async {
                let token = self
                    .identity
                    .credential
                    .get_token(&[t.scope.as_str()], None)
                    .await
                    .map_err(|e| {
                        Failure::new(
                            Status::MSINotEnabled,
                            format!(
                                "no token for {} from {}: {}",
                                t.resource,
                                self.identity.describe(),
                                crate::error::chain(&e)
                            ),
                        )
                        .hint("check the identity; for a named resource, the --cloud")
                    })?;
                Ok(Fetched {
                    value: SecretBytes::from_string(token.token.secret().to_string()),
                    version: None,
                    warning: None,
                    expires_on: Some(token.expires_on),
                })
            };
            let outcome = self.bounded(&t, fetch).await;
            (t, outcome)
        });
        futures::future::join_all(each).await
    }

    /// The HTTP client for one vault or store in this round, whose first
    /// connection opens `gate`. A new one each round: connections left from an
    /// earlier round are closed by then, and TLS sessions resume across
    /// clients (the session cache lives in the TLS configuration).
    fn http(&self, gate: &Gate) -> Result<reqwest::Client, Error> {
        crate::http::host_client(&self.tls, &self.settings.resolve, gate)
    }

    /// Every item of one host, `--concurrency` at a time. The first goes out
    /// alone; the rest wait for what `first` says, then go out together, as
    /// many at once as the protocol of the host's first connection allows
    /// (`connection` is opened by it, see `http::Gate`).
    async fn all<R, T, F>(
        &self,
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
        let (fetch, settings) = (&fetch, &self.settings);
        let head = async move {
            let outcome = fetch(head).await;
            connection.ended();
            answered.open(Opened::FirstDone);
            connection.open(Opened::FirstDone);
            outcome
        };
        // Over HTTP/1.1 each request in flight is a connection: fewer at once.
        let http1 = tokio::sync::Semaphore::new(settings.http1_concurrency);
        let http1 = &http1;
        let rest = refs.map(|r| async move {
            match first {
                First::Connects => connection.opened().await,
                First::Answers => answered.opened().await,
            };
            // Only a connection known to speak HTTP/2 takes many at once; a
            // host whose protocol is unknown (its first request ended without
            // a connection) gets the HTTP/1.1 limit.
            let _permit = match connection.state() {
                Some(Opened::Http2) => None,
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
                    .buffer_unordered(settings.concurrency)
                    .collect(),
            )
            .await
    }

    /// One fetch under the run's deadline, with its line at `-v`.
    async fn bounded<T: Versioned>(
        &self,
        r: &impl Named,
        fetch: impl Future<Output = Result<T, Failure>>,
    ) -> Result<T, Failure> {
        let started = Instant::now();
        let last = LastHeard::child();
        let outcome = tokio::time::timeout_at(self.deadline.get(), last.scope(fetch))
            .await
            .unwrap_or_else(|_| Err(timed_out(r, self.settings.timeout, last.get())));
        let ms = started.elapsed().as_millis() as u64;
        match &outcome {
            Ok(fetched) => {
                let version = fetched.version().unwrap_or("-");
                tracing::info!(reference = r.named(), version, ms, "resolved")
            }
            Err(e) => tracing::info!(reference = r.named(), status = %e.status, ms, "failed"),
        }
        outcome
    }
}

/// What the `-v` line says was resolved.
trait Versioned {
    fn version(&self) -> Option<&str>;
}

impl Versioned for Fetched {
    fn version(&self) -> Option<&str> {
        self.version.as_deref()
    }
}

impl Versioned for KeyValue {
    fn version(&self) -> Option<&str> {
        None
    }
}

/// A fetch that ran out of time, with the last failure it heard of: the
/// vault's own (`last answer: HTTP 500`), or another host's, named.
fn timed_out(r: &impl Named, timeout: Duration, last: Option<Heard>) -> Failure {
    let heard = match last {
        Some(heard) if heard.host == r.host() || heard.host.is_empty() => format!(" ({heard})"),
        Some(heard) => format!(" ({heard}, from {})", heard.host),
        None => String::new(),
    };
    Failure::new(
        Status::FetchTimedOut,
        format!(
            "no answer for {} within {:.1} s (--timeout){heard}",
            r.named(),
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
                env: crate::identity::Snapshot::default(),
            },
            timeout: Duration::from_secs(1),
            concurrency: 4,
            http1_concurrency: 4,
        }
    }

    fn reference(host: &str, name: &str) -> Reference {
        Reference::Secret(SecretRef {
            vault: VaultAddr {
                host: host.into(),
                port: None,
            },
            name: name.into(),
            version: None,
        })
    }

    fn config(host: &str, key: &str) -> Reference {
        Reference::Config(ConfigRef {
            store: VaultAddr {
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
