//! Quickstart: starts loopback fakes of Azure (an App Service managed
//! identity endpoint and a Key Vault over HTTPS), then runs
//! `kvenv run -- sh -c '...'` with references in the environment and shows
//! what the command received. Nothing leaves the machine.
//!
//!     cargo run -p quickstart
//!
//! The program is kvenv too: it starts itself with `--as-kvenv` in place of
//! a separately built binary, so the first run builds once and later runs
//! start at once.

use kvenv_testkit::{FakeAzure, IdentityKind};
use std::ffi::OsString;
use std::process::Command;

/// The first argument that makes this program behave as `kvenv`.
const AS_KVENV: &str = "--as-kvenv";

fn main() {
    let mut args = std::env::args_os();
    let program = args.next().unwrap_or_default();
    let rest: Vec<OsString> = args.collect();
    if rest.first().is_some_and(|a| a == AS_KVENV) {
        let kvenv_args = std::iter::once(OsString::from("kvenv")).chain(rest.into_iter().skip(1));
        std::process::exit(kvenv::main_from(kvenv_args));
    }
    let _ = program;
    std::process::exit(quickstart());
}

fn quickstart() -> i32 {
    println!("Starting a fake App Service identity endpoint and a fake Key Vault on 127.0.0.1 ...");
    let azure = FakeAzure::start(IdentityKind::AppService);
    azure
        .vault
        .set_secret("db-password", "s3cr3t;with=odd\"chars");
    let version = azure.vault.set_secret("api-key", "key-v1");
    azure.vault.set_secret("api-key", "key-v2");

    let vault = azure.vault.url();
    // `myvault.vault.azure.net` is pinned to the fake vault with --resolve, so the
    // reference reads as it does in production.
    let env = [
        (
            "DB_PASSWORD",
            "@Microsoft.KeyVault(VaultName=myvault;SecretName=db-password)".to_string(),
        ),
        (
            "DATABASE_URL",
            "postgresql://app:@Microsoft.KeyVault(VaultName=myvault;SecretName=db-password;Encode=uri)@db:5432/app".to_string(),
        ),
        (
            "API_KEY_PINNED",
            format!("@Microsoft.KeyVault(SecretUri=https://myvault.vault.azure.net/secrets/api-key/{version})"),
        ),
        ("GREETING", "plain values pass through".to_string()),
    ];

    println!("The fake vault at {vault} (as myvault.vault.azure.net) holds db-password and two versions of api-key.");
    println!("The environment kvenv starts with:");
    for (k, v) in &env {
        println!("  {k}={v}");
    }
    let pin = format!("myvault.vault.azure.net={}", azure.vault.host());
    println!("\n$ kvenv run --resolve {pin} --ca-file <test CA> -- sh -c 'echo ...'\n");

    let myself = std::env::current_exe().expect("the quickstart's own path");
    let mut cmd = Command::new(myself);
    cmd.arg(AS_KVENV)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .envs(azure.identity_env())
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .args(["run", "--resolve", &pin, "--ca-file"])
        .arg(azure.ca_file())
        .args([
            "--",
            "sh",
            "-c",
            "echo \"the command (pid $$) sees these fake values from the fake vault:\"; \
             echo \"  DB_PASSWORD=$DB_PASSWORD\"; echo \"  DATABASE_URL=$DATABASE_URL\"; \
             echo \"  API_KEY_PINNED=$API_KEY_PINNED\"; echo \"  GREETING=$GREETING\"",
        ]);
    let status = cmd.status().expect("run kvenv");

    let exit = match status.code() {
        Some(code) => format!("with status {code}"),
        None => "by a signal".to_string(),
    };
    println!(
        "\nkvenv exited {exit}; the fake identity endpoint issued {} token(s); the fake vault saw:",
        azure.identity.tokens_issued()
    );
    for r in azure.vault.requests() {
        println!(
            "  {} {} -> {}{}",
            r.method,
            r.path,
            r.status,
            if r.authorized {
                ""
            } else {
                " (no token yet: challenge)"
            }
        );
    }
    status.code().unwrap_or(1)
    // The fakes stop and their temporary folder goes when `azure` drops here.
}
