//! `kvenv run --watch` end to end: rotation restarts the command, a template-only
//! change with `signal:HUP` rewrites the file and signals the same process,
//! pinned references are never asked again, a failing refresh leaves the
//! command alone, signals are forwarded, exit codes pass through, zombies are
//! reaped as PID 1, kvenv stays non-dumpable, and polls are spread by jitter.

use crate::support;

use nix::sys::signal::Signal;
use std::time::{Duration, Instant};
use support::{eventually, Kit};

use support::lines;

/// A watching run with a short interval.
fn watching(kit: &Kit) -> support::Run<'_> {
    kit.run().args([
        "--watch",
        "--refresh-interval",
        "1s",
        "--stop-timeout",
        "3s",
    ])
}

#[test]
fn a_rotated_secret_restarts_the_command_with_the_new_value() {
    let kit = Kit::new();
    let v1 = kit.azure.vault.set_secret("s", "watch-value-one-111");
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log");
    let running = watching(&kit)
        .env("S", kit.azure.vault.reference("s"))
        .env("LOG", log.display().to_string())
        .command(["sh", "-c", "echo \"$$ $S\" >> \"$LOG\"; exec sleep 60"])
        .spawn();
    assert!(
        eventually(Duration::from_secs(5), || lines(&log).len() == 1),
        "{}",
        running.stderr()
    );
    let v2 = kit.azure.vault.set_secret("s", "watch-value-two-222");
    assert!(
        eventually(Duration::from_secs(6), || lines(&log).len() == 2),
        "{}",
        running.stderr()
    );
    let seen = lines(&log);
    assert!(
        seen[0].ends_with(" watch-value-one-111") && seen[1].ends_with(" watch-value-two-222"),
        "{seen:?}"
    );
    assert_ne!(
        seen[0].split(' ').next(),
        seen[1].split(' ').next(),
        "a new process"
    );
    let stderr = running.stderr();
    assert!(
        stderr.contains(&format!("{v1} -> {v2}")) && stderr.contains("restarting the command"),
        "{stderr}"
    );
    assert_eq!(
        stderr.lines().count(),
        2,
        "the interval warning and one line per action: {stderr}"
    );
    running.signal(Signal::SIGTERM);
    let out = running.wait(Duration::from_secs(10));
    assert_eq!(
        out.code,
        Some(143),
        "the command died of SIGTERM: {}",
        out.stderr
    );
}

#[test]
fn a_template_only_change_with_signal_hup_rewrites_the_file_for_the_same_process() {
    let kit = Kit::new();
    kit.azure.vault.set_secret("s", "template-one-333");
    let dir = tempfile::tempdir().unwrap();
    let (template, log, pids) = (
        dir.path().join("app.conf"),
        dir.path().join("log"),
        dir.path().join("pids"),
    );
    std::fs::write(
        &template,
        format!("password={}\n", kit.azure.vault.reference("s")),
    )
    .unwrap();
    let script = "echo $$ >> \"$PIDS\"; trap 'cat \"$T\" >> \"$LOG\"' HUP; cat \"$T\" >> \"$LOG\"; while :; do sleep 0.1; done";
    let running = watching(&kit)
        .args([
            "--on-change",
            "signal:HUP",
            "--template",
            &format!("{}=T", template.display()),
        ])
        .env("LOG", log.display().to_string())
        .env("PIDS", pids.display().to_string())
        .command(["sh", "-c", script])
        .spawn();
    assert!(
        eventually(Duration::from_secs(5), || lines(&log).len() == 1),
        "{}",
        running.stderr()
    );
    kit.azure.vault.set_secret("s", "template-two-444");
    assert!(
        eventually(Duration::from_secs(6), || lines(&log).len() == 2),
        "{}",
        running.stderr()
    );
    assert_eq!(
        lines(&log),
        ["password=template-one-333", "password=template-two-444"]
    );
    assert_eq!(lines(&pids).len(), 1, "the same process, signalled");
    assert!(
        running.stderr().contains("rewrote") && running.stderr().contains("sent SIGHUP"),
        "{}",
        running.stderr()
    );
    running.signal(Signal::SIGTERM);
    assert_eq!(running.wait(Duration::from_secs(10)).code, Some(143));
}

