//! `kvenv run` end to end: the real binary against the loopback fakes, with
//! assertions on exit code, stderr, what the command saw and what the fakes saw.

use crate::support;

use kvenv_testkit::{Fault, IdentityKind};
use std::time::{Duration, Instant};
use support::Kit;

#[test]
fn secret_uri_latest_and_pinned_versions() {
    let kit = Kit::new();
    let v1 = kit
        .azure
        .vault
        .set_secret("api-key", "api-key-value-ONE-5521");
    kit.azure
        .vault
        .set_secret("api-key", "api-key-value-TWO-5522");
    let uri = kit.azure.vault.secret_uri("api-key");
    let out = kit
        .run()
        .env("LATEST", format!("@Microsoft.KeyVault(SecretUri={uri})"))
        .env(
            "PINNED",
            format!("@Microsoft.KeyVault(SecretUri={uri}{v1})"),
        )
        .env(
            "PINNED_SLASH",
            format!("@Microsoft.KeyVault(SecretUri={uri}{v1}/)"),
        )
        .probe()
        .go();
    out.assert_code(0);
    assert_eq!(out.stderr, "", "a successful run prints nothing of its own");
    assert_eq!(out.child("LATEST").unwrap(), "api-key-value-TWO-5522");
    assert_eq!(out.child("PINNED").unwrap(), "api-key-value-ONE-5521");
    assert_eq!(out.child("PINNED_SLASH").unwrap(), "api-key-value-ONE-5521");
}

#[test]
fn vault_name_syntax_goes_to_the_cloud_suffix_host() {
    let kit = Kit::new();
    let v1 = kit
        .azure
        .vault
        .set_secret("db-password", "db-password-OLD-9911");
    kit.azure
        .vault
        .set_secret("db-password", "db-password-NEW-9912");
    let port = kit.azure.vault.port();
    let out = kit
        .bare()
        .args(["run", "--ca-file", &kit.azure.ca_file().display().to_string()])
        .args(["--resolve", &format!("myvault.vault.azure.net=127.0.0.1:{port}")])
        .env("A", "@Microsoft.KeyVault(VaultName=myvault;SecretName=db-password)")
        .env(
            "B",
            format!(" @Microsoft.KeyVault( vaultname = MyVault ; secretname=db-password ; SECRETVERSION={v1} ; ) "),
        )
        .probe()
        .go();
    out.assert_code(0);
    assert_eq!(out.child("A").unwrap(), "db-password-NEW-9912");
    assert_eq!(out.child("B").unwrap(), " db-password-OLD-9911 ");
    // The challenge was verified against the suffix host and one token served both.
    assert_eq!(kit.azure.identity.tokens_issued(), 1);
}

#[test]
fn embedded_and_multiple_references_keep_bytes_exact() {
    let kit = Kit::new();
    let odd = "line1\nline2\r\n;=\"'$HOME `x` \\ ünïcødé 🔑 @Microsoft.KeyVault(VaultName=no;SecretName=no)";
    kit.azure.vault.set_secret("pg", odd);
    kit.azure.vault.set_secret("user", "app-user-7731");
    let conn = format!(
        "Server=db;User Id={};Password={};",
        kit.azure.vault.reference("user"),
        kit.azure.vault.reference("pg")
    );
    let out = kit
        .run()
        .env("CONN", conn)
        .env("RAW", kit.azure.vault.reference("pg"))
        .env("PLAIN", "nothing to see")
        .probe()
        .go();
    out.assert_code(0);
    assert_eq!(
        out.child("CONN").unwrap(),
        format!("Server=db;User Id=app-user-7731;Password={odd};")
    );
    assert_eq!(out.child("RAW").unwrap(), odd);
    assert_eq!(out.child("PLAIN").unwrap(), "nothing to see");
}

#[test]
fn duplicates_are_fetched_once_with_one_token() {
    let kit = Kit::new();
    kit.azure.vault.set_secret("shared", "shared-value-4410");
    kit.azure.vault.set_secret("other", "other-value-4411");
    let r = kit.azure.vault.reference("shared");
    let out = kit
        .run()
        .env("ONE", &r)
        .env("TWO", format!("x{r}y{r}"))
        .env("THREE", &r)
        .env("FOUR", kit.azure.vault.reference("other"))
        .probe()
        .go();
    out.assert_code(0);
    assert_eq!(
        out.child("TWO").unwrap(),
        "xshared-value-4410yshared-value-4410"
    );
    assert_eq!(kit.azure.vault.gets_of("shared"), 1);
    assert_eq!(kit.azure.vault.gets_of("other"), 1);
    assert_eq!(
        kit.azure.identity.tokens_issued(),
        1,
        "one token per scope per run"
    );
}

#[test]
fn many_secrets_across_two_vaults() {
    let kit = Kit::new();
    let second = kit.azure.another_vault();
    let mut run = kit
        .run()
        .args(["--allow-host", &second.host(), "--concurrency", "4"]);
    for i in 0..30 {
        let (vault, name) = if i % 2 == 0 {
            (&kit.azure.vault, format!("s{i}"))
        } else {
            (&second, format!("s{i}"))
        };
        vault.set_secret(&name, &format!("value-{i}-xq"));
        run = run.env(&format!("V{i}"), vault.reference(&name));
    }
    let out = run.probe().go();
    out.assert_code(0);
    for i in 0..30 {
        assert_eq!(
            out.child(&format!("V{i}")).unwrap(),
            format!("value-{i}-xq")
        );
    }
    assert_eq!(kit.azure.identity.tokens_issued(), 1);
    assert_eq!(
        kit.azure
            .vault
            .requests()
            .iter()
            .filter(|r| !r.authorized)
            .count(),
        1,
        "one challenge per vault"
    );
}

#[test]
fn exit_status_is_the_commands() {
    let kit = Kit::new();
    kit.azure.vault.set_secret("s", "exit-secret-0001");
    let out = kit
        .run()
        .env("S", kit.azure.vault.reference("s"))
        .command(["sh", "-c", "exit 42"])
        .go();
    out.assert_code(42);
    let out = kit.run().command(["sh", "-c", "exit 3"]).go();
    out.assert_code(3);
}

#[test]
fn command_not_found_is_127_and_not_executable_is_126() {
    let kit = Kit::new();
    let out = kit.run().command(["kvenv-no-such-command-xyz"]).go();
    out.assert_code(127);
    assert_eq!(
        out.stderr,
        "kvenv: kvenv-no-such-command-xyz: command not found\n"
    );

    let file = kit.azure.dir().join("not-executable");
    std::fs::write(&file, "#!/bin/sh\n").unwrap();
    let out = kit.run().command([file.display().to_string()]).go();
    out.assert_code(126);
    assert_eq!(
        out.stderr,
        format!(
            "kvenv: {}: cannot execute: Permission denied\n",
            file.display()
        )
    );
}

