//! Peak memory whatever a peer sends: an endless or oversized body from the
//! vault or an identity endpoint, and an environment that would multiply a
//! secret into gigabytes. The runs happen in a process of their own (this
//! test binary started again for this one test), so that the peak resident
//! size of that process's children (`getrusage(RUSAGE_CHILDREN)`) is kvenv's
//! in exactly these runs.

use crate::support;

use kvenv_testkit::{Behaviour, HostileServer, IdentityKind};
use support::Kit;

/// Peak resident size of any kvenv these runs started may not pass this.
const PEAK_MAX_KB: i64 = 50 * 1024;

/// Set in the process that makes the runs.
const ALONE: &str = "KVENV_TEST_MEMORY_ALONE";

#[test]
fn peak_memory_stays_bounded_whatever_a_server_sends() {
    if std::env::var_os(ALONE).is_none() {
        let status = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "bounded_memory::peak_memory_stays_bounded_whatever_a_server_sends",
                "--test-threads=1",
                "--quiet",
            ])
            .env(ALONE, "1")
            .output()
            .unwrap();
        assert!(
            status.status.success(),
            "the runs in their own process failed: {}\n{}",
            String::from_utf8_lossy(&status.stdout),
            String::from_utf8_lossy(&status.stderr)
        );
        return;
    }
    let kit = Kit::with(IdentityKind::Imds);
    kit.azure.vault.set_secret("s", "memory-value");
    for behaviour in [Behaviour::EndlessBody, Behaviour::Declared(100 << 20)] {
        let vault = HostileServer::start(
            Some(kit.azure.ca.server_config_http1(&["localhost"])),
            behaviour,
        );
        let out = kit
            .bare()
            .args([
                "run",
                "--timeout",
                "10",
                "--allow-host",
                &vault.host(),
                "--ca-file",
            ])
            .arg(kit.azure.ca_file().display().to_string())
            .env(
                "S",
                format!(
                    "@Microsoft.KeyVault(SecretUri=https://{}/secrets/s)",
                    vault.host()
                ),
            )
            .probe()
            .go();
        out.assert_code(125);
        let identity = HostileServer::start(None, behaviour);
        let out = kit
            .run()
            .args(["--credential", "managed-identity", "--timeout", "10"])
            .env(
                "AZURE_POD_IDENTITY_AUTHORITY_HOST",
                format!("http://{}", identity.host()),
            )
            .env("S", kit.azure.vault.reference("s"))
            .probe()
            .go();
        out.assert_code(125);
    }
    // 1.8 MB of environment, every reference to one 25 KB secret.
    kit.azure.vault.set_secret("big", &"v".repeat(25_000));
    let value = vec![kit.azure.vault.reference("big"); 30].join(",");
    let mut run = kit.run();
    for i in 0..(1_800_000 / value.len()) {
        run = run.env(&format!("V{i}"), value.clone());
    }
    run.probe().go().assert_code(125);

    let usage =
        nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_CHILDREN).unwrap();
    assert!(
        usage.max_rss() < PEAK_MAX_KB,
        "peak resident size {} KB",
        usage.max_rss()
    );
}
