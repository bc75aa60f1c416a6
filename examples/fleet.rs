//! Fleet simulation: N kvenv processes start at once (a deployment rolling out
//! N pods) against one fake vault that enforces a Key Vault-like limit, scaled
//! down so it bites, and an identity endpoint with its own per-second limit.
//! Both answer 429 with Retry-After beyond their limit. Reports how many
//! processes started their command, time to exec (p50/p99/max), requests
//! and 429s from the fakes' logs, and TCP connections to the vault.
//!
//!     cargo run --release --example fleet [-- PROCESSES [VAULT_LIMIT_PER_10S [IDENTITY_PER_S]]]

use kvenv_testkit::{FakeAzure, IdentityKind, RateLimit};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

fn main() {
    let arg = |i: usize, default: usize| {
        std::env::args()
            .nth(i)
            .and_then(|a| a.parse().ok())
            .unwrap_or(default)
    };
    let processes = arg(1, 500);
    let vault_limit = arg(2, 1000);
    let identity_limit = arg(3, 100);
    let window = Duration::from_secs(10);

    let kvenv = kvenv_testkit::kvenv_binary();
    let azure = FakeAzure::start(IdentityKind::AppService);
    // Each pod needs three secrets (a database password, an API key, a certificate password).
    const SECRETS: [&str; 3] = ["db-password", "api-key", "cert-password"];
    for name in SECRETS {
        azure.vault.set_secret(name, &format!("fleet-{name}"));
    }
    azure.vault.rate_limit(RateLimit::new(vault_limit, window));
    azure.identity.rate_limit(identity_limit);
    let port = azure.vault.port();

    eprintln!("fleet: {processes} processes; vault limit {vault_limit} requests / 10 s; identity limit {identity_limit} / s");
    let started = Instant::now();
    let mut children = Vec::with_capacity(processes);
    for _ in 0..processes {
        let child = Command::new(&kvenv)
            .args(["run", "--timeout", "60", "--ca-file"])
            .arg(azure.ca_file())
            .args([
                "--resolve",
                &format!("fleet.vault.azure.net=127.0.0.1:{port}"),
            ])
            .args(["--", "true"])
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .envs(azure.identity_env())
            .envs(SECRETS.map(|name| {
                (
                    name.to_uppercase().replace('-', "_"),
                    format!("@Microsoft.KeyVault(VaultName=fleet;SecretName={name})"),
                )
            }))
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn kvenv");
        children.push(child);
    }
    let spawned = started.elapsed();
    let mut times = Vec::new();
    let mut failures = Vec::new();
    // Poll so that each process's time to exit (≈ time to exec `true`) is seen when it happens.
    let mut pending: Vec<_> = children.into_iter().map(Some).collect();
    while pending.iter().any(Option::is_some) {
        for slot in pending.iter_mut() {
            if let Some(child) = slot {
                if let Some(status) = child.try_wait().expect("wait") {
                    let mut child = slot.take().unwrap();
                    let _ = child.wait(); // already exited: returns at once
                    if status.success() {
                        times.push(started.elapsed().as_secs_f64());
                    } else {
                        let mut err = String::new();
                        use std::io::Read;
                        child.stderr.take().map(|mut e| e.read_to_string(&mut err));
                        failures.push(err.lines().next().unwrap_or_default().to_string());
                    }
                }
            }
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    times.sort_by(|a, b| a.partial_cmp(b).unwrap());

    let vault = azure.vault.requests();
    let vault_429 = vault.iter().filter(|r| r.status == 429).count();
    let identity = azure.identity.requests();
    let identity_429 = identity.iter().filter(|r| r.status == 429).count();
    // What each process must do: one token request and one GET per secret (the
    // token goes on the first request: no challenge round trip for suffix hosts).
    let necessary_vault = SECRETS.len() * processes;
    let necessary_identity = processes;
    let drain = (necessary_vault as f64 / vault_limit as f64)
        .ceil()
        .max(1.0)
        * window.as_secs_f64();

    println!("| metric | value |\n|---|---|");
    println!(
        "| processes | {processes} (spawned in {:.2} s) |",
        spawned.as_secs_f64()
    );
    println!("| started their command | {} |", times.len());
    println!("| failed | {} |", failures.len());
    if !times.is_empty() {
        println!(
            "| time to exec p50 / p99 / max | {:.2} s / {:.2} s / {:.2} s |",
            percentile(&times, 0.5),
            percentile(&times, 0.99),
            times[times.len() - 1]
        );
    }
    println!(
        "| vault requests (necessary {necessary_vault}) | {} of which 429: {vault_429} |",
        vault.len()
    );
    println!(
        "| identity requests (necessary {necessary_identity}) | {} of which 429: {identity_429} |",
        identity.len()
    );
    println!(
        "| requests beyond necessary + 429s | vault {:.3}×, identity {:.3}× |",
        (vault.len() - vault_429) as f64 / necessary_vault as f64,
        (identity.len() - identity_429) as f64 / necessary_identity as f64
    );
    let connections = azure.vault.connections();
    println!(
        "| vault TCP connections | {connections} ({:.2} per process), HTTP/2: {} |",
        connections as f64 / processes as f64,
        azure.vault.http2_connections()
    );
    println!("| time the vault limit needs to drain the work | {drain:.0} s |");
    for f in failures.iter().take(5) {
        println!("failure: {f}");
    }
}