#[test]
fn usage_errors_are_125() {
    let kit = Kit::new();
    let out = kit.bare().args(["run"]).go();
    out.assert_code(125);
    let out = kit
        .bare()
        .args(["run", "--timeout", "0", "--", "true"])
        .go();
    out.assert_code(125);
    assert!(out.stderr.contains("--timeout"), "{}", out.stderr);
    let out = kit
        .bare()
        .args(["run", "--allow-host", "https://x/", "--", "true"])
        .go();
    out.assert_code(125);
    assert!(out.stderr.contains("--allow-host"), "{}", out.stderr);
    let out = kit.bare().args(["--version"]).go();
    out.assert_code(0);
}

#[test]
fn argv_and_stdin_reach_the_command() {
    let kit = Kit::new();
    kit.azure.vault.set_secret("s", "argv-secret-0002");
    let out = kit
        .run()
        .env("S", kit.azure.vault.reference("s"))
        .command([
            "sh",
            "-c",
            "cat; printf '[%s]' \"$@\"",
            "sh",
            "a b",
            "",
            "--",
            "-v",
        ])
        .stdin(b"from stdin|")
        .go();
    out.assert_code(0);
    assert_eq!(out.stdout, "from stdin|[a b][][--][-v]");
}

#[test]
fn the_command_keeps_kvenvs_pid() {
    let kit = Kit::new();
    kit.azure.vault.set_secret("s", "pid-secret-0003");
    let file = kit.azure.dir().join("pid");
    let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("kvenv"));
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap())
        .envs(kit.azure.identity_env())
        .env("S", kit.azure.vault.reference("s"))
        .args(["run", "--allow-host", &kit.azure.vault.host(), "--ca-file"])
        .arg(kit.azure.ca_file())
        .args(["--", "sh", "-c", "echo $$ > \"$1\"", "sh"])
        .arg(&file);
    let mut child = cmd.spawn().unwrap();
    let pid = child.id();
    assert!(child.wait().unwrap().success());
    let seen: u32 = std::fs::read_to_string(&file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert_eq!(seen, pid, "exec, not fork: the command has kvenv's PID");
}

/// SigIgn and SigBlk for the standard signals 1-31. Signals 32 and 33 are
/// glibc's internal ones: its posix_spawn (which the test harness uses) leaves
/// them ignored in children depending on the parent's thread state, so they
/// differ between two spawns of the same parent whatever kvenv does.
fn signal_lines(status: &str) -> Vec<(String, u64)> {
    status
        .lines()
        .filter(|l| l.starts_with("SigIgn") || l.starts_with("SigBlk"))
        .map(|l| {
            let (name, mask) = l.split_once(':').unwrap();
            (
                name.to_string(),
                u64::from_str_radix(mask.trim(), 16).unwrap() & 0x7fff_ffff,
            )
        })
        .collect()
}

#[test]
fn signal_dispositions_and_mask_are_inherited_untouched() {
    let kit = Kit::new();
    kit.azure.vault.set_secret("s", "signal-secret-0004");
    let kvenv = assert_cmd::cargo::cargo_bin("kvenv").display().to_string();
    let refs = kit.azure.vault.reference("s");
    for trap in ["", "trap '' PIPE INT; "] {
        let plain = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!("{trap}exec cat /proc/self/status"))
            .output()
            .unwrap();
        let via_kvenv = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!(
                "{trap}exec \"$0\" run --allow-host {} --ca-file {} -- cat /proc/self/status",
                kit.azure.vault.host(),
                kit.azure.ca_file().display()
            ))
            .arg(&kvenv)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap())
            .envs(kit.azure.identity_env())
            .env("S", &refs)
            .output()
            .unwrap();
        assert!(
            via_kvenv.status.success(),
            "{}",
            String::from_utf8_lossy(&via_kvenv.stderr)
        );
        let plain = signal_lines(&String::from_utf8_lossy(&plain.stdout));
        let via = signal_lines(&String::from_utf8_lossy(&via_kvenv.stdout));
        assert_eq!(plain.len(), 2);
        assert_eq!(via, plain, "with trap {trap:?}");
    }
    // SIGPIPE (13) in particular is not ignored when the parent did not ignore it.
    let out = kit
        .run()
        .env("S", &refs)
        .command(["grep", "^SigIgn", "/proc/self/status"])
        .go();
    let mask = u64::from_str_radix(out.stdout.split_whitespace().nth(1).unwrap(), 16).unwrap();
    assert_eq!(
        mask & (1 << 12),
        0,
        "SIGPIPE must not be ignored: {}",
        out.stdout
    );
}

#[test]
fn missing_secret_fails_closed_naming_the_variable() {
    let kit = Kit::new();
    kit.azure.vault.set_secret("present", "present-value-5501");
    let out = kit
        .run()
        .env("GOOD", kit.azure.vault.reference("present"))
        .env("DB_PASSWORD", kit.azure.vault.reference("absent"))
        .env(
            "PINNED",
            format!(
                "@Microsoft.KeyVault(SecretUri={}0123456789abcdef0123456789abcdef)",
                kit.azure.vault.secret_uri("present")
            ),
        )
        .probe()
        .go();
    out.assert_code(125);
    assert!(out.child_env.is_none(), "the command must not start");
    let host = kit.azure.vault.host();
    let lines: Vec<&str> = out.stderr.lines().collect();
    assert_eq!(lines.len(), 2, "one line per failure:\n{}", out.stderr);
    assert!(lines.contains(&format!("kvenv: DB_PASSWORD: SecretNotFound: secret 'absent' was not found in vault {host} (HTTP 404); check the name, or whether it was deleted").as_str()), "{}", out.stderr);
    assert!(lines.contains(&format!("kvenv: PINNED: SecretVersionNotFound: version 0123456789abcdef0123456789abcdef of secret 'present' was not found in vault {host} (HTTP 404); check SecretVersion").as_str()), "{}", out.stderr);
}

#[test]
fn forbidden_names_the_identity_and_the_role() {
    let kit = Kit::new();
    kit.azure.vault.set_secret("locked", "locked-value-6601");
    kit.azure.vault.deny("locked");
    let out = kit
        .run()
        .env("LOCKED", kit.azure.vault.reference("locked"))
        .probe()
        .go();
    out.assert_code(125);
    assert!(out.child_env.is_none());
    assert!(out.stderr.starts_with("kvenv: LOCKED: AccessToKeyVaultDenied: managed identity (App Service / Container Apps, system-assigned) may not read secret 'locked'"), "{}", out.stderr);
    assert!(
        out.stderr.contains("\"Key Vault Secrets User\""),
        "{}",
        out.stderr
    );
    assert_eq!(kit.azure.vault.gets_of("locked"), 1, "403 is not retried");
}

