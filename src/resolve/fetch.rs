//! One round's fetching: every host's references through one loop (a
//! backend says how to reach the host and fetch one reference), a second
//! round for App Configuration values that are Key Vault references, and
//! `--token`s from the same credential. Each fetch runs under the round's
//! deadline.

use super::backend::{set_up_failed, AppConfiguration, Backend, KeyVault, Versioned};
use super::{Group, Resolution, Settings, Work};
use crate::appconfig::{self, KeyValue};
use crate::error::{Error, Failure, Status};
use crate::http::{Gate, Heard, Lane, LastHeard};
use crate::identity;
use crate::reference::{ConfigRef, Named, Reference, SecretRef};
use crate::secret::SecretBytes;
use crate::token::TokenRef;
use crate::vault::{self, Fetched};
use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::time::{Duration, Instant};

/// The same failure for every reference of a host whose client could not be made.
fn all_failed<R, T>(refs: Vec<R>, failure: Failure) -> Vec<(R, Result<T, Failure>)> {
    refs.into_iter()
        .map(|r| (r, Err(failure.clone())))
        .collect()
}

/// What the runtime brings back.
#[derive(Default)]
pub(super) struct Fetches {
    secrets: Vec<(SecretRef, Result<Fetched, Failure>)>,
    configs: Vec<(ConfigRef, Result<Fetched, Failure>)>,
    tokens: Vec<(TokenRef, Result<Fetched, Failure>)>,
    links: Vec<(ConfigRef, SecretRef)>,
}

impl Fetches {
    pub(super) fn into(self, resolution: &mut Resolution) {
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
pub(super) struct Clients {
    pub tls: std::sync::Arc<rustls::ClientConfig>,
    pub identity: identity::Identity,
    pub settings: Settings,
    /// The current round's deadline.
    pub deadline: std::cell::Cell<tokio::time::Instant>,
}

impl Clients {
    pub(super) async fn fetch(&self, work: Work) -> Fetches {
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
                    meta: Default::default(),
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
        let backend = KeyVault {
            settings: &self.settings,
            identity: &self.identity,
        };
        self.each_host(&backend, vaults).await
    }

    async fn configs(
        &self,
        stores: Group<ConfigRef>,
    ) -> Vec<(ConfigRef, Result<KeyValue, Failure>)> {
        let backend = AppConfiguration {
            settings: &self.settings,
            identity: &self.identity,
        };
        self.each_host(&backend, stores).await
    }

    /// Every host of one backend at once, each through its lane; a host whose
    /// client cannot be made fails all of its references alike.
    async fn each_host<B: Backend>(
        &self,
        backend: &B,
        hosts: Group<B::Ref>,
    ) -> Vec<(B::Ref, Result<B::Answer, Failure>)> {
        let each = hosts.into_iter().map(|(addr, (trust, refs))| async move {
            let gate = Gate::new(self.settings.http1_concurrency);
            let connected = self
                .http(&gate)
                .map_err(|e| set_up_failed(&e))
                .and_then(|http| backend.connect(&addr, trust, http));
            let (client, first) = match connected {
                Ok(both) => both,
                Err(failure) => return all_failed(refs, failure),
            };
            let client = &client;
            let one = |r: B::Ref| async move {
                let outcome = self.bounded(&r, backend.fetch(client, &r)).await;
                (r, outcome)
            };
            self.lane().all(refs, &gate, first, one).await
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
                    meta: Default::default(),
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

    /// How many of a host's requests may be in flight.
    fn lane(&self) -> Lane {
        Lane {
            concurrency: self.settings.concurrency,
            http1_concurrency: self.settings.http1_concurrency,
        }
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

/// A fetch that ran out of time, with the last failure it heard of: the
/// vault's own (`last answer: HTTP 500`), or another host's, named.
pub(super) fn timed_out(r: &impl Named, timeout: Duration, last: Option<Heard>) -> Failure {
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
