//! The seam between the per-host loop and the services behind it: Key Vault
//! and App Configuration each say how to reach one host and how to fetch one
//! reference there; the loop, the deadline, the `-v` line and "every
//! reference of this host failed" are written once (`fetch.rs`).

use super::Settings;
use crate::appconfig::{self, KeyValue};
use crate::error::Failure;
use crate::http::First;
use crate::identity::Identity;
use crate::reference::{ConfigRef, HostAddr, Named, SecretRef};
use crate::vault::{self, Fetched, Trust};

/// A service kvenv fetches references from, one host at a time.
pub(super) trait Backend {
    /// A reference to this service.
    type Ref: Named;
    /// What talks to one host.
    type Client;
    /// What one fetch brings back.
    type Answer: Versioned;

    /// The client for `host` over `http`, and what the host's other requests
    /// wait for after the first; or the failure every reference there gets.
    fn connect(
        &self,
        host: &HostAddr,
        trust: Trust,
        http: reqwest::Client,
    ) -> Result<(Self::Client, First), Failure>;

    /// One reference.
    async fn fetch(&self, client: &Self::Client, r: &Self::Ref) -> Result<Self::Answer, Failure>;
}

/// What the `-v` line says was resolved.
pub(super) trait Versioned {
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

/// Key Vault secrets.
pub(super) struct KeyVault<'a> {
    pub settings: &'a Settings,
    pub identity: &'a Identity,
}

impl Backend for KeyVault<'_> {
    type Ref = SecretRef;
    type Client = azure_security_keyvault_secrets::SecretClient;
    type Answer = Fetched;

    fn connect(
        &self,
        host: &HostAddr,
        trust: Trust,
        http: reqwest::Client,
    ) -> Result<(Self::Client, First), Failure> {
        let client = vault::client(
            host,
            trust,
            self.settings.cloud,
            &http,
            self.identity.credential.clone(),
            self.identity.renewer(),
        )
        .map_err(|e| set_up_failed(&e))?;
        // Under the cloud's suffix the token goes on the first request (the
        // pre-authorisation policy), and the rest follow once its connection
        // is up. Elsewhere the first request learns the vault's challenge
        // alone; the rest then go out together instead of all drawing a 401.
        let first = match trust {
            Trust::CloudSuffix => First::Connects,
            Trust::AllowListed => First::Answers,
        };
        Ok((client, first))
    }

    async fn fetch(&self, client: &Self::Client, r: &SecretRef) -> Result<Fetched, Failure> {
        vault::fetch(client, r, &|| self.identity.describe()).await
    }
}

/// App Configuration key-values.
pub(super) struct AppConfiguration<'a> {
    pub settings: &'a Settings,
    pub identity: &'a Identity,
}

impl Backend for AppConfiguration<'_> {
    type Ref = ConfigRef;
    type Client = appconfig::Store;
    type Answer = KeyValue;

    fn connect(
        &self,
        host: &HostAddr,
        _trust: Trust,
        http: reqwest::Client,
    ) -> Result<(Self::Client, First), Failure> {
        let scope = self
            .settings
            .cloud
            .appconfig_scope()
            .ok_or_else(|| appconfig::undocumented_cloud(self.settings.cloud))?;
        let store = appconfig::store(host, scope, &http, self.identity.credential.clone());
        // The token goes on the first request: the rest follow its connection.
        Ok((store, First::Connects))
    }

    async fn fetch(&self, store: &Self::Client, r: &ConfigRef) -> Result<KeyValue, Failure> {
        appconfig::fetch(store, r, &|| self.identity.describe()).await
    }
}

/// What a reference gets when its host's client could not be set up.
pub(super) fn set_up_failed(e: &crate::error::Error) -> crate::error::Failure {
    crate::error::Failure::new(crate::error::Status::OtherReasons, e.to_string())
}