#[test]
fn hosts_outside_the_allow_list_get_no_request_at_all() {
    let kit = Kit::new();
    kit.azure.vault.set_secret("s", "exfil-value-7701");
    let out = kit
        .bare()
        .args([
            "run",
            "--ca-file",
            &kit.azure.ca_file().display().to_string(),
        ])
        .env("S", kit.azure.vault.reference("s"))
        .probe()
        .go();
    out.assert_code(125);
    assert!(out.child_env.is_none());
    assert!(
        out.stderr
            .contains("S: HostNotAllowed: vault host 127.0.0.1:"),
        "{}",
        out.stderr
    );
    assert!(
        kit.azure.vault.requests().is_empty(),
        "the vault saw a request"
    );
    assert!(
        kit.azure.identity.requests().is_empty(),
        "no token was even asked for"
    );

    // Another port on the same host is another host.
    let out = kit
        .bare()
        .args([
            "run",
            "--allow-host",
            "127.0.0.1:1",
            "--ca-file",
            &kit.azure.ca_file().display().to_string(),
        ])
        .env("S", kit.azure.vault.reference("s"))
        .probe()
        .go();
    out.assert_code(125);
    assert!(kit.azure.vault.requests().is_empty());
}

#[test]
fn http_and_malformed_references_are_refused_before_any_request() {
    let kit = Kit::new();
    let out = kit
        .run()
        .env(
            "PLAIN_HTTP",
            format!(
                "@Microsoft.KeyVault(SecretUri=http://{}/secrets/s/)",
                kit.azure.vault.host()
            ),
        )
        .env("NO_NAME", "@Microsoft.KeyVault(VaultName=myvault)")
        .env(
            "OPEN",
            "x @Microsoft.KeyVault(VaultName=myvault;SecretName=s",
        )
        .probe()
        .go();
    out.assert_code(125);
    assert!(out.child_env.is_none());
    let mut lines: Vec<&str> = out.stderr.lines().collect();
    lines.sort();
    assert_eq!(
        lines,
        [
            "kvenv: NO_NAME: InvalidSyntax: VaultName needs SecretName",
            "kvenv: OPEN: InvalidSyntax: unterminated reference: no ')' after '@Microsoft.KeyVault('",
            "kvenv: PLAIN_HTTP: InvalidSyntax: SecretUri must use https://, not http://",
        ]
    );
    assert!(kit.azure.vault.requests().is_empty());
    assert!(kit.azure.identity.requests().is_empty());
}

#[test]
fn throttling_and_server_errors_are_retried() {
    let kit = Kit::new();
    kit.azure.vault.set_secret("flaky", "flaky-value-8801");
    kit.azure
        .vault
        .fault("flaky", Fault::status(429, 1).retry_after("0"));
    kit.azure.vault.fault("flaky", Fault::status(503, 1));
    let out = kit
        .run()
        .env("F", kit.azure.vault.reference("flaky"))
        .probe()
        .go();
    out.assert_code(0);
    assert_eq!(out.child("F").unwrap(), "flaky-value-8801");
    let statuses: Vec<u16> = kit
        .azure
        .vault
        .requests()
        .iter()
        .filter(|r| r.authorized)
        .map(|r| r.status)
        .collect();
    assert_eq!(statuses, [429, 503, 200]);
}

#[test]
fn keep_unresolved_leaves_the_literal_text() {
    let kit = Kit::new();
    kit.azure.vault.set_secret("here", "here-value-9901");
    let missing = kit.azure.vault.reference("not-here");
    let out = kit
        .run()
        .arg("--keep-unresolved")
        .env("HERE", kit.azure.vault.reference("here"))
        .env("MISSING", format!("a {missing} b"))
        .env("BROKEN", "@Microsoft.KeyVault(VaultName=x)")
        .probe()
        .go();
    out.assert_code(0);
    assert_eq!(out.child("HERE").unwrap(), "here-value-9901");
    assert_eq!(out.child("MISSING").unwrap(), format!("a {missing} b"));
    assert_eq!(
        out.child("BROKEN").unwrap(),
        "@Microsoft.KeyVault(VaultName=x)"
    );
    assert!(
        out.stderr.contains("MISSING: SecretNotFound"),
        "{}",
        out.stderr
    );
}

#[test]
fn no_references_means_no_request_to_any_fake() {
    let kit = Kit::new();
    let out = kit
        .run()
        .env("A", "plain")
        .env("B", "@Microsoft.KeyVault is mentioned")
        .probe()
        .go();
    out.assert_code(0);
    assert_eq!(out.child("A").unwrap(), "plain");
    assert!(kit.azure.vault.requests().is_empty());
    assert!(kit.azure.identity.requests().is_empty());
}

/// `kvenv run [--] COMMAND` with no option and no reference anywhere takes a
/// short way to exec; what the command gets must be what the full way gives.
#[test]
fn the_plain_entrypoint_form_passes_the_environment_as_it_is() {
    let kit = Kit::new();
    let odd = "a=b; c\nline two\t\u{1F511} @Microsoft.KeyVaul";
    for dashes in [true, false] {
        let run = kit
            .bare()
            .arg("run")
            .env("PLAIN", "plain")
            .env("ODD", odd)
            .env("EMPTY", "")
            .probe();
        let out = if dashes {
            run.go()
        } else {
            run.go_without_dashes()
        };
        out.assert_code(0);
        assert_eq!(out.child("PLAIN").unwrap(), "plain");
        assert_eq!(out.child("ODD").unwrap(), odd);
        assert_eq!(out.child("EMPTY").unwrap(), "");
        assert!(kit.azure.identity.requests().is_empty());
    }
    // The command's exit code, and env(1)'s codes when exec fails.
    let out = kit.bare().arg("run").command(["sh", "-c", "exit 7"]).go();
    out.assert_code(7);
    let out = kit
        .bare()
        .arg("run")
        .command(["kvenv-no-such-command-xyz"])
        .go();
    out.assert_code(127);
    assert_eq!(
        out.stderr,
        "kvenv: kvenv-no-such-command-xyz: command not found\n"
    );
}

#[test]
fn the_plain_entrypoint_form_still_checks_reference_text_and_kvenv_variables() {
    let kit = Kit::new();
    // Reference text, even malformed, goes the full way (and is refused).
    let out = kit
        .bare()
        .arg("run")
        .env("BROKEN", "@Microsoft.KeyVault(VaultName=x)")
        .command(["true"])
        .go();
    out.assert_code(125);
    assert!(out.stderr.contains("BROKEN"), "{}", out.stderr);
    // Options may come from KVENV_* variables: they are read and checked.
    let out = kit
        .bare()
        .arg("run")
        .env("KVENV_LOG_FORMAT", "yaml")
        .command(["true"])
        .go();
    out.assert_code(125);
    assert!(out.stderr.contains("yaml"), "{}", out.stderr);
    // ... and honoured: an env file named by KVENV_ENV_FILE brings a reference.
    kit.azure
        .vault
        .set_secret("from-file", "env-file-value-5521");
    let file = kit.azure.dir().join("plain.env");
    std::fs::write(
        &file,
        format!("FROM_FILE={}\n", kit.azure.vault.reference("from-file")),
    )
    .unwrap();
    let out = kit
        .bare()
        .arg("run")
        .env("KVENV_ENV_FILE", file.display().to_string())
        .env("KVENV_ALLOW_HOST", kit.azure.vault.host())
        .env("KVENV_CA_FILE", kit.azure.ca_file().display().to_string())
        .probe()
        .go();
    out.assert_code(0);
    assert_eq!(out.child("FROM_FILE").unwrap(), "env-file-value-5521");
}

