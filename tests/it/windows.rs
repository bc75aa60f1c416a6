//! kvenv.exe on Windows, run under Wine by `scripts/cross.sh
//! x86_64-pc-windows-gnu` (`scripts/wine-test.sh`) against the same loopback
//! fakes: there is no exec, so kvenv starts the command, waits for it and
//! exits with its code. Ignored in a plain `cargo test`, which has no
//! kvenv.exe; the script runs them with `--ignored`.
//!
//! What is not run under Wine, and why: the rest of the suite drives kvenv
//! with Unix shells, signals, `/proc` and descriptors, which a Windows
//! program does not have; templates are refused on Windows (tested here);
//! `--watch` needs a console to deliver Ctrl+Break, which Wine's test runs
//! lack (its restart logic is the same code as on Linux, tested there).

use crate::support;

use std::path::{Path, PathBuf};
use support::Kit;

/// The folder with kvenv.exe and the helpers (`printargs.exe`).
fn wine_bin() -> PathBuf {
    PathBuf::from(std::env::var_os("KVENV_TEST_WINE_BIN").expect("run by scripts/wine-test.sh"))
}

/// A Unix path as Wine's Windows programs name it (drive Z: is `/`).
fn windows_path(path: &Path) -> String {
    format!("Z:{}", path.display()).replace('/', "\\")
}

/// Lines without Windows's carriage returns.
fn unix_lines(text: &str) -> String {
    text.replace("\r\n", "\n")
}

#[test]
#[ignore = "kvenv.exe under Wine: scripts/cross.sh x86_64-pc-windows-gnu"]
fn a_secret_reaches_cmd_and_exit_codes_pass_through() {
    let kit = Kit::new();
    kit.azure.vault.set_secret("db", "wine-secret-8080");
    let out = kit
        .run()
        .env("DB_PASSWORD", kit.azure.vault.reference("db"))
        .command(["cmd", "/c", "echo %DB_PASSWORD%"])
        .stdout_is_output()
        .go();
    out.assert_code(0);
    assert_eq!(unix_lines(&out.stdout), "wine-secret-8080\n");
    for code in [0, 1, 3, 255] {
        let out = kit
            .run()
            .command(["cmd", "/c", &format!("exit {code}")])
            .go();
        assert_eq!(out.code, Some(code), "{}", out.stderr);
    }
    // The whole 32-bit exit code, as a Windows parent sees it (Wine hands a
    // Linux parent only its low 8 bits).
    let kvenv = windows_path(&wine_bin().join("kvenv.exe"));
    let out = kit
        .run()
        .command([
            "cmd",
            "/v:on",
            "/c",
            &kvenv,
            "run",
            "--",
            "cmd",
            "/c",
            "exit",
            "70000",
            "&",
            "echo",
            "!errorlevel!",
        ])
        .go();
    // `echo` leaves ERRORLEVEL as it was: cmd.exe ends with 70000 too.
    out.assert_code(70000 % 256);
    assert_eq!(unix_lines(&out.stdout), "70000\n");
}

#[test]
#[ignore = "kvenv.exe under Wine: scripts/cross.sh x86_64-pc-windows-gnu"]
fn a_failing_reference_starts_nothing_and_a_missing_command_is_127() {
    let kit = Kit::new();
    let out = kit
        .run()
        .env("DB_PASSWORD", kit.azure.vault.reference("absent"))
        .command(["cmd", "/c", "echo started"])
        .go();
    out.assert_code(125);
    assert_eq!(out.stdout, "", "no command started");
    assert_eq!(out.stderr.lines().count(), 1, "{}", out.stderr);
    assert!(out.stderr.contains("DB_PASSWORD"), "{}", out.stderr);
    let out = kit.run().command(["no-such-program-kvenv"]).go();
    out.assert_code(127);
    assert!(
        out.stderr.contains("no-such-program-kvenv"),
        "{}",
        out.stderr
    );
}