#[test]
fn a_changed_variable_restarts_even_with_signal_on_change() {
    let kit = Kit::new();
    kit.azure.vault.set_secret("s", "variable-one-555");
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log");
    let running = watching(&kit)
        .args(["--on-change", "signal:HUP"])
        .env("S", kit.azure.vault.reference("s"))
        .env("LOG", log.display().to_string())
        .command(["sh", "-c", "echo \"$S\" >> \"$LOG\"; exec sleep 60"])
        .spawn();
    assert!(eventually(Duration::from_secs(5), || lines(&log).len() == 1));
    kit.azure.vault.set_secret("s", "variable-two-666");
    assert!(
        eventually(Duration::from_secs(6), || lines(&log).len() == 2),
        "{}",
        running.stderr()
    );
    assert!(
        running.stderr().contains("variables S changed"),
        "{}",
        running.stderr()
    );
    running.signal(Signal::SIGTERM);
    running.wait(Duration::from_secs(10));
}

#[test]
fn a_pinned_reference_is_never_asked_again() {
    let kit = Kit::new();
    let v1 = kit.azure.vault.set_secret("pinned", "pinned-value-777");
    kit.azure.vault.set_secret("latest", "latest-value-888");
    let uri = kit.azure.vault.secret_uri("pinned");
    // At -vv too: the leak sweep in `wait` covers everything kvenv printed.
    let running = watching(&kit)
        .arg("-vv")
        .env("P", format!("@Microsoft.KeyVault(SecretUri={uri}{v1})"))
        .env("L", kit.azure.vault.reference("latest"))
        .command(["sleep", "60"])
        .spawn();
    std::thread::sleep(Duration::from_millis(3500));
    assert_eq!(kit.azure.vault.gets_of("pinned"), 1);
    assert!(
        kit.azure.vault.gets_of("latest") >= 3,
        "{}",
        kit.azure.vault.gets_of("latest")
    );
    running.signal(Signal::SIGTERM);
    running.wait(Duration::from_secs(10));
}

#[test]
fn a_failing_refresh_leaves_a_healthy_command_alone() {
    let kit = Kit::new();
    kit.azure.vault.set_secret("s", "healthy-value-999");
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log");
    let mut running = watching(&kit)
        .args(["--timeout", "1"])
        .env("S", kit.azure.vault.reference("s"))
        .env("LOG", log.display().to_string())
        .command(["sh", "-c", "echo \"$$\" >> \"$LOG\"; exec sleep 60"])
        .spawn();
    assert!(eventually(Duration::from_secs(5), || lines(&log).len() == 1));
    kit.azure
        .vault
        .fault("s", kvenv_testkit::Fault::status(500, 1000));
    assert!(
        eventually(Duration::from_secs(8), || running
            .stderr()
            .matches("keeping the current value")
            .count()
            >= 2),
        "{}",
        running.stderr()
    );
    kit.azure.vault.deny("s");
    std::thread::sleep(Duration::from_millis(1500));
    assert!(running.alive());
    assert_eq!(lines(&log).len(), 1, "never restarted");
    let stderr = running.stderr();
    assert!(
        stderr.contains("refresh of") && stderr.contains("(used by S) failed:"),
        "{stderr}"
    );
    // Regression: a refresh that got 500 until --timeout said only "slow or unreachable".
    let timed_out = stderr
        .lines()
        .find(|l| l.contains("FetchTimedOut"))
        .unwrap_or_else(|| panic!("{stderr}"));
    assert!(timed_out.contains("(last answer: HTTP 500)"), "{timed_out}");
    running.signal(Signal::SIGTERM);
    running.wait(Duration::from_secs(10));
}

#[test]
fn signals_are_forwarded_and_the_commands_exit_code_is_kvenvs() {
    let kit = Kit::new();
    kit.azure.vault.set_secret("s", "signal-value-1212");
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log");
    let names = ["HUP", "INT", "QUIT", "USR1", "USR2", "WINCH"];
    let traps: String = names
        .iter()
        .map(|n| format!("trap 'echo {n} >> \"$LOG\"' {n}; "))
        .collect();
    let script = format!("{traps} trap 'echo TERM >> \"$LOG\"; exit 7' TERM; echo ready >> \"$LOG\"; while :; do sleep 0.05; done");
    let running = watching(&kit)
        .env("S", kit.azure.vault.reference("s"))
        .env("LOG", log.display().to_string())
        .command(["sh", "-c", &script])
        .spawn();
    assert!(eventually(Duration::from_secs(5), || lines(&log).len() == 1));
    for (signal, name) in [
        (Signal::SIGHUP, "HUP"),
        (Signal::SIGINT, "INT"),
        (Signal::SIGQUIT, "QUIT"),
        (Signal::SIGUSR1, "USR1"),
        (Signal::SIGUSR2, "USR2"),
        (Signal::SIGWINCH, "WINCH"),
    ] {
        running.signal(signal);
        assert!(
            eventually(Duration::from_secs(3), || lines(&log)
                .last()
                .map(String::as_str)
                == Some(name)),
            "{name}: {:?}",
            lines(&log)
        );
    }
    running.signal(Signal::SIGTERM);
    let out = running.wait(Duration::from_secs(10));
    assert_eq!(out.code, Some(7));
    assert_eq!(lines(&log).last().map(String::as_str), Some("TERM"));
}

