//! Name resolution against a hostile DNS server on loopback: names pinned in
//! `/etc/hosts` never reach DNS (both address families), an unknown vault is
//! `VaultNotFound`, and a proxy that does not resolve is named as the proxy.
//!
//! Each kvenv runs in a private mount namespace (`unshare -m`) where
//! `/etc/hosts` and `/etc/resolv.conf` are the test's own, pointing at a fake
//! DNS server on 127.77.0.53:53: setting that up needs root, so these tests
//! are skipped without it (and fail under `KVENV_TEST_STRICT=1`).

use crate::support;

use kvenv_testkit::FakeDns;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::Path;
use std::time::{Duration, Instant};
use support::Kit;

/// The fake DNS server's address. A distinct loopback address keeps it clear
/// of any local resolver on 127.0.0.53.
const DNS_ADDR: &str = "127.77.0.53";

fn possible(test: &str) -> bool {
    support::need(
        support::is_root() && support::installed("unshare"),
        test,
        "needs root and unshare (util-linux) to give kvenv its own /etc/hosts and /etc/resolv.conf",
    )
}

/// Serialises the tests: they share port 53 on the fake's address.
static PORT_53: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Writes a hosts file and a resolv.conf into `dir`, and the shell prefix that
/// mounts them over the real ones inside the namespace.
fn private_files(dir: &Path, hosts: &str) -> String {
    let (h, r) = (dir.join("hosts"), dir.join("resolv.conf"));
    std::fs::write(&h, hosts).unwrap();
    std::fs::write(
        &r,
        format!("nameserver {DNS_ADDR}\noptions timeout:1 attempts:1\n"),
    )
    .unwrap();
    format!(
        "mount --bind {} /etc/hosts && mount --bind {} /etc/resolv.conf",
        h.display(),
        r.display()
    )
}

fn pinned_reference(kit: &Kit) -> String {
    format!(
        "@Microsoft.KeyVault(SecretUri=https://pinned.vault.azure.net:{}/secrets/s)",
        kit.azure.vault.port()
    )
}

#[test]
fn a_name_in_etc_hosts_never_reaches_dns() {
    if !possible("dns::a_name_in_etc_hosts_never_reaches_dns") {
        return;
    }
    let _port = PORT_53.lock().unwrap_or_else(|e| e.into_inner());
    let kit = Kit::new();
    kit.azure.vault.set_secret("s", "pinned-value-42");
    let dir = tempfile::tempdir().unwrap();
    let mounts = private_files(dir.path(), "127.0.0.1 pinned.vault.azure.net localhost\n");
    // First a DNS server that answers with other addresses (AAAA ::1 and A
    // 127.0.0.2, where nothing listens), then one that never answers.
    for answers in [
        (Some(Ipv4Addr::new(127, 0, 0, 2)), Some(Ipv6Addr::LOCALHOST)),
        (None, None),
    ] {
        let dns = FakeDns::start(&format!("{DNS_ADDR}:53"), answers.0, answers.1).unwrap();
        let started = Instant::now();
        let out = kit
            .bare()
            .args([
                "run",
                "--ca-file",
                &kit.azure.ca_file().display().to_string(),
            ])
            .env("S", pinned_reference(&kit))
            .probe()
            .go_within(&["unshare", "-m"], &mounts);
        out.assert_code(0);
        assert_eq!(out.child("S").unwrap(), "pinned-value-42");
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "{:?}",
            started.elapsed()
        );
        assert!(
            !dns.asked()
                .iter()
                .any(|n| n.starts_with("pinned.vault.azure.net")),
            "DNS was asked: {:?}",
            dns.asked()
        );
    }
}