#[test]
#[ignore = "kvenv.exe under Wine: scripts/cross.sh x86_64-pc-windows-gnu"]
fn arguments_reach_a_program_and_a_cmd_script_intact() {
    let kit = Kit::new();
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        wine_bin().join("printargs.exe"),
        dir.path().join("printargs.exe"),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("with space.cmd"),
        "@echo off\r\nprintargs.exe %*\r\nexit /b 7\r\n",
    )
    .unwrap();
    let args = [
        "a b",
        "say \"hi\"",
        "back\\slash\\",
        "tab\there",
        "x&y|z<>^",
        "",
    ];
    let expected: String = args.iter().map(|a| format!("[{a}]\n")).collect();
    // A program, found in the current folder as cmd.exe finds it.
    let mut command = vec!["printargs"];
    command.extend(args);
    let out = kit.run().cwd(dir.path()).command(command).go();
    out.assert_code(0);
    assert_eq!(unix_lines(&out.stdout), expected);
    // A .cmd script (through cmd.exe and its quoting), found through PATH
    // (Wine adds WINEPATH to it) and PATHEXT, with a space in its name.
    let mut command = vec!["with space"];
    command.extend(args);
    let out = kit
        .run()
        .cwd(&std::env::temp_dir())
        .env("WINEPATH", windows_path(dir.path()))
        .command(command)
        .go();
    out.assert_code(7);
    assert_eq!(unix_lines(&out.stdout), expected);
}

#[test]
#[ignore = "kvenv.exe under Wine: scripts/cross.sh x86_64-pc-windows-gnu"]
fn check_and_export_behave_as_on_linux() {
    let kit = Kit::new();
    let version = kit.azure.vault.set_secret("s", "wine-export 'value'");
    let out = kit
        .run()
        .args(["--output", "json"])
        .env("S", kit.azure.vault.reference("s"))
        .go_check();
    out.assert_code(0);
    let rows: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(rows[0]["location"], "S");
    assert_eq!(rows[0]["status"], "Resolved");
    assert_eq!(rows[0]["resolved_version"], version.as_str());
    let out = kit
        .run()
        .args(["--output", "json"])
        .env("S", kit.azure.vault.reference("absent"))
        .go_check();
    assert_ne!(out.code, Some(0));
    let out = kit
        .run()
        .args(["--format", "dotenv"])
        .env("S", kit.azure.vault.reference("s"))
        .env("PLAIN", "not exported")
        .stdout_is_output()
        .go_export();
    out.assert_code(0);
    assert_eq!(out.stdout, "S=\"wine-export 'value'\"\n");
    // To a file: written, with one line saying it is not owner-only.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("out.env");
    let out = kit
        .run()
        .args(["--format", "dotenv", "-o", &windows_path(&file)])
        .env("S", kit.azure.vault.reference("s"))
        .go_export();
    out.assert_code(0);
    assert_eq!(out.stderr.lines().count(), 1, "{}", out.stderr);
    assert!(out.stderr.contains("owner-only"), "{}", out.stderr);
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        "S=\"wine-export 'value'\"\n"
    );
}

#[test]
#[ignore = "kvenv.exe under Wine: scripts/cross.sh x86_64-pc-windows-gnu"]
fn what_windows_cannot_do_is_refused_with_one_line() {
    let kit = Kit::new();
    let template = kit.azure.dir().join("app.conf");
    std::fs::write(&template, "plain\n").unwrap();
    let out = kit
        .run()
        .args(["--template", &format!("{}=T", template.display())])
        .command(["cmd", "/c", "echo started"])
        .go();
    out.assert_code(125);
    assert_eq!(out.stdout, "");
    assert_eq!(out.stderr.lines().count(), 1, "{}", out.stderr);
    assert!(
        out.stderr.contains("--template") && out.stderr.contains("Windows"),
        "{}",
        out.stderr
    );
    // --cert and --file make in-memory files too.
    kit.azure.vault.set_secret("tls", "not read");
    for (flag, value) in [("--cert", "C=fullchain"), ("--file", "C=base64")] {
        let out = kit
            .run()
            .args([flag, value])
            .env("C", kit.azure.vault.reference("tls"))
            .command(["cmd", "/c", "echo started"])
            .go();
        out.assert_code(125);
        assert_eq!(out.stdout, "");
        assert_eq!(out.stderr.lines().count(), 1, "{}", out.stderr);
        assert!(
            out.stderr.contains(flag) && out.stderr.contains("Windows"),
            "{}",
            out.stderr
        );
    }
    // --mask would need a pseudo console.
    let out = kit
        .run()
        .arg("--mask")
        .env("C", kit.azure.vault.reference("tls"))
        .command(["cmd", "/c", "echo started"])
        .go();
    out.assert_code(125);
    assert_eq!(out.stdout, "");
    assert!(
        out.stderr.contains("--mask") && out.stderr.contains("Windows"),
        "{}",
        out.stderr
    );
    assert_eq!(
        kit.azure.vault.gets_of("tls"),
        0,
        "refused before any request"
    );
    let out = kit
        .run()
        .args(["--watch", "--on-change", "signal:HUP"])
        .command(["cmd", "/c", "echo started"])
        .go();
    out.assert_code(125);
    assert_eq!(out.stdout, "");
    assert!(
        out.stderr.contains("signal:NAME") && out.stderr.contains("Windows"),
        "{}",
        out.stderr
    );
}