#[test]
fn a_command_that_ends_by_itself_is_never_restarted() {
    let kit = Kit::new();
    kit.azure.vault.set_secret("s", "ending-value-1313");
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log");
    for (script, code) in [("exit 3", 3), ("kill -9 $$", 137)] {
        let out = watching(&kit)
            .env("S", kit.azure.vault.reference("s"))
            .env("LOG", log.display().to_string())
            .command([
                "sh",
                "-c",
                &format!("echo start >> \"$LOG\"; sleep 1.5; {script}"),
            ])
            .spawn()
            .wait(Duration::from_secs(10));
        assert_eq!(out.code, Some(code), "{script}: {}", out.stderr);
    }
    assert_eq!(lines(&log).len(), 2, "each started once");
}

#[test]
fn kvenv_stays_non_dumpable_while_the_command_gets_the_original_core_limit() {
    let kit = Kit::new();
    kit.azure.vault.set_secret("s", "dump-value-1414");
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log");
    let running = watching(&kit)
        .env("S", kit.azure.vault.reference("s"))
        .env("LOG", log.display().to_string())
        .command(["sh", "-c", "ulimit -S -c >> \"$LOG\"; exec sleep 60"])
        .spawn_after("ulimit -S -c 4096");
    assert!(eventually(Duration::from_secs(5), || lines(&log).len() == 1));
    assert_eq!(
        lines(&log),
        ["4096"],
        "the command's soft core limit is the original"
    );
    // kvenv gives its own limit back to the child only for the instant of
    // the spawn; a loaded machine may read it inside that instant.
    let core = || {
        let limits = std::fs::read_to_string(format!("/proc/{}/limits", running.pid())).unwrap();
        limits
            .lines()
            .find(|l| l.starts_with("Max core file size"))
            .unwrap()
            .to_string()
    };
    assert!(
        eventually(Duration::from_secs(2), || core().split_whitespace().nth(4)
            == Some("0")),
        "{}",
        core()
    );
    running.signal(Signal::SIGTERM);
    running.wait(Duration::from_secs(10));
}

#[test]
fn as_pid_1_orphans_are_reaped() {
    if !support::need(
        support::is_root() && support::installed("unshare"),
        "watch::as_pid_1_orphans_are_reaped",
        "needs root and unshare (util-linux) for a PID namespace",
    ) {
        return;
    }
    let kit = Kit::new();
    kit.azure.vault.set_secret("s", "pid1-value-1515");
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log");
    // An orphan (a background sleep whose shell is gone) becomes kvenv's child;
    // afterwards no process in the namespace may be a zombie.
    let script = "sh -c 'sleep 0.3 &'; sleep 1.5; grep -l '^State:.*Z' /proc/[0-9]*/status 2>/dev/null | wc -l >> \"$LOG\"; echo $PPID >> \"$LOG\"";
    let out = watching(&kit)
        .env("S", kit.azure.vault.reference("s"))
        .env("LOG", log.display().to_string())
        .command(["sh", "-c", script])
        .spawn_after("exec unshare --pid --fork --mount-proc \"$@\"")
        .wait(Duration::from_secs(20));
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert_eq!(
        lines(&log),
        ["0", "1"],
        "no zombie; the command's parent, kvenv, was PID 1"
    );
}

#[test]
fn jitter_spreads_the_polls_of_watchers_started_together() {
    let kit = Kit::new();
    kit.azure.vault.set_secret("s", "fleet-value-1616");
    let started = Instant::now();
    let fleet: Vec<_> = (0..50)
        .map(|_| {
            watching(&kit)
                .env("S", kit.azure.vault.reference("s"))
                .command(["sleep", "60"])
                .spawn()
        })
        .collect();
    std::thread::sleep(Duration::from_millis(2200));
    // The first refresh of each watcher: the fetches after the initial ones.
    let mut times: Vec<Duration> = kit
        .azure
        .vault
        .requests()
        .iter()
        .filter(|r| r.authorized && r.status == 200)
        .map(|r| r.at.duration_since(started))
        .collect();
    times.sort();
    let refreshes = &times[50.min(times.len())..];
    assert!(refreshes.len() >= 40, "{} refreshes", refreshes.len());
    let first_round: Vec<Duration> = refreshes.iter().take(50).copied().collect();
    let spread = first_round[first_round.len() - 1] - first_round[0];
    assert!(
        spread >= Duration::from_millis(200),
        "polls within {spread:?}: not spread"
    );
    // How bursty the polls are is measured by `examples/fleet_watch.rs`, not
    // asserted here: on a loaded machine it depends on scheduling.
    for running in fleet {
        running.signal(Signal::SIGTERM);
        running.wait(Duration::from_secs(10));
    }
}

