//! The wire: HTTP/2 to a vault that offers it (one TCP connection, every
//! request multiplexed), HTTP/1.1 with pooled connections to one that does
//! not, and TLS sessions resumed across those connections.

use crate::support;

use support::Kit;

#[test]
fn under_http2_every_request_to_a_vault_shares_one_connection() {
    let kit = Kit::new();
    let mut run = kit.run().args(["--concurrency", "16"]);
    for i in 0..40 {
        let name = format!("h2-secret-{i}");
        kit.azure
            .vault
            .set_secret(&name, &format!("h2-value-{i}-x"));
        run = run.env(&format!("S{i}"), kit.azure.vault.reference(&name));
    }
    let out = run.probe().go();
    out.assert_code(0);
    assert_eq!(out.child("S39").unwrap(), "h2-value-39-x");
    assert_eq!(kit.azure.vault.connections(), 1, "one TCP connection");
    assert_eq!(kit.azure.vault.http2_connections(), 1, "negotiated h2");
}

/// Under the cloud's suffix the token goes on every request at once, so the
/// whole burst is ready together: the first request opens the connection and
/// the rest wait for it (otherwise each would open its own, with a full TLS
/// handshake, before learning the vault speaks h2).
#[test]
fn a_burst_to_a_suffix_host_opens_one_connection() {
    let kit = Kit::new();
    let mut run = kit
        .run_suffix(&kit.azure.vault, "burst")
        .args(["--concurrency", "64"]);
    for i in 0..60 {
        let name = format!("burst-{i}");
        kit.azure
            .vault
            .set_secret(&name, &format!("burst-value-{i}-z"));
        run = run.env(
            &format!("S{i}"),
            format!("@Microsoft.KeyVault(VaultName=burst;SecretName={name})"),
        );
    }
    let out = run.secret("burst-value").probe().go();
    out.assert_code(0);
    assert_eq!(out.child("S59").unwrap(), "burst-value-59-z");
    assert_eq!(kit.azure.vault.connections(), 1, "one TCP connection");
    assert_eq!(kit.azure.vault.http2_connections(), 1, "negotiated h2");
    // No challenge round first: every request carried the token.
    let challenged = kit
        .azure
        .vault
        .requests()
        .iter()
        .filter(|r| r.status == 401)
        .count();
    assert_eq!(challenged, 0);
}

#[test]
fn a_vault_without_http2_gets_pooled_http1_connections_that_resume_tls() {
    let kit = Kit::new();
    let vault = kit.azure.another_vault_http1();
    let mut run = kit
        .bare()
        .args(["run", "--allow-host", &vault.host(), "--ca-file"])
        .arg(kit.azure.ca_file().display().to_string())
        .args(["--concurrency", "8"]);
    for i in 0..40 {
        let name = format!("h1-secret-{i}");
        vault.set_secret(&name, &format!("h1-value-{i}-y"));
        run = run.env(&format!("S{i}"), vault.reference(&name));
    }
    let out = run.secret("h1-value").probe().go();
    out.assert_code(0);
    assert_eq!(out.child("S0").unwrap(), "h1-value-0-y");
    let connections = vault.connections();
    assert_eq!(vault.http2_connections(), 0);
    // Pooled: far fewer connections than the 40 requests. (The pool races a
    // new connection against an idle one freeing up, so a few more than
    // --concurrency can open.)
    assert!(
        (2..=16).contains(&connections),
        "{connections} connections for --concurrency 8"
    );
    // The first request goes alone (it learns the challenge); connections
    // opened after it resume its TLS session while tickets last (TLS 1.3
    // tickets are single-use and a server hands out a few per connection).
    let resumed = vault.resumed_handshakes();
    assert!(resumed >= 1, "{resumed} of {connections} resumed");
    eprintln!("HTTP/1.1: {connections} connections, {resumed} resumed TLS sessions");
}

/// Over HTTP/1.1 every request in flight is a connection of its own, so by
/// default far fewer go at once than the streams HTTP/2 would multiplex.
#[test]
fn by_default_a_vault_without_http2_gets_a_few_connections_not_one_per_request() {
    let kit = Kit::new();
    let vault = kit.azure.another_vault_http1();
    let mut run = kit.run_suffix(&vault, "old");
    for i in 0..60 {
        let name = format!("h1-default-{i}");
        vault.set_secret(&name, &format!("h1-default-value-{i}-w"));
        run = run.env(
            &format!("S{i}"),
            format!("@Microsoft.KeyVault(VaultName=old;SecretName={name})"),
        );
    }
    let out = run.secret("h1-default-value").probe().go();
    out.assert_code(0);
    assert_eq!(out.child("S59").unwrap(), "h1-default-value-59-w");
    assert_eq!(vault.http2_connections(), 0);
    let connections = vault.connections();
    // 16 at once plus the first; the pool may race a few more open.
    assert!(
        (2..=24).contains(&connections),
        "{connections} connections for 60 references"
    );
}