/// The `printargs.exe --sleep N` processes alive now (Wine's processes show
/// their Windows command line in `/proc`).
fn sleepers(seconds: u32) -> usize {
    let wanted = format!("--sleep {seconds}");
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| std::fs::read(e.ok()?.path().join("cmdline")).ok())
        .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
        .filter(|c| {
            let program = c.split_whitespace().next().unwrap_or_default();
            program.ends_with("printargs.exe") && c.contains(&wanted)
        })
        .count()
}

#[test]
#[ignore = "kvenv.exe under Wine: scripts/cross.sh x86_64-pc-windows-gnu"]
fn a_watched_command_restarts_on_rotation_and_ends_with_kvenv() {
    use std::time::Duration;
    use support::{eventually, lines};
    let kit = Kit::new();
    kit.azure.vault.set_secret("s", "wine-watch-one");
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log");
    let sleeper = windows_path(&wine_bin().join("printargs.exe"));
    let running = kit
        .run()
        .args([
            "--watch",
            "--refresh-interval",
            "1s",
            "--stop-timeout",
            "1s",
        ])
        .env("S", kit.azure.vault.reference("s"))
        .env("LOG", windows_path(&log))
        .command([
            "cmd",
            "/c",
            &format!("echo %S%>>%LOG%& {sleeper} --sleep 67"),
        ])
        .spawn();
    let seen = || -> Vec<String> { lines(&log).iter().map(|l| l.trim().to_string()).collect() };
    assert!(
        eventually(Duration::from_secs(10), || seen().len() == 1),
        "{}",
        running.stderr()
    );
    kit.azure.vault.set_secret("s", "wine-watch-two");
    assert!(
        eventually(Duration::from_secs(10), || seen().len() == 2),
        "{}",
        running.stderr()
    );
    assert_eq!(seen(), ["wine-watch-one", "wine-watch-two"]);
    assert!(
        eventually(Duration::from_secs(5), || sleepers(67) == 1),
        "the first command was stopped: {} running",
        sleepers(67)
    );
    // kvenv killed outright: its job object ends the command with it.
    running.signal(nix::sys::signal::Signal::SIGKILL);
    let _ = running.wait(Duration::from_secs(10));
    assert!(
        eventually(Duration::from_secs(5), || sleepers(67) == 0),
        "the command outlived kvenv"
    );
}

#[test]
#[ignore = "kvenv.exe under Wine: scripts/cross.sh x86_64-pc-windows-gnu"]
fn the_command_ends_when_kvenv_is_killed() {
    use std::time::Duration;
    let kit = Kit::new();
    let sleeper = windows_path(&wine_bin().join("printargs.exe"));
    let running = kit
        .run()
        .command([sleeper.as_str(), "--sleep", "71"])
        .spawn();
    let started = support::eventually(Duration::from_secs(10), || sleepers(71) == 1);
    assert!(started, "{}", running.stderr());
    // kvenv puts the command in its job right after starting it.
    std::thread::sleep(Duration::from_millis(500));
    running.signal(nix::sys::signal::Signal::SIGKILL);
    let _ = running.wait(Duration::from_secs(10));
    assert!(
        support::eventually(Duration::from_secs(30), || sleepers(71) == 0),
        "the command outlived kvenv"
    );
}

#[test]
#[ignore = "kvenv.exe under Wine: scripts/cross.sh x86_64-pc-windows-gnu"]
fn the_azure_cli_credential_runs_az_cmd() {
    let kit = Kit::new();
    kit.azure.vault.set_secret("s", "wine-az-secret-2468");
    kit.cli.az_cmd_signed_in();
    let out = kit
        .run()
        .args(["--credential", "azure-cli", "-v"])
        .env("WINEPATH", windows_path(&kit.cli.bin()))
        .env("S", kit.azure.vault.reference("s"))
        .command(["cmd", "/c", "echo %S%"])
        .stdout_is_output()
        .go();
    out.assert_code(0);
    assert_eq!(unix_lines(&out.stdout), "wine-az-secret-2468\n");
    assert!(
        out.stderr.contains("Azure CLI sign-in (az)"),
        "{}",
        out.stderr
    );
    let calls = kit.cli.calls("az");
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert!(calls[0].contains("account get-access-token"), "{calls:?}");
}