#[test]
fn the_environment_is_otherwise_unchanged() {
    let kit = Kit::new();
    kit.azure.vault.set_secret("s", "env-value-1201");
    let out = kit
        .run()
        .env("S", kit.azure.vault.reference("s"))
        .env("KEEP_ME", "as is")
        .probe()
        .go();
    out.assert_code(0);
    let env = out.child_env.as_ref().unwrap();
    let mut names: Vec<&String> = env.keys().collect();
    names.sort();
    // sh may add PWD/SHLVL/_; kvenv adds nothing of its own.
    let ours: Vec<&&String> = names
        .iter()
        .filter(|n| !["PWD", "SHLVL", "_", "OLDPWD"].contains(&n.as_str()))
        .collect();
    let mut expected: Vec<String> = vec![
        "PATH".into(),
        "S".into(),
        "KEEP_ME".into(),
        "IDENTITY_ENDPOINT".into(),
        "IDENTITY_HEADER".into(),
    ];
    expected.sort();
    assert_eq!(
        ours.iter().map(|s| s.as_str()).collect::<Vec<_>>(),
        expected
    );
    assert_eq!(out.child("KEEP_ME").unwrap(), "as is");
}

/// A kit with a secret that resolves and one the identity may not read.
fn verbosity_kit() -> Kit {
    let kit = Kit::new();
    kit.azure.vault.set_secret("s", "verbose-secret-value-3141");
    kit.azure
        .vault
        .set_secret("locked", "verbose-locked-value-2718");
    kit.azure.vault.deny("locked");
    kit
}

const LEVELS: [&[&str]; 6] = [
    &["-q"],
    &[],
    &["-v"],
    &["-vv"],
    &["-vvv"],
    &["-vvv", "--log-format", "json"],
];

#[test]
fn no_secret_or_token_at_any_verbosity() {
    let kit = verbosity_kit();
    for flags in LEVELS {
        // The leak sweep in `go()` checks values, tokens and the identity header.
        let ok = kit
            .run()
            .args(flags.iter().copied())
            .env("S", kit.azure.vault.reference("s"))
            .probe()
            .go();
        ok.assert_code(0);
        let failed = kit
            .run()
            .args(flags.iter().copied())
            .env("S", kit.azure.vault.reference("s"))
            .env("L", kit.azure.vault.reference("locked"))
            .probe()
            .go();
        failed.assert_code(125);
    }
}

#[test]
fn quiet_and_default_print_nothing_but_failure_lines() {
    let kit = verbosity_kit();
    for flags in [&["-q"][..], &[]] {
        let ok = kit
            .run()
            .args(flags.iter().copied())
            .env("S", kit.azure.vault.reference("s"))
            .probe()
            .go();
        assert_eq!(ok.stderr, "", "{flags:?}");
        let failed = kit
            .run()
            .args(flags.iter().copied())
            .env("S", kit.azure.vault.reference("s"))
            .env("L", kit.azure.vault.reference("locked"))
            .probe()
            .go();
        assert!(
            failed.stderr.lines().all(|l| l.starts_with("kvenv: L: ")),
            "{}",
            failed.stderr
        );
    }
}

#[test]
fn verbose_levels_add_what_they_promise() {
    let kit = verbosity_kit();
    for flags in &LEVELS[2..] {
        let ok = kit
            .run()
            .args(flags.iter().copied())
            .env("S", kit.azure.vault.reference("s"))
            .probe()
            .go();
        assert!(ok.stderr.contains("credential chosen"), "{}", ok.stderr);
        assert!(ok.stderr.contains("resolved"), "{}", ok.stderr);
        if flags[0] != "-v" {
            // HTTP detail: method, host, path, status, duration.
            assert!(
                ok.stderr.contains("HTTP")
                    && ok.stderr.contains("/secrets/s/")
                    && ok.stderr.contains("200"),
                "{}",
                ok.stderr
            );
        }
        if flags.contains(&"json") {
            for line in ok.stderr.lines() {
                serde_json::from_str::<serde_json::Value>(line)
                    .unwrap_or_else(|_| panic!("not JSON: {line}"));
            }
        }
    }
    // KVENV_VERBOSE works like -v.
    let out = kit
        .run()
        .env("KVENV_VERBOSE", "1")
        .env("S", kit.azure.vault.reference("s"))
        .probe()
        .go();
    assert!(out.stderr.contains("credential chosen"), "{}", out.stderr);
}

