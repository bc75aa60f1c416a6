//! The kvenv binary under test, whichever it is: this build's, or a cross
//! build that `scripts/cross.sh` hands over (`KVENV_TEST_BINARY`, for musl
//! and aarch64; under `qemu-aarch64-static` through `KVENV_TEST_LAUNCHER`).
//! Its arguments reach it, it resolves from the loopback fakes and execs, and
//! exit codes keep their meanings.

use crate::support;

use support::Kit;

// Regression: a musl build read no arguments (its std left argv to glibc's
// way of passing it), so `kvenv --version` printed the help and `kvenv run --
// ...` exited 125.
#[test]
fn arguments_reach_it_and_it_resolves_and_execs() {
    let out = support::kvenv_command().arg("--version").output().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("kvenv {}\n", env!("CARGO_PKG_VERSION"))
    );
    let kit = Kit::new();
    kit.azure.vault.set_secret("db", "built-value-4242");
    let out = kit
        .run()
        .env("DB_PASSWORD", kit.azure.vault.reference("db"))
        .env("PLAIN", "kept")
        .probe()
        .go();
    out.assert_code(0);
    assert_eq!(out.child("DB_PASSWORD").unwrap(), "built-value-4242");
    assert_eq!(out.child("PLAIN").unwrap(), "kept");
    for code in [0, 3, 255] {
        let out = kit
            .run()
            .command(["sh", "-c", &format!("exit {code}")])
            .go();
        assert_eq!(out.code, Some(code));
    }
    let out = kit.run().command(["/nonexistent/command"]).go();
    out.assert_code(127);
    let out = kit
        .run()
        .env("DB_PASSWORD", kit.azure.vault.reference("absent"))
        .probe()
        .go();
    out.assert_code(125);
    assert!(out.child_env.is_none());
}