#[test]
fn a_vault_dns_does_not_know_is_vault_not_found() {
    if !possible("dns::a_vault_dns_does_not_know_is_vault_not_found") {
        return;
    }
    let _port = PORT_53.lock().unwrap_or_else(|e| e.into_inner());
    let kit = Kit::new();
    let dir = tempfile::tempdir().unwrap();
    let mounts = private_files(dir.path(), "127.0.0.1 localhost\n");
    let dns = FakeDns::start(&format!("{DNS_ADDR}:53"), None, None).unwrap();
    dns.no_such_names();
    // Secret names that mention other failure kinds must not confuse the status.
    for name in ["tls-cert", "connect-timeout"] {
        let out = kit
            .bare()
            .arg("run")
            .env(
                "S",
                format!("@Microsoft.KeyVault(VaultName=nosuchvault;SecretName={name})"),
            )
            .probe()
            .go_within(&["unshare", "-m"], &mounts);
        out.assert_code(125);
        assert_eq!(
            out.stderr,
            "kvenv: S: VaultNotFound: nosuchvault.vault.azure.net does not resolve; check the vault name and private DNS\n"
        );
    }
    assert!(dns
        .asked()
        .iter()
        .any(|n| n == "nosuchvault.vault.azure.net"));
}

// Regression: with no network at all (a DNS server that never answers), the
// HTTP client's connect timeout cut each lookup off as a slow connection, so
// kvenv retried until --timeout and its line never said DNS failed.
#[test]
fn a_dns_server_that_never_answers_is_named_as_dns_before_the_timeout() {
    if !possible("dns::a_dns_server_that_never_answers_is_named_as_dns_before_the_timeout") {
        return;
    }
    let kit = Kit::new();
    let dir = tempfile::tempdir().unwrap();
    let (h, r) = (dir.path().join("hosts"), dir.path().join("resolv.conf"));
    std::fs::write(&h, "127.0.0.1 localhost\n").unwrap();
    // Nothing listens there; the resolver's own defaults (5 s, 2 attempts).
    std::fs::write(&r, "nameserver 127.77.0.59\n").unwrap();
    let mounts = format!(
        "mount --bind {} /etc/hosts && mount --bind {} /etc/resolv.conf",
        h.display(),
        r.display()
    );
    let started = Instant::now();
    let out = kit
        .bare()
        .args(["run", "--timeout", "60"])
        .env(
            "S",
            "@Microsoft.KeyVault(VaultName=nosuchvault;SecretName=s)",
        )
        .probe()
        .go_within(&["unshare", "-m"], &mounts);
    out.assert_code(125);
    assert_eq!(
        out.stderr,
        "kvenv: S: OtherReasons: nosuchvault.vault.azure.net could not be resolved: the DNS server did not answer in time; check /etc/resolv.conf and the network\n"
    );
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "took {:?}",
        started.elapsed()
    );
}

#[test]
fn a_proxy_that_does_not_resolve_is_named_as_the_proxy() {
    if !possible("dns::a_proxy_that_does_not_resolve_is_named_as_the_proxy") {
        return;
    }
    let _port = PORT_53.lock().unwrap_or_else(|e| e.into_inner());
    let kit = Kit::new();
    kit.azure.vault.set_secret("s", "proxied-value");
    let dir = tempfile::tempdir().unwrap();
    let mounts = private_files(dir.path(), "127.0.0.1 pinned.vault.azure.net localhost\n");
    let dns = FakeDns::start(&format!("{DNS_ADDR}:53"), None, None).unwrap();
    dns.no_such_names();
    let out = kit
        .bare()
        .args([
            "run",
            "--ca-file",
            &kit.azure.ca_file().display().to_string(),
        ])
        .env("HTTPS_PROXY", "http://proxy.corp.example:3128")
        .env("S", pinned_reference(&kit))
        .probe()
        .go_within(&["unshare", "-m"], &mounts);
    out.assert_code(125);
    assert!(
        out.stderr.starts_with(&format!(
            "kvenv: S: OtherReasons: proxy.corp.example, the proxy for pinned.vault.azure.net:{}, does not resolve (no such name); check HTTPS_PROXY",
            kit.azure.vault.port()
        )),
        "{}",
        out.stderr
    );
}