#[test]
fn a_retry_is_visible_from_v_on_with_its_status() {
    let kit = verbosity_kit();
    kit.azure
        .vault
        .fault("s", kvenv_testkit::Fault::status(503, 1));
    let out = kit
        .run()
        .arg("-v")
        .env("S", kit.azure.vault.reference("s"))
        .probe()
        .go();
    out.assert_code(0);
    assert!(
        out.stderr.contains("retryable answer") && out.stderr.contains("503"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_slow_vault_is_bounded_by_timeout() {
    let kit = Kit::new();
    kit.azure.vault.set_secret("slow", "slow-value-4242");
    kit.azure.vault.delay("slow", Duration::from_secs(20));
    let started = Instant::now();
    let out = kit
        .run()
        .args(["--timeout", "1"])
        .env("SLOW", kit.azure.vault.reference("slow"))
        .probe()
        .go();
    out.assert_code(125);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
    assert!(
        out.stderr
            .contains("SLOW: FetchTimedOut: no answer for secret 'slow'"),
        "{}",
        out.stderr
    );
    assert!(out.child_env.is_none());
}

/// Runs kvenv once per set of user-assigned flags with `--credential
/// managed-identity` and checks the one token request each run made: the
/// platform's parameter carries the id, and no other id parameter is sent.
fn check_user_assigned_selection(
    kind: IdentityKind,
    cases: [(&[&str], &str); 4],
    each: impl Fn(&kvenv_testkit::IdentityRequest),
) {
    let kit = Kit::with(kind);
    kit.azure.vault.set_secret("s", "user-assigned-value-5150");
    let all_params: Vec<&str> = cases
        .iter()
        .map(|(_, p)| *p)
        .filter(|p| !p.is_empty())
        .collect();
    for (flags, param) in cases {
        let before = kit.azure.identity.requests().len();
        let out = kit
            .run()
            .args(["--credential", "managed-identity"])
            .args(flags.iter().copied())
            .env("S", kit.azure.vault.reference("s"))
            .probe()
            .go();
        out.assert_code(0);
        assert_eq!(out.child("S").unwrap(), "user-assigned-value-5150");
        let requests = kit.azure.identity.requests();
        let seen = &requests[before..];
        assert_eq!(seen.len(), 1, "one token request");
        let req = &seen[0];
        assert_eq!(req.param("resource"), Some("https://vault.azure.net"));
        each(req);
        for other in &all_params {
            let want = (*other == param).then(|| flags[1]);
            assert_eq!(req.param(other), want, "{other} with {flags:?}");
        }
    }
}

#[test]
fn imds_with_user_assigned_identities() {
    let cases: [(&[&str], &str); 4] = [
        (&[], ""),
        (&["--client-id", "cid-1"], "client_id"),
        (&["--object-id", "oid-2"], "object_id"),
        (&["--resource-id", "/subscriptions/x/rid-3"], "msi_res_id"),
    ];
    check_user_assigned_selection(IdentityKind::Imds, cases, |req| {
        assert_eq!(req.path, "/metadata/identity/oauth2/token");
        assert!(req.metadata_header, "Metadata: true");
        assert_eq!(req.param("api-version"), Some("2018-02-01"));
    });
}

#[test]
fn azure_client_id_selects_the_user_assigned_identity_by_default() {
    let kit = Kit::with(IdentityKind::Imds);
    kit.azure.vault.set_secret("s", "imds-env-value-5151");
    let out = kit
        .run()
        .env("AZURE_CLIENT_ID", "from-env")
        .env("S", kit.azure.vault.reference("s"))
        .probe()
        .go();
    out.assert_code(0);
    // In auto mode the first request is the IMDS probe (no Metadata header).
    let requests = kit.azure.identity.requests();
    assert!(!requests[0].metadata_header, "probe first");
    let token_request = requests.iter().find(|r| r.status == 200).unwrap();
    assert_eq!(token_request.param("client_id"), Some("from-env"));
}

#[test]
fn imds_throttling_and_errors_are_retried() {
    let kit = Kit::with(IdentityKind::Imds);
    kit.azure.vault.set_secret("s", "imds-retry-value-5152");
    kit.azure.identity.fail_next(429, 1, Some("0"));
    kit.azure.identity.fail_next(503, 1, None);
    kit.azure.identity.fail_next(410, 1, None);
    let out = kit
        .run()
        .args(["--credential", "managed-identity"])
        .env("S", kit.azure.vault.reference("s"))
        .probe()
        .go();
    out.assert_code(0);
    let statuses: Vec<u16> = kit
        .azure
        .identity
        .requests()
        .iter()
        .map(|r| r.status)
        .collect();
    assert_eq!(statuses, [429, 503, 410, 200]);
}

#[test]
fn app_service_identity_header_and_user_assigned_ids() {
    // The crate sends object_id (App Service's alias of principal_id); kvenv's
    // own request carries mi_res_id, which the crate refuses there.
    let cases: [(&[&str], &str); 4] = [
        (&[], ""),
        (&["--client-id", "cid-1"], "client_id"),
        (&["--object-id", "oid-2"], "object_id"),
        (&["--resource-id", "/subscriptions/x/rid-3"], "mi_res_id"),
    ];
    check_user_assigned_selection(IdentityKind::AppService, cases, |req| {
        assert!(req.identity_header_ok, "X-IDENTITY-HEADER sent");
        assert_eq!(req.param("api-version"), Some("2019-08-01"));
    });
}

#[test]
fn identity_failure_is_reported_once_per_reference() {
    let kit = Kit::new();
    kit.azure.vault.set_secret("s", "idfail-value-7171");
    let out = kit
        .run()
        .env("IDENTITY_HEADER", "wrong-header")
        .env("S", kit.azure.vault.reference("s"))
        .probe()
        .go();
    out.assert_code(125);
    assert!(
        out.stderr.contains("S: MSINotEnabled: no token for vault"),
        "{}",
        out.stderr
    );
    assert_eq!(
        kit.azure.identity.requests().len(),
        1,
        "401 from the identity endpoint is not retried"
    );
}

#[test]
fn the_command_gets_the_original_core_limit_back() {
    let kit = Kit::new();
    kit.azure.vault.set_secret("s", "core-limit-value-8080");
    let out = kit
        .bare()
        .env("S", kit.azure.vault.reference("s"))
        .env("KVENV", assert_cmd::cargo::cargo_bin("kvenv").display().to_string())
        .env("HOST", kit.azure.vault.host())
        .env("CA", kit.azure.ca_file().display().to_string())
        .go_shell("ulimit -S -c 1234; exec \"$KVENV\" run --allow-host \"$HOST\" --ca-file \"$CA\" -- sh -c 'ulimit -S -c'");
    assert_eq!(out.stdout.trim(), "1234", "stderr: {}", out.stderr);
}

#[test]
fn ssl_cert_file_is_trusted_like_ca_file() {
    let kit = Kit::new();
    kit.azure.vault.set_secret("s", "ssl-cert-file-value-9090");
    let out = kit
        .bare()
        .args(["run", "--allow-host", &kit.azure.vault.host()])
        .env("SSL_CERT_FILE", kit.azure.ca_file().display().to_string())
        .env("S", kit.azure.vault.reference("s"))
        .probe()
        .go();
    out.assert_code(0);
    assert_eq!(out.child("S").unwrap(), "ssl-cert-file-value-9090");

    // Without either, the fake's private CA is not trusted (bundled roots only).
    let out = kit
        .bare()
        .args(["run", "--allow-host", &kit.azure.vault.host()])
        .env("S", kit.azure.vault.reference("s"))
        .probe()
        .go();
    out.assert_code(125);
    assert!(out.stderr.contains("--ca-file"), "{}", out.stderr);

    let out = kit
        .bare()
        .args(["run", "--allow-host", &kit.azure.vault.host()])
        .env("SSL_CERT_FILE", "/nonexistent/ca.pem")
        .env("S", kit.azure.vault.reference("s"))
        .probe()
        .go();
    out.assert_code(125);
    assert!(
        out.stderr
            .starts_with("kvenv: SSL_CERT_FILE /nonexistent/ca.pem: cannot read"),
        "{}",
        out.stderr
    );
}

#[test]
fn suffix_hosts_get_the_token_on_the_first_request() {
    let kit = Kit::new();
    for i in 0..5 {
        kit.azure
            .vault
            .set_secret(&format!("s{i}"), &format!("preauth-value-{i}"));
    }
    let mut run = kit.run_suffix(&kit.azure.vault, "myvault");
    for i in 0..5 {
        run = run.env(
            &format!("S{i}"),
            format!("@Microsoft.KeyVault(VaultName=myvault;SecretName=s{i})"),
        );
    }
    let out = run.probe().go();
    out.assert_code(0);
    let requests = kit.azure.vault.requests();
    assert_eq!(
        requests.len(),
        5,
        "one GET per secret, no challenge round trip: {requests:?}"
    );
    assert!(requests.iter().all(|r| r.authorized && r.status == 200));
    assert_eq!(kit.azure.identity.tokens_issued(), 1);
    // The data-plane API version is kvenv's own, whatever the crate's default.
    assert!(
        requests
            .iter()
            .all(|r| r.api_version.as_deref() == Some("2025-07-01")),
        "{requests:?}"
    );
}

#[test]
fn a_401_on_a_suffix_host_is_answered_through_the_verified_challenge() {
    let kit = Kit::new();
    kit.azure.vault.set_secret("s", "challenge-value-1");
    let port = kit.azure.vault.port();
    let run = |kit: &Kit| {
        kit.bare()
            .args([
                "run",
                "--ca-file",
                &kit.azure.ca_file().display().to_string(),
            ])
            .args([
                "--resolve",
                &format!("myvault.vault.azure.net=127.0.0.1:{port}"),
            ])
            .env("S", "@Microsoft.KeyVault(VaultName=myvault;SecretName=s)")
            .probe()
            .go()
    };
    kit.azure
        .vault
        .fault("s", Fault::challenge("https://vault.azure.net", 1));
    let out = run(&kit);
    out.assert_code(0);
    assert_eq!(out.child("S").unwrap(), "challenge-value-1");
    let statuses: Vec<u16> = kit
        .azure
        .vault
        .requests()
        .iter()
        .map(|r| r.status)
        .collect();
    assert_eq!(statuses, [401, 200]);

    // A challenge for another audience is refused before any token is asked for.
    let issued = kit.azure.identity.tokens_issued();
    kit.azure
        .vault
        .fault("s", Fault::challenge("https://evil.example", 1));
    let out = run(&kit);
    out.assert_code(125);
    assert!(
        out.stderr.contains(
            "S: AccessToKeyVaultDenied: refused: myvault.vault.azure.net asked for a token for 'https://evil.example'; kvenv only ever requests https://vault.azure.net/.default"
        ),
        "{}",
        out.stderr
    );
    assert!(kit
        .azure
        .identity
        .requests()
        .iter()
        .all(|r| r.param("resource") == Some("https://vault.azure.net")));
    assert_eq!(
        kit.azure.identity.tokens_issued(),
        issued + 1,
        "only the pre-authorised vault token"
    );
}

#[test]
fn at_vv_every_exchange_is_one_line_in_one_format() {
    for kind in [IdentityKind::Imds, IdentityKind::AppService] {
        let kit = Kit::with(kind);
        kit.azure.vault.set_secret("s", "log-line-value");
        let out = kit
            .run()
            .arg("-vv")
            .env("S", kit.azure.vault.reference("s"))
            .probe()
            .go();
        out.assert_code(0);
        let exchanges: Vec<&str> = out
            .stderr
            .lines()
            .filter(|l| l.contains(" HTTP method="))
            .collect();
        let to = |host: &str| {
            exchanges
                .iter()
                .filter(|l| l.contains(&format!("host=\"{host}\" ")))
                .count()
        };
        let identity_host = format!("127.0.0.1:{}", kit.azure.identity.port());
        // The IMDS probe is an exchange the fake sees too.
        assert_eq!(
            to(&identity_host),
            kit.azure.identity.requests().len(),
            "{kind:?}:\n{}",
            out.stderr
        );
        assert_eq!(
            to(&kit.azure.vault.host()),
            kit.azure.vault.requests().len(),
            "{kind:?}:\n{}",
            out.stderr
        );
        assert_eq!(
            exchanges.len(),
            to(&identity_host) + to(&kit.azure.vault.host())
        );
        for line in &exchanges {
            for field in ["method=GET", "path=\"/", "status=", "ms="] {
                assert!(line.contains(field), "{line}");
            }
        }
        // The crates' own debug lines wait for -vvv.
        assert!(
            !out.stderr.contains("typespec_client_core"),
            "{}",
            out.stderr
        );
    }
}

// Regression: with stderr a pipe whose reader had gone, kvenv died of SIGPIPE
// at its first failure line; with SIGPIPE ignored, or on /dev/full, the write
// panicked and aborted.
#[test]
fn a_broken_stderr_never_kills_kvenv() {
    let kit = Kit::new();
    for (what, prefix, stderr) in support::broken_stderrs() {
        let code = kit
            .run()
            .env("DB_PASSWORD", kit.azure.vault.reference("absent"))
            .command(["true"])
            .go_with_stderr(prefix, stderr);
        assert_eq!(
            code,
            Some(125),
            "run with a failing reference, stderr {what}"
        );
    }
    for (what, prefix, stderr) in support::broken_stderrs() {
        let code = kit
            .run_render()
            .arg("/nonexistent/kvenv.tmpl")
            .go_with_stderr(prefix, stderr);
        assert_eq!(
            code,
            Some(125),
            "render of a missing template, stderr {what}"
        );
    }
    for (what, prefix, stderr) in support::broken_stderrs() {
        let code = kit
            .bare()
            .args(["run", "--no-such-flag"])
            .command(["true"])
            .go_with_stderr(prefix, stderr);
        assert_eq!(code, Some(125), "a usage error, stderr {what}");
    }
    for (what, prefix, stderr) in support::broken_stderrs() {
        let code = kit
            .check()
            .env("DB_PASSWORD", kit.azure.vault.reference("absent"))
            .go_with_stderr(prefix, stderr);
        assert_eq!(
            code,
            Some(1),
            "check with a failing reference, stderr {what}"
        );
    }
    for (what, prefix, stderr) in support::broken_stderrs() {
        let code = kit
            .run()
            .args(["--watch", "--refresh-interval", "1s"])
            .command(["sh", "-c", "exit 3"])
            .go_with_stderr(prefix, stderr);
        assert_eq!(
            code,
            Some(3),
            "run --watch without references, stderr {what}"
        );
    }
}

// Regression: started with fd 0, 1 or 2 closed, kvenv put a template's
// in-memory file there, and the command read its secrets as stdin (or wrote
// its output into the template).
#[test]
fn closed_standard_descriptors_stay_closed_and_templates_go_above_them() {
    let kit = Kit::new();
    kit.azure.vault.set_secret("pw", "fd-template-secret-8841");
    let dir = tempfile::tempdir().unwrap();
    let template = dir.path().join("pass.tmpl");
    std::fs::write(
        &template,
        format!("pw={}\n", kit.azure.vault.reference("pw")),
    )
    .unwrap();
    let script = r#"for fd in 0 1 2; do
        if [ -e /proc/self/fd/$fd ]; then echo "$fd open" >> "$1"; else echo "$fd closed" >> "$1"; fi
    done
    echo "TPL=$TPL" >> "$1"; cat "$TPL" >> "$1""#;
    for closed in [&[0][..], &[1], &[2], &[0, 1, 2]] {
        let report = dir.path().join(format!("report-{closed:?}"));
        let prefix: Vec<String> = closed.iter().map(|fd| format!("exec {fd}>&-")).collect();
        let out = kit
            .run()
            .args(["--template", &format!("{}=TPL", template.display())])
            .command(["sh", "-c", script, "sh", &report.display().to_string()])
            .go_after(&prefix.join("; "));
        out.assert_code(0);
        let seen = std::fs::read_to_string(&report).unwrap();
        let lines: Vec<&str> = seen.lines().collect();
        for fd in 0..3 {
            let expected = match closed.contains(&fd) {
                true => format!("{fd} closed"),
                false => format!("{fd} open"),
            };
            assert_eq!(lines[fd as usize], expected, "closed {closed:?}: {seen}");
        }
        let n: i32 = lines[3]
            .strip_prefix("TPL=/dev/fd/")
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("closed {closed:?}: {seen}"));
        assert!(n >= 3, "closed {closed:?}: the template took fd {n}");
        assert_eq!(lines[4], "pw=fd-template-secret-8841", "closed {closed:?}");
    }
}

/// Starts `program` with exactly `env` (entries as given, `=` or not) and
/// returns what it wrote to stdout, and its exit code.
fn spawn_with_raw_env(program: &str, args: &[&str], env: &[&[u8]]) -> (Vec<u8>, i32) {
    use nix::spawn::{posix_spawn, PosixSpawnAttr, PosixSpawnFileActions};
    use std::ffi::CString;
    use std::os::fd::AsRawFd;
    let out = tempfile::tempfile().unwrap();
    let mut actions = PosixSpawnFileActions::init().unwrap();
    actions.add_dup2(out.as_raw_fd(), 1).unwrap();
    let path = CString::new(program).unwrap();
    let mut argv = vec![path.clone()];
    argv.extend(args.iter().map(|a| CString::new(*a).unwrap()));
    let envp: Vec<CString> = env.iter().map(|e| CString::new(*e).unwrap()).collect();
    let pid = posix_spawn(
        path.as_c_str(),
        &actions,
        &PosixSpawnAttr::init().unwrap(),
        &argv,
        &envp,
    )
    .unwrap();
    let code = match nix::sys::wait::waitpid(pid, None).unwrap() {
        nix::sys::wait::WaitStatus::Exited(_, code) => code,
        other => panic!("{other:?}"),
    };
    use std::io::{Read, Seek};
    let mut out = out;
    out.rewind().unwrap();
    let mut bytes = Vec::new();
    out.read_to_end(&mut bytes).unwrap();
    (bytes, code)
}

// Regression: entries without `=`, or starting with one, were dropped on
// both paths; env(1) passes them on.
#[test]
fn entries_that_are_not_name_value_pass_through_as_with_env() {
    let kit = Kit::new();
    kit.azure.vault.set_secret("s", "odd-entries-secret-3120");
    let kvenv = assert_cmd::cargo::cargo_bin!("kvenv").display().to_string();
    let odd: [&[u8]; 4] = [b"NOEQUALS", b"=x", b"=a=b", b"PLAIN=1"];
    let mut base: Vec<Vec<u8>> = vec![b"PATH=/usr/bin:/bin".to_vec()];
    base.extend(odd.iter().map(|e| e.to_vec()));
    let as_refs = |v: &[Vec<u8>]| v.iter().map(Vec::clone).collect::<Vec<_>>();
    let entries = |bytes: &[u8]| -> Vec<Vec<u8>> {
        bytes
            .split(|b| *b == 0)
            .filter(|e| !e.is_empty())
            .map(<[u8]>::to_vec)
            .collect()
    };
    let (by_env, code) = spawn_with_raw_env(
        "/usr/bin/env",
        &["cat", "/proc/self/environ"],
        &base.iter().map(Vec::as_slice).collect::<Vec<_>>(),
    );
    assert_eq!(code, 0);
    let by_env = entries(&by_env);
    for entry in odd {
        assert!(
            by_env.contains(&entry.to_vec()),
            "env(1) itself: {by_env:?}"
        );
    }
    // The plain entrypoint form, and the full path with a reference to resolve.
    let (plain, code) = spawn_with_raw_env(
        &kvenv,
        &["run", "--", "cat", "/proc/self/environ"],
        &base.iter().map(Vec::as_slice).collect::<Vec<_>>(),
    );
    assert_eq!(code, 0);
    assert_eq!(entries(&plain), by_env, "the plain form");
    let mut full = as_refs(&base);
    full.push(format!("S={}", kit.azure.vault.reference("s")).into_bytes());
    full.extend(
        kit.azure
            .identity_env()
            .into_iter()
            .map(|(k, v)| format!("{k}={v}").into_bytes()),
    );
    let ca = kit.azure.ca_file().display().to_string();
    let host = kit.azure.vault.host();
    let (resolved, code) = spawn_with_raw_env(
        &kvenv,
        &[
            "run",
            "--allow-host",
            &host,
            "--ca-file",
            &ca,
            "--",
            "cat",
            "/proc/self/environ",
        ],
        &full.iter().map(Vec::as_slice).collect::<Vec<_>>(),
    );
    assert_eq!(code, 0);
    let resolved = entries(&resolved);
    for entry in odd {
        assert!(
            resolved.contains(&entry.to_vec()),
            "the full path: {resolved:?}"
        );
    }
    assert!(resolved.contains(&b"S=odd-entries-secret-3120".to_vec()));
}

#[test]
fn the_sovereign_clouds_bleu_and_delos_have_their_own_suffix_and_audience() {
    for (cloud, suffix, audience) in [
        (
            "bleu",
            "vault.sovcloud-api.fr",
            "https://vault.sovcloud-api.fr",
        ),
        (
            "delos",
            "vault.sovcloud-api.de",
            "https://vault.sovcloud-api.de",
        ),
    ] {
        let kit = Kit::new();
        kit.azure
            .vault
            .set_secret("db", &format!("{cloud}-secret-value"));
        let port = kit.azure.vault.port();
        let out = kit
            .bare()
            .args([
                "run",
                "--cloud",
                cloud,
                "--ca-file",
                &kit.azure.ca_file().display().to_string(),
            ])
            .args(["--resolve", &format!("myvault.{suffix}=127.0.0.1:{port}")])
            .env("A", "@Microsoft.KeyVault(VaultName=myvault;SecretName=db)")
            .probe()
            .go();
        out.assert_code(0);
        assert_eq!(out.child("A").unwrap(), format!("{cloud}-secret-value"));
        assert_eq!(kit.azure.identity.resources(), [audience], "{cloud}");
        // The public suffix is not this cloud's: refused before any request.
        let out = kit
            .bare()
            .args(["run", "--cloud", cloud])
            .env(
                "B",
                "@Microsoft.KeyVault(SecretUri=https://myvault.vault.azure.net/secrets/db)",
            )
            .command(["true"])
            .go();
        out.assert_code(125);
        assert!(out.stderr.contains("HostNotAllowed"), "{}", out.stderr);
        // App Configuration there: one clear line, no request.
        let out = kit
            .bare()
            .args(["run", "--cloud", cloud])
            .env(
                "C",
                "@Microsoft.AppConfiguration(Endpoint=https://s.azconfig.io; Key=k)",
            )
            .command(["true"])
            .go();
        out.assert_code(125);
        assert!(
            out.stderr.contains(&format!(
                "App Configuration in the {cloud} cloud is not supported yet"
            )),
            "{}",
            out.stderr
        );
    }
}

#[test]
fn install_copies_kvenv_atomically_and_replaces_a_link_without_following_it() {
    let kit = Kit::new();
    let dir = tempfile::tempdir().unwrap();
    let victim = dir.path().join("victim");
    std::fs::write(&victim, "not to be touched").unwrap();
    std::os::unix::fs::symlink(&victim, dir.path().join("kvenv")).unwrap();
    let out = kit
        .bare()
        .args(["install", &dir.path().display().to_string()])
        .go();
    out.assert_code(0);
    assert_eq!((out.stdout.as_str(), out.stderr.as_str()), ("", ""));
    assert_eq!(
        std::fs::read_to_string(&victim).unwrap(),
        "not to be touched"
    );
    let installed = dir.path().join("kvenv");
    let meta = std::fs::symlink_metadata(&installed).unwrap();
    assert!(meta.is_file(), "the link was replaced by a file");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(meta.permissions().mode() & 0o7777, 0o755);
    let original = std::fs::read(assert_cmd::cargo::cargo_bin!("kvenv")).unwrap();
    assert_eq!(std::fs::read(&installed).unwrap(), original);
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(leftovers.len(), 2, "{leftovers:?}");
    // The copy runs.
    let status = std::process::Command::new(&installed)
        .arg("--version")
        .output()
        .unwrap();
    assert!(status.status.success());
    for bad in [victim.display().to_string(), "/nonexistent/dir".to_string()] {
        let out = kit.bare().args(["install", &bad]).go();
        out.assert_code(125);
        assert_eq!(out.stderr.lines().count(), 1, "{}", out.stderr);
        assert!(
            out.stderr.starts_with(&format!("kvenv: install {bad}: ")),
            "{}",
            out.stderr
        );
    }
}

// The command is searched in kvenv's PATH with its env files applied (an env
// file may bring PATH when the environment has none), by exec and by the
// supervised start alike; a script without `#!` is run by /bin/sh, as
// execvp(3) does.
#[test]
fn the_command_is_searched_in_the_path_an_env_file_brings() {
    use std::os::unix::fs::PermissionsExt;
    let kit = Kit::new();
    kit.azure.vault.set_secret("greeting", "path-value-8812");
    let bin = kit.azure.dir().join("own-bin");
    std::fs::create_dir_all(&bin).unwrap();
    let scripts = [
        (
            "greet-8812",
            "#!/bin/sh\nprintf %s \"$GREETING\" > \"$1\"\n",
        ),
        ("bare-8812", "printf %s \"$GREETING\" > \"$1\"\n"),
    ];
    for (name, text) in scripts {
        let file = bin.join(name);
        std::fs::write(&file, text).unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let env_file = kit.azure.dir().join("path.env");
    std::fs::write(
        &env_file,
        format!(
            "PATH={}:/usr/bin:/bin\nGREETING={}\n",
            bin.display(),
            kit.azure.vault.reference("greeting")
        ),
    )
    .unwrap();
    for (name, _) in scripts {
        for watch in [false, true] {
            let out_file = kit.azure.dir().join(format!("{name}-{watch}.out"));
            let mut run = kit
                .run()
                .without_env("PATH")
                .args(["--env-file".to_string(), env_file.display().to_string()]);
            if watch {
                run = run.arg("--watch");
            }
            let out = run
                .command([name.to_string(), out_file.display().to_string()])
                .go();
            out.assert_code(0);
            assert_eq!(
                std::fs::read_to_string(&out_file).unwrap(),
                "path-value-8812",
                "{name} watch={watch}: {}",
                out.stderr
            );
        }
    }
    // Not in that PATH: 127, as env(1).
    let out = kit
        .run()
        .without_env("PATH")
        .args(["--env-file".to_string(), env_file.display().to_string()])
        .command(["no-such-command-8812"])
        .go();
    out.assert_code(127);
    assert!(
        out.stderr
            .contains("no-such-command-8812: command not found"),
        "{}",
        out.stderr
    );
}

// Regression: `kvenv completions SHELL` into /dev/full or a closed stdout
// panicked in clap_complete's writer and died of SIGABRT.
#[test]
fn completions_and_man_into_a_broken_stdout_are_one_line_and_125() {
    let full = || -> std::process::Stdio {
        std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .unwrap()
            .into()
    };
    for args in [
        &["completions", "bash"][..],
        &["completions", "zsh"],
        &["man"],
    ] {
        for (what, prefix, stdout) in [
            ("/dev/full", "true", full()),
            (
                "a closed pipe, SIGPIPE ignored",
                "trap '' PIPE",
                support::broken_pipe(),
            ),
            ("closed", "exec 1>&-", std::process::Stdio::null()),
        ] {
            let out = std::process::Command::new("sh")
                .arg("-c")
                .arg(format!("{prefix}; exec \"$0\" \"$@\""))
                .arg(assert_cmd::cargo::cargo_bin!("kvenv"))
                .args(args)
                .stdout(stdout)
                .output()
                .unwrap();
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(
                out.status.code(),
                Some(125),
                "{args:?} into {what}: {stderr}"
            );
            assert_eq!(stderr.lines().count(), 1, "{args:?} into {what}: {stderr}");
            assert!(stderr.starts_with("kvenv: writing to stdout: "), "{stderr}");
        }
    }
}

// Regression: text that looked like a reference but lacked its '@' passed on
// silently, and the app got the reference text as its password.
#[test]
fn a_reference_without_its_at_sign_is_warned_about_never_failed() {
    let kit = Kit::new();
    let text = "Microsoft.KeyVault(VaultName=myvault;SecretName=db)";
    for form in ["run", "run --"] {
        let mut run = kit.bare();
        run = run.args(form.split(' '));
        let out = run
            .env("DB_PASSWORD", text)
            .env("OTHER", "plain")
            .probe()
            .go_without_dashes();
        out.assert_code(0);
        assert_eq!(out.child("DB_PASSWORD").unwrap(), text);
        assert_eq!(
            out.stderr,
            "kvenv: DB_PASSWORD: looks like a reference but is not one, so it is passed on as it is (a reference is @Microsoft.KeyVault(...) or @Microsoft.AppConfiguration(...), written exactly so)\n",
            "{form}"
        );
    }
    let out = kit
        .run()
        .arg("-q")
        .env(
            "CONFIG",
            "x Microsoft.AppConfiguration(Endpoint=https://s.azconfig.io; Key=k)",
        )
        .probe()
        .go();
    out.assert_code(0);
    assert_eq!(out.stderr, "", "-q: no warning");
    assert!(kit.azure.vault.requests().is_empty());
}
