//! A small descriptor limit is back-pressure, not a failure: with `ulimit -n`
//! low, connections wait for a free descriptor within `--timeout`, and when
//! none comes the line names the limit.

use crate::support;

use support::Kit;

// Regression: with `ulimit -n 64`, 145 of 200 references failed in 0.15 s
// with "Too many open files ... check the host, port and network", though a
// run that waits for descriptors needs fewer than 20.
#[test]
fn two_hundred_references_resolve_under_a_small_descriptor_limit() {
    for (limit, http1) in [(24, false), (64, false), (24, true), (64, true)] {
        let kit = Kit::new();
        let http1_vault = http1.then(|| kit.azure.another_vault_http1());
        let vault = http1_vault.as_ref().unwrap_or(&kit.azure.vault);
        let mut run = kit
            .bare()
            .args(["run", "--allow-host", &vault.host(), "--ca-file"])
            .arg(kit.azure.ca_file().display().to_string());
        for i in 0..200 {
            let name = format!("s{i}");
            vault.set_secret(&name, &format!("fd-value-{i:03}-x"));
            run = run.env(&format!("V{i}"), vault.reference(&name));
        }
        let out = run
            .secret("fd-value-")
            .probe()
            .go_after(&format!("ulimit -n {limit}"));
        assert_eq!(
            out.code,
            Some(0),
            "limit {limit}, HTTP/1.1 {http1}: {}",
            out.stderr
        );
        for i in [0, 99, 199] {
            assert_eq!(
                out.child(&format!("V{i}")).unwrap(),
                format!("fd-value-{i:03}-x")
            );
        }
    }
}

// When no descriptor ever frees up, the line names the limit, within --timeout.
// (How many descriptors kvenv has open before it connects varies a little, so
// a few limits are tried: each run is one line and 125, or a success.)
#[test]
fn with_no_descriptor_to_spare_the_line_names_the_limit() {
    let kit = Kit::new();
    kit.azure.vault.set_secret("s", "fd-starved-value");
    let mut named = 0;
    for limit in 8..=12 {
        let started = std::time::Instant::now();
        let out = kit
            .run()
            .args(["--timeout", "2"])
            .env("S", kit.azure.vault.reference("s"))
            .probe()
            .go_after(&format!("ulimit -n {limit}"));
        assert!(
            started.elapsed() < std::time::Duration::from_secs(8),
            "limit {limit}: past --timeout"
        );
        match out.code {
            Some(0) => assert_eq!(out.child("S").unwrap(), "fd-starved-value"),
            Some(125) => assert_eq!(out.stderr.lines().count(), 1, "{}", out.stderr),
            other => panic!("limit {limit}: {other:?}: {}", out.stderr),
        }
        if out.stderr.contains(&format!(
            "out of file descriptors (this process may open {limit}: ulimit -n)"
        )) {
            named += 1;
        }
    }
    assert!(named >= 1, "no run named the descriptor limit");
}