#[test]
fn sigterm_during_a_restart_stops_everything_with_143() {
    let kit = Kit::new();
    kit.azure.vault.set_secret("s", "restart-one-1717");
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log");
    // The command ignores the stop signal, so the restart waits out --stop-timeout.
    let running = watching(&kit)
        .env("S", kit.azure.vault.reference("s"))
        .env("LOG", log.display().to_string())
        .command([
            "sh",
            "-c",
            "trap '' TERM; echo $$ >> \"$LOG\"; while :; do sleep 0.05; done",
        ])
        .spawn();
    assert!(eventually(Duration::from_secs(5), || lines(&log).len() == 1));
    let pid: i32 = lines(&log)[0].parse().unwrap();
    kit.azure.vault.set_secret("s", "restart-two-1818");
    assert!(eventually(Duration::from_secs(6), || running
        .stderr()
        .contains("restarting the command")));
    running.signal(Signal::SIGTERM);
    let out = running.wait(Duration::from_secs(10));
    assert_eq!(out.code, Some(143), "{}", out.stderr);
    assert_eq!(lines(&log).len(), 1, "not started again");
    let gone = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None).is_err();
    assert!(gone, "the command was not left behind");
}

// Regression: a stderr that broke while kvenv watched killed it by SIGPIPE at
// its next rotation line (or aborted it, with SIGPIPE ignored or fd 2
// closed), leaving the command running as an orphan.
#[test]
fn a_stderr_that_breaks_while_watching_kills_neither_kvenv_nor_the_command() {
    for (what, prefix) in [
        ("SIGPIPE default", "true"),
        ("SIGPIPE ignored", "trap '' PIPE"),
        ("fd 2 closed", "exec 2>&-"),
    ] {
        let kit = Kit::new();
        kit.azure.vault.set_secret("s", "broken-stderr-one");
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("log");
        let (reader, stderr) = support::pipe();
        let mut running = watching(&kit)
            .env("S", kit.azure.vault.reference("s"))
            .env("LOG", log.display().to_string())
            .command(["sh", "-c", "echo \"$$ $S\" >> \"$LOG\"; exec sleep 60"])
            .spawn_with_stderr(prefix, stderr, dir.path().join("unused"));
        assert!(
            eventually(Duration::from_secs(5), || lines(&log).len() == 1),
            "{what}"
        );
        drop(reader);
        kit.azure.vault.set_secret("s", "broken-stderr-two");
        assert!(
            eventually(Duration::from_secs(6), || lines(&log).len() == 2),
            "{what}: no restart after the rotation line"
        );
        assert!(running.alive(), "{what}: kvenv died");
        let pid: i32 = lines(&log)[1].split(' ').next().unwrap().parse().unwrap();
        running.signal(Signal::SIGTERM);
        let out = running.wait(Duration::from_secs(10));
        assert_eq!(out.code, Some(143), "{what}");
        let gone = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None).is_err();
        assert!(gone, "{what}: the command outlived kvenv");
    }
}

fn sig_ign(status: &str) -> String {
    status
        .lines()
        .find_map(|l| l.strip_prefix("SigIgn:"))
        .unwrap()
        .trim()
        .to_string()
}

// Regression: glibc's posix_spawn left its internal signals 32 and 33 ignored
// in the supervised command; a plain start and exec do not.
#[test]
fn the_supervised_command_ignores_what_a_plain_start_ignores() {
    let kit = Kit::new();
    let dir = tempfile::tempdir().unwrap();
    for (what, prefix) in [("nothing ignored", "true"), ("HUP ignored", "trap '' HUP")] {
        let plain = dir.path().join(format!("plain-{}", what.replace(' ', "-")));
        let watched = dir
            .path()
            .join(format!("watched-{}", what.replace(' ', "-")));
        let out = kit
            .bare()
            .command(["sh", "-c", "cat /proc/self/status > \"$1\"", "sh"])
            .go_shell(&format!(
                "{prefix}; exec sh -c 'cat /proc/self/status > \"$1\"' sh {}",
                plain.display()
            ));
        out.assert_code(0);
        let out = watching(&kit)
            .command([
                "sh",
                "-c",
                "cat /proc/self/status > \"$1\"",
                "sh",
                &watched.display().to_string(),
            ])
            .go_after(prefix);
        out.assert_code(0);
        let (plain, watched) = (
            std::fs::read_to_string(&plain).unwrap(),
            std::fs::read_to_string(&watched).unwrap(),
        );
        assert_eq!(sig_ign(&watched), sig_ign(&plain), "{what}");
    }
}

