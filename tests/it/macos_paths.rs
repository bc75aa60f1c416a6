//! The paths macOS takes and Linux does not, taken on Linux
//! (`KVENV_TEST_PATHS=macos`): templates through a pipe, read once; the
//! ignored signals read with `sigaction`; no `--on-change signal:NAME` for
//! templates.

use crate::support;

use std::time::Duration;
use support::{eventually, lines, Kit};

fn macos(kit: &Kit) -> support::Run<'_> {
    kit.run().env("KVENV_TEST_PATHS", "macos")
}

fn template(kit: &Kit, name: &str, text: &str) -> String {
    let path = kit.azure.dir().join(name);
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

#[test]
fn a_template_is_a_pipe_that_holds_it_whole() {
    let kit = Kit::new();
    kit.azure.vault.set_secret("pg", "pipe-delivered-secret");
    let tmpl = template(
        &kit,
        "pgpass.tmpl",
        &format!("*:*:*:app:{}\n", kit.azure.vault.reference("pg")),
    );
    let dir = tempfile::tempdir().unwrap();
    let seen = dir.path().join("seen");
    let check =
        "{ test -p \"$F\" && echo pipe; cat \"$F\"; printf '[%s]' \"$(cat \"$F\")\"; } > \"$1\"";
    let seen_by = |run: support::Run<'_>| {
        run.args(["--template", &format!("{tmpl}=F")])
            .command(["sh", "-c", check, "sh", &seen.display().to_string()])
            .go()
            .assert_code(0);
        std::fs::read_to_string(&seen).unwrap()
    };
    // Read once: the second read finds the pipe empty.
    assert_eq!(
        seen_by(macos(&kit)),
        "pipe\n*:*:*:app:pipe-delivered-secret\n[]"
    );
    // The same run on Linux's path gets a memfd, not a pipe, read again.
    assert_eq!(
        seen_by(kit.run()),
        "*:*:*:app:pipe-delivered-secret\n[*:*:*:app:pipe-delivered-secret]"
    );
}

#[test]
fn a_template_larger_than_a_pipe_holds_is_one_line_and_125() {
    let kit = Kit::new();
    kit.azure.vault.set_secret("big", &"x".repeat(20_000));
    let tmpl = template(&kit, "big.tmpl", &kit.azure.vault.reference("big"));
    let out = macos(&kit)
        .args(["--template", &format!("{tmpl}=F")])
        .command(["sh", "-c", "echo started"])
        .go();
    out.assert_code(125);
    assert_eq!(out.stdout, "", "the command did not start");
    assert_eq!(out.stderr.lines().count(), 1, "{}", out.stderr);
    assert!(
        out.stderr.contains("big.tmpl") && out.stderr.contains("pipe"),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("xxxx"), "{}", out.stderr);
}

#[test]
fn signal_on_change_with_a_template_is_refused_and_restart_delivers_anew() {
    let kit = Kit::new();
    kit.azure.vault.set_secret("s", "pipe-one-111");
    let tmpl = template(
        &kit,
        "app.conf",
        &format!("password={}\n", kit.azure.vault.reference("s")),
    );
    let watching = |kit| {
        macos(kit).args([
            "--watch",
            "--refresh-interval",
            "1s",
            "--stop-timeout",
            "3s",
            "--template",
            &format!("{tmpl}=T"),
        ])
    };
    let out = watching(&kit)
        .args(["--on-change", "signal:HUP"])
        .command(["sh", "-c", "echo started"])
        .go();
    out.assert_code(125);
    assert_eq!(out.stdout, "");
    assert_eq!(out.stderr.lines().count(), 1, "{}", out.stderr);
    assert!(out.stderr.contains("--on-change"), "{}", out.stderr);

    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log");
    let running = watching(&kit)
        .env("LOG", log.display().to_string())
        .command(["sh", "-c", "cat \"$T\" >> \"$LOG\"; exec sleep 60"])
        .spawn();
    assert!(
        eventually(Duration::from_secs(5), || lines(&log).len() == 1),
        "{}",
        running.stderr()
    );
    kit.azure.vault.set_secret("s", "pipe-two-222");
    assert!(
        eventually(Duration::from_secs(6), || lines(&log).len() == 2),
        "{}",
        running.stderr()
    );
    assert_eq!(
        lines(&log),
        ["password=pipe-one-111", "password=pipe-two-222"]
    );
}

/// SigIgn's standard signals (1 to 31) in a `/proc/PID/status` text.
fn standard_ignored(status: &str) -> u64 {
    let hex = status
        .lines()
        .find_map(|l| l.strip_prefix("SigIgn:"))
        .unwrap()
        .trim();
    u64::from_str_radix(hex, 16).unwrap() & 0x7fff_ffff
}

#[test]
fn the_supervised_command_ignores_what_kvenv_was_started_ignoring() {
    let kit = Kit::new();
    let dir = tempfile::tempdir().unwrap();
    let hup = 1u64;
    let usr1 = 1u64 << 9;
    for (what, prefix, added) in [
        ("as started", "true", 0u64),
        ("HUP ignored", "trap '' HUP", hup),
        ("HUP and USR1 ignored", "trap '' HUP USR1", hup | usr1),
    ] {
        let name = what.replace(' ', "-");
        let (plain, watched) = (
            dir.path().join(format!("plain-{name}")),
            dir.path().join(format!("watched-{name}")),
        );
        // What a plain start of the same shell ignores: the baseline, which
        // holds whatever the tests themselves were started ignoring.
        kit.bare()
            .go_shell(&format!(
                "{prefix}; exec sh -c 'cat /proc/self/status > \"$1\"' sh {}",
                plain.display()
            ))
            .assert_code(0);
        macos(&kit)
            .args(["--watch", "--refresh-interval", "1s"])
            .command([
                "sh",
                "-c",
                "cat /proc/self/status > \"$1\"",
                "sh",
                &watched.display().to_string(),
            ])
            .go_after(prefix)
            .assert_code(0);
        let read = |p: &std::path::Path| standard_ignored(&std::fs::read_to_string(p).unwrap());
        let (plain, watched) = (read(&plain), read(&watched));
        assert_eq!(watched, plain, "{what}");
        assert_eq!(watched & added, added, "{what}");
    }
}
