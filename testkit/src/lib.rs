//! Loopback fakes of the Azure services kvenv talks to: a Key Vault over HTTPS
//! (certificate generated at start-up), the App Service / Container Apps identity
//! endpoint and the IMDS endpoint. They speak the real wire formats (challenge,
//! success and error bodies), log what they saw without values, and inject faults.
//!
//! Everything listens on 127.0.0.1 only; nothing here ever connects anywhere.

mod appconfig;
pub mod certs;
mod cli;
mod entra;
pub mod hostile;
mod http;
mod identity;
mod postgres;
mod tls;
mod vault;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

pub use appconfig::{FakeStore, StoreRequest, KEY_VAULT_REFERENCE};
pub use certs::{KeyKind, TestChain, Which};
pub use cli::FakeCli;
pub use entra::{EntraRequest, FakeEntra};
pub use hostile::{Behaviour, FakeDns, HostileServer};
pub use identity::{FakeIdentity, IdentityKind, IdentityRequest, ARC_TOKEN_FOLDER};
pub use postgres::Postgres;

/// Whether PostgreSQL is installed for the database tests.
pub fn postgres_installed() -> bool {
    postgres::installed()
}
pub use tls::TestCa;
pub use vault::{FakeVault, Fault, RateLimit, SecretMeta, VaultRequest};

/// Builds the `kvenv` binary in the profile of the running example (a no-op
/// when it is fresh) and returns its path: examples do not get it built for them.
pub fn kvenv_binary() -> PathBuf {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let profile_dir = std::env::current_exe()
        .expect("own path")
        .parent()
        .and_then(|p| p.parent())
        .expect("target/<profile>")
        .to_path_buf();
    let mut build = std::process::Command::new(cargo);
    build.args(["build", "--quiet", "--bin", "kvenv"]);
    if profile_dir.ends_with("release") {
        build.arg("--release");
    }
    let status = build.status().expect("run cargo build");
    assert!(status.success(), "cargo build --bin kvenv failed");
    profile_dir.join("kvenv")
}

/// The tokens the fake identity endpoints issued; the fake vault accepts exactly these.
#[derive(Clone, Default, Debug)]
pub struct TokenBook(Arc<Mutex<Vec<String>>>);

impl TokenBook {
    pub fn issue(&self) -> String {
        let token = format!("eyJ0eXAiOiJKV1Qi.fake-{}", random_hex(40));
        self.0.lock().unwrap().push(token.clone());
        token
    }

    pub fn contains(&self, token: &str) -> bool {
        self.0.lock().unwrap().iter().any(|t| t == token)
    }

    /// Every token issued so far (for leak sweeps).
    pub fn issued(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }
}

/// One Key Vault and one identity endpoint that share a token book and a CA,
/// with the CA certificate written to a temporary folder.
pub struct FakeAzure {
    pub vault: FakeVault,
    /// An App Configuration store sharing the CA and the tokens.
    pub store: FakeStore,
    pub identity: FakeIdentity,
    pub entra: FakeEntra,
    pub ca: TestCa,
    pub tokens: TokenBook,
    dir: tempfile::TempDir,
    ca_file: PathBuf,
}

impl FakeAzure {
    /// Starts a vault and an identity endpoint of the given kind.
    pub fn start(kind: IdentityKind) -> FakeAzure {
        let ca = TestCa::new();
        let tokens = TokenBook::default();
        let vault = FakeVault::start(&ca, tokens.clone());
        let store = FakeStore::start(&ca, tokens.clone());
        let identity = FakeIdentity::start(kind, tokens.clone());
        let entra = FakeEntra::start(&ca, tokens.clone());
        let dir = tempfile::tempdir().expect("temporary folder for the test CA");
        let ca_file = dir.path().join("ca.pem");
        std::fs::write(&ca_file, ca.cert_pem()).expect("write the test CA");
        FakeAzure {
            vault,
            store,
            identity,
            entra,
            ca,
            tokens,
            dir,
            ca_file,
        }
    }

    /// PEM file with the CA that signed the fake vault's certificate.
    pub fn ca_file(&self) -> &Path {
        &self.ca_file
    }

    /// A scratch folder that lives as long as the fakes.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The environment variables that point a managed-identity credential at the fake.
    pub fn identity_env(&self) -> Vec<(String, String)> {
        self.identity.env()
    }

    /// Starts another vault that shares this one's CA and tokens.
    pub fn another_vault(&self) -> FakeVault {
        FakeVault::start(&self.ca, self.tokens.clone())
    }

    /// Starts another vault, one that speaks only HTTP/1.1.
    pub fn another_vault_http1(&self) -> FakeVault {
        FakeVault::start_http1(&self.ca, self.tokens.clone())
    }
}

pub(crate) fn random_hex(len: usize) -> String {
    (0..len)
        .map(|_| char::from_digit(fastrand::u32(0..16), 16).unwrap())
        .collect()
}
