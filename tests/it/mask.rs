//! `kvenv run --mask`: every resolved value and its encoded forms replaced
//! with `***` in the command's stdout and stderr, across writes of one byte;
//! a pseudo-terminal when kvenv has a terminal, with the terminal's settings
//! put back on every exit; exit codes and signals as under `--watch`;
//! `::add-mask::` lines for GitHub Actions; rotation under `--watch`.

use crate::support;

use base64::Engine;
use nix::sys::signal::Signal;
use std::time::Duration;
use support::{eventually, Kit};

const SECRET: &str = "mask-me/7731+x@y";

fn kit() -> Kit {
    let kit = Kit::new();
    kit.azure.vault.set_secret("s", SECRET);
    kit
}

fn masked_run(kit: &Kit) -> support::Run<'_> {
    kit.run()
        .arg("--mask")
        .env("S", kit.azure.vault.reference("s"))
}

/// Forms the command prints, passed to it as plain variables.
fn forms() -> [(&'static str, String); 3] {
    [
        (
            "B64",
            base64::engine::general_purpose::STANDARD.encode(SECRET),
        ),
        ("URL", "mask-me%2F7731%2Bx%40y".to_string()),
        ("JSON", "mask-me\\/7731+x@y".replace("\\/", "/")),
    ]
}

#[test]
fn a_value_and_its_forms_are_masked_even_written_one_byte_at_a_time() {
    let kit = kit();
    // Each character by its own printf process: one write each.
    let script = "for v in \"$S\" \"$B64\" \"$URL\"; do \
        printf '%s\\n' \"$v\" | fold -w1 | while IFS= read -r c; do /usr/bin/printf %s \"$c\"; done; echo; done; \
        echo \"whole $S and $B64\" >&2";
    let out = masked_run(&kit)
        .envs(forms())
        .command(["sh", "-c", script])
        .go();
    out.assert_code(0);
    assert_eq!(out.stdout, "***\n***\n***\n", "{}", out.stdout);
    assert_eq!(out.stderr, "whole *** and ***\n", "stderr stays stderr");
    for (_, form) in forms() {
        assert!(!out.stdout.contains(&form) && !out.stderr.contains(&form));
    }
}

#[test]
fn a_short_value_is_not_masked_and_one_line_says_so() {
    let kit = kit();
    kit.azure.vault.set_secret("pin", "123");
    let out = masked_run(&kit)
        .env("PIN", kit.azure.vault.reference("pin"))
        .stdout_is_output()
        .command(["sh", "-c", "echo \"pin=$PIN s=$S\""])
        .go();
    out.assert_code(0);
    assert_eq!(out.stdout, "pin=123 s=***\n");
    let lines: Vec<&str> = out.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{}", out.stderr);
    assert!(lines[0].starts_with("kvenv: PIN: ") && lines[0].contains("--mask does not mask it"));
}

#[test]
fn on_a_terminal_the_command_sees_one_and_the_settings_come_back() {
    let kit = kit();
    let script = "test -t 0 && test -t 1 && test -t 2 && echo ON-A-TTY; printf '\\033[31mred\\033[0m\\n'; echo \"$S\"";
    let out = masked_run(&kit)
        .command(["sh", "-c", script])
        .go_on_terminal();
    assert_eq!(out.code, Some(0), "{}", out.output);
    assert!(out.output.contains("ON-A-TTY"), "{:?}", out.output);
    assert!(
        out.output.contains("\u{1b}[31mred\u{1b}[0m"),
        "colour passes: {:?}",
        out.output
    );
    assert!(
        out.output.contains("***") && !out.output.contains(SECRET),
        "{:?}",
        out.output
    );
    assert!(
        out.same_settings,
        "before {}\nafter {}",
        out.before, out.after
    );
    // Killed by a signal: the code says so, and the terminal is still put back.
    let out = masked_run(&kit)
        .command(["sh", "-c", "echo \"$S\"; kill -KILL $$"])
        .go_on_terminal();
    assert_eq!(out.code, Some(137), "{}", out.output);
    assert!(
        out.same_settings,
        "before {}\nafter {}",
        out.before, out.after
    );
    assert!(!out.output.contains(SECRET));
}

#[test]
fn what_is_typed_reaches_the_command_through_its_terminal() {
    let kit = kit();
    let out = masked_run(&kit)
        .command([
            "sh",
            "-c",
            "echo ready; read -r line; echo \"got [$line] and $S\"",
        ])
        .go_on_terminal_typing(b"typed words\r");
    assert_eq!(out.code, Some(0), "{}", out.output);
    assert!(
        out.output.contains("got [typed words] and ***"),
        "{:?}",
        out.output
    );
    assert!(
        out.same_settings,
        "before {}\nafter {}",
        out.before, out.after
    );
}

#[test]
fn exit_codes_and_signals_pass_as_under_watch() {
    let kit = kit();
    let out = masked_run(&kit).command(["sh", "-c", "exit 3"]).go();
    out.assert_code(3);
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log");
    let running = masked_run(&kit)
        .env("LOG", log.display().to_string())
        .command([
            "sh",
            "-c",
            "trap 'echo got-term >> \"$LOG\"; exit 7' TERM; echo up >> \"$LOG\"; while :; do sleep 0.1; done",
        ])
        .spawn();
    assert!(eventually(Duration::from_secs(5), || support::lines(&log)
        .len()
        == 1));
    running.signal(Signal::SIGTERM);
    let out = running.wait(Duration::from_secs(10));
    assert_eq!(out.code, Some(7), "{}", out.stderr);
    assert_eq!(support::lines(&log), ["up", "got-term"]);
}

#[test]
fn two_megabytes_without_a_secret_pass_byte_for_byte() {
    let kit = kit();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("big.txt");
    let mut text = String::with_capacity(2 << 20);
    let mut n: u64 = 0x9e37_79b9_7f4a_7c15;
    while text.len() < 2 << 20 {
        n ^= n << 13;
        n ^= n >> 7;
        n ^= n << 17;
        // Letters, digits and the characters the secret's forms use.
        let alphabet = b"abcdefghijklmnopqrstuvwxyz0123456789+/=%@-\n mask";
        text.push(alphabet[(n % alphabet.len() as u64) as usize] as char);
    }
    std::fs::write(&file, &text).unwrap();
    let out = masked_run(&kit)
        .command(["cat", &file.display().to_string()])
        .go();
    out.assert_code(0);
    assert!(
        out.stdout.len() == text.len() && out.stdout == text,
        "changed in passing"
    );
}

#[test]
fn github_gets_add_mask_lines_before_the_command_only_in_actions() {
    let kit = kit();
    let run = |actions: Option<&str>| {
        let mut run = kit
            .run()
            .arg("--mask=github")
            .env("S", kit.azure.vault.reference("s"))
            .stdout_is_output()
            .command(["sh", "-c", "echo started"]);
        if let Some(value) = actions {
            run = run.env("GITHUB_ACTIONS", value);
        }
        run.go()
    };
    let out = run(Some("true"));
    out.assert_code(0);
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(*lines.last().unwrap(), "started", "{}", out.stdout);
    let masks: Vec<&str> = lines[..lines.len() - 1].to_vec();
    assert!(
        masks.iter().all(|l| l.starts_with("::add-mask::")),
        "{masks:?}"
    );
    for form in [
        SECRET.to_string(),
        forms()[0].1.clone(),
        "mask-me%252F7731%252Bx%2540y".into(),
    ] {
        assert!(
            masks.contains(&format!("::add-mask::{form}").as_str()),
            "{form}: {masks:?}"
        );
    }
    for outside in [None, Some("false")] {
        let out = run(outside);
        assert_eq!(out.stdout, "started\n", "{outside:?}");
    }
}

#[test]
fn under_watch_a_rotated_value_is_masked_and_the_old_one_stays_masked() {
    let kit = kit();
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log");
    let running = masked_run(&kit)
        .args([
            "--watch",
            "--refresh-interval",
            "1s",
            "--stop-timeout",
            "3s",
        ])
        .env("LOG", log.display().to_string())
        .env("OLD", SECRET)
        .command([
            "sh",
            "-c",
            "echo \"now=$S old=$OLD\"; echo x >> \"$LOG\"; exec sleep 60",
        ])
        .spawn();
    assert!(eventually(Duration::from_secs(5), || support::lines(&log)
        .len()
        == 1));
    kit.azure.vault.set_secret("s", "rotated-value-9917");
    assert!(
        eventually(Duration::from_secs(8), || support::lines(&log).len() == 2),
        "{}",
        running.stderr()
    );
    running.signal(Signal::SIGTERM);
    let out = running.wait(Duration::from_secs(10));
    assert_eq!(
        out.stdout, "now=*** old=***\nnow=*** old=***\n",
        "{}",
        out.stderr
    );
}