#[test]
fn a_token_is_renewed_before_it_nears_expiry_and_restarts_the_command() {
    let kit = Kit::new();
    // Five minutes and three seconds, refreshed every 3 s: renewed about
    // three seconds in (never sooner than the interval after the last one).
    kit.azure.identity.token_lifetime(303);
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log");
    let running = kit
        .run()
        .args([
            "--watch",
            "--refresh-interval",
            "3s",
            "--stop-timeout",
            "3s",
        ])
        .args(["--token", "PGPASSWORD=oss-rdbms"])
        .env("LOG", log.display().to_string())
        .command([
            "sh",
            "-c",
            "echo \"$PGPASSWORD\" >> \"$LOG\"; exec sleep 60",
        ])
        .spawn();
    assert!(
        eventually(Duration::from_secs(5), || lines(&log).len() == 1),
        "{}",
        running.stderr()
    );
    assert!(
        eventually(Duration::from_secs(10), || lines(&log).len() == 2),
        "not renewed: {}",
        running.stderr()
    );
    let seen = lines(&log);
    assert_ne!(seen[0], seen[1], "a new token");
    let issued = kit.azure.tokens.issued();
    assert!(issued.contains(&seen[0]) && issued.contains(&seen[1]));
    let stderr = running.stderr();
    assert!(
        stderr.contains(
            "token for oss-rdbms (used by PGPASSWORD) was renewed; restarting the command"
        ),
        "{stderr}"
    );
    running.signal(Signal::SIGTERM);
    let out = running.wait(Duration::from_secs(10));
    assert_eq!(out.code, Some(143), "{}", out.stderr);
}

// Regression: an identity whose tokens lived under the five-minute margin
// (or had expired) made kvenv ask it for a token and restart the command
// every second, whatever --refresh-interval said.
#[test]
fn short_lived_and_expired_tokens_are_renewed_once_per_interval_not_every_second() {
    for lifetime in [60, 0] {
        let kit = Kit::new();
        kit.azure.identity.token_lifetime(lifetime);
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("log");
        let running = kit
            .run()
            .args(["--watch", "--refresh-interval", "10m"])
            .args(["--token", "PGPASSWORD=oss-rdbms"])
            .env("LOG", log.display().to_string())
            .command(["sh", "-c", "echo started >> \"$LOG\"; exec sleep 60"])
            .spawn();
        assert!(
            eventually(Duration::from_secs(5), || lines(&log).len() == 1),
            "{}",
            running.stderr()
        );
        std::thread::sleep(Duration::from_secs(6));
        let asked = kit
            .azure
            .identity
            .resources()
            .iter()
            .filter(|r| r.contains("ossrdbms"))
            .count();
        assert_eq!(
            lines(&log).len(),
            1,
            "lifetime {lifetime}: restarted: {}",
            running.stderr()
        );
        assert_eq!(
            asked, 1,
            "lifetime {lifetime}: the identity was asked {asked} times"
        );
        let stderr = running.stderr();
        assert_eq!(
            stderr
                .matches("lives less than 5 minutes; kvenv renews it once per --refresh-interval")
                .count(),
            1,
            "{stderr}"
        );
        running.signal(Signal::SIGTERM);
        let out = running.wait(Duration::from_secs(10));
        assert_eq!(out.code, Some(143), "{}", out.stderr);
    }
}

// Regression: the first round and the refreshes had a session each, so a
// watching kvenv set its credential up twice and asked for a second token.
#[test]
fn the_first_round_and_the_refreshes_share_one_session_and_one_token() {
    let kit = Kit::with(kvenv_testkit::IdentityKind::Imds);
    kit.azure.vault.set_secret("s", "one-session-value");
    let running = watching(&kit)
        .env("S", kit.azure.vault.reference("s"))
        .command(["sleep", "60"])
        .spawn();
    assert!(
        eventually(Duration::from_secs(8), || kit.azure.vault.gets_of("s") >= 3),
        "{}",
        running.stderr()
    );
    assert_eq!(
        kit.azure.identity.tokens_issued(),
        1,
        "one token for every round"
    );
    running.signal(Signal::SIGTERM);
    running.wait(Duration::from_secs(10));
}
