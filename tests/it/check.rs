//! `kvenv check`: one row per reference, App Service's status names, never a
//! value; table and JSON pinned as snapshots; exit 0, 1 or 125.

use crate::support;

use kvenv_testkit::FakeVault;
use std::net::TcpListener;
use support::Kit;

/// Ports and version ids change every run; snapshots show placeholders of the
/// same length (ephemeral ports have five digits, versions 32 characters), so
/// the table's columns stay aligned.
fn normalize(text: &str, vault: &FakeVault, unreachable: &str, versions: &[&str]) -> String {
    let mut out = text
        .replace(&vault.host(), "127.0.0.1:VAULT")
        .replace(unreachable, "127.0.0.1:CLOSD");
    for (i, v) in versions.iter().enumerate() {
        out = out.replace(v, &format!("{:_<32}", format!("VERSION{i}")));
    }
    out
}

struct Scene {
    kit: Kit,
    unreachable: String,
    versions: Vec<String>,
}

fn scene() -> Scene {
    let kit = Kit::new();
    let v = &kit.azure.vault;
    let ok = v.set_secret("db-password", "check-value-1");
    let pinned = v.set_secret("api-key", "check-value-2");
    v.set_secret("locked", "check-value-3");
    v.deny("locked");
    v.set_secret("retired", "check-value-4");
    v.disable("retired");
    let closed = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    Scene {
        kit,
        unreachable: format!("127.0.0.1:{closed}"),
        versions: vec![ok, pinned],
    }
}

fn check_run<'k>(s: &'k Scene, output: &str) -> support::Run<'k> {
    let v = &s.kit.azure.vault;
    s.kit
        .bare()
        .args(["check", "--output", output, "--timeout", "3"])
        .args(["--allow-host", &v.host(), "--allow-host", &s.unreachable])
        .args(["--ca-file", &s.kit.azure.ca_file().display().to_string()])
        .env("A_RESOLVED", v.reference("db-password"))
        .env(
            "B_PINNED",
            format!(
                "@Microsoft.KeyVault(SecretUri={}{})",
                v.secret_uri("api-key"),
                s.versions[1]
            ),
        )
        .env("C_MISSING", v.reference("no-such-secret"))
        .env(
            "D_MISSING_VERSION",
            format!(
                "@Microsoft.KeyVault(SecretUri={}00000000000000000000000000000000)",
                v.secret_uri("api-key")
            ),
        )
        .env("E_DENIED", v.reference("locked"))
        .env("F_DISABLED", v.reference("retired"))
        .env(
            "G_BAD_SYNTAX",
            "@Microsoft.KeyVault(VaultName=myvault;SecretNam=x)",
        )
        .env(
            "H_UNREACHABLE",
            format!(
                "@Microsoft.KeyVault(SecretUri=https://{}/secrets/x)",
                s.unreachable
            ),
        )
        .env(
            "I_NOT_ALLOWED",
            "@Microsoft.KeyVault(SecretUri=https://evil.example/secrets/x)",
        )
}

#[test]
fn check_table_names_every_status() {
    let s = scene();
    let out = check_run(&s, "table").go();
    out.assert_code(1);
    assert_eq!(out.stderr, "", "the table says it all");
    let versions: Vec<&str> = s.versions.iter().map(String::as_str).collect();
    let text = normalize(&out.stdout, &s.kit.azure.vault, &s.unreachable, &versions);
    insta::assert_snapshot!("check_table", text);
}

#[test]
fn check_json_has_stable_fields() {
    let s = scene();
    let out = check_run(&s, "json").go();
    out.assert_code(1);
    let versions: Vec<&str> = s.versions.iter().map(String::as_str).collect();
    let text = normalize(&out.stdout, &s.kit.azure.vault, &s.unreachable, &versions);
    insta::assert_snapshot!("check_json", text);
    let parsed: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    for row in parsed.as_array().unwrap() {
        let keys: Vec<&str> = row
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        let mut expected = [
            "location",
            "vault",
            "secret",
            "requested_version",
            "resolved_version",
            "status",
            "detail",
            "hint",
            "kind",
            "store",
            "key",
            "label",
            "content_type",
            "enabled",
            "not_before",
            "expires",
        ];
        expected.sort();
        let mut keys = keys;
        keys.sort();
        assert_eq!(keys, expected);
    }
}

#[test]
fn check_passes_when_everything_resolves() {
    let kit = Kit::new();
    let version = kit.azure.vault.set_secret("s", "check-pass-value");
    let template = kit.azure.dir().join("app.tmpl");
    std::fs::write(
        &template,
        format!("line\nkey={}\n", kit.azure.vault.reference("s")),
    )
    .unwrap();
    let out = kit
        .run()
        .args([
            "--output",
            "json",
            "--template",
            &template.display().to_string(),
        ])
        .env("S", kit.azure.vault.reference("s"))
        .go_check();
    out.assert_code(0);
    let parsed: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let rows = parsed.as_array().unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0]["location"], "S");
    assert_eq!(rows[1]["location"], format!("{}:2", template.display()));
    for row in rows {
        assert_eq!(row["status"], "Resolved");
        assert_eq!(row["resolved_version"], version.as_str());
        assert_eq!(row["requested_version"], serde_json::Value::Null);
    }
    assert_eq!(
        kit.azure.vault.gets_of("s"),
        1,
        "fetched once for both places"
    );
}

#[test]
fn check_usage_errors_are_125() {
    let kit = Kit::new();
    let out = kit.bare().args(["check", "--output", "yaml"]).go();
    out.assert_code(125);
    let out = kit
        .bare()
        .args(["check", "--template", "/nonexistent.tmpl"])
        .go();
    out.assert_code(125);
}

#[test]
fn run_prints_the_same_failures_one_line_each() {
    // The same scene through `run`: the command never starts.
    let s = scene();
    let v = &s.kit.azure.vault;
    let out = s
        .kit
        .bare()
        .args(["run", "--timeout", "3"])
        .args(["--allow-host", &v.host(), "--allow-host", &s.unreachable])
        .args(["--ca-file", &s.kit.azure.ca_file().display().to_string()])
        .env("A_RESOLVED", v.reference("db-password"))
        .env("C_MISSING", v.reference("no-such-secret"))
        .env("E_DENIED", v.reference("locked"))
        .env("F_DISABLED", v.reference("retired"))
        .env(
            "H_UNREACHABLE",
            format!(
                "@Microsoft.KeyVault(SecretUri=https://{}/secrets/x)",
                s.unreachable
            ),
        )
        .probe()
        .go();
    out.assert_code(125);
    assert!(out.child_env.is_none());
    let versions: Vec<&str> = s.versions.iter().map(String::as_str).collect();
    insta::assert_snapshot!(
        "run_failures",
        normalize(&out.stderr, v, &s.unreachable, &versions)
    );
}

#[test]
fn completions_and_man_page() {
    let kit = Kit::new();
    for (shell, marker) in [
        ("bash", "_kvenv()"),
        ("zsh", "#compdef kvenv"),
        ("fish", "complete -c kvenv"),
        ("powershell", "Register-ArgumentCompleter"),
    ] {
        let out = kit.bare().args(["completions", shell]).go();
        out.assert_code(0);
        assert!(
            out.stdout.contains(marker),
            "{shell}: {}",
            &out.stdout[..out.stdout.len().min(200)]
        );
        assert!(
            out.stdout.contains("allow-host"),
            "{shell} completes the options"
        );
    }
    let out = kit.bare().args(["man"]).go();
    out.assert_code(0);
    assert!(
        out.stdout.starts_with(".ie") || out.stdout.contains(".TH kvenv 1"),
        "{}",
        &out.stdout[..200]
    );
    assert!(
        out.stdout.contains("kvenv\\-run") || out.stdout.contains("run"),
        "subcommands are listed"
    );
    // A page per command, with every option, as git has (kvenv-run(1), ...).
    for (command, option) in [
        ("run", "\\-\\-watch"),
        ("export", "\\-\\-format"),
        ("inject", "\\-\\-delivery"),
    ] {
        let out = kit.bare().args(["man", command]).go();
        out.assert_code(0);
        assert!(
            out.stdout.contains(&format!(".TH kvenv-{command} 1")),
            "{command}"
        );
        assert!(out.stdout.contains(option), "{command}: {option} missing");
        assert!(
            out.stdout.contains(".SH \"SEE ALSO\"\nkvenv(1)"),
            "{command}"
        );
    }
    let out = kit.bare().args(["man", "nope"]).go();
    out.assert_code(125);
    assert!(
        out.stderr
            .starts_with("kvenv: man nope: not a command; one of run, check"),
        "{}",
        out.stderr
    );
    let out = kit.bare().args(["completions", "tcsh"]).go();
    out.assert_code(125);
    let out = kit.bare().args(["run", "--help"]).go();
    out.assert_code(0);
    for flag in [
        "--allow-host",
        "--ca-file",
        "KVENV_ALLOW_HOST",
        "--template",
        "--keep-unresolved",
    ] {
        assert!(out.stdout.contains(flag), "--help shows {flag}");
    }
}

#[test]
fn check_without_references_says_so_and_passes() {
    let kit = Kit::new();
    let out = kit.check().env("PLAIN", "no reference here").go();
    out.assert_code(0);
    assert_eq!(out.stdout, "");
    assert_eq!(out.stderr, "kvenv: no references found\n");
    let out = kit.check().args(["--output", "json"]).go();
    out.assert_code(0);
    assert_eq!(out.stdout.trim(), "[]");
    let out = kit.check().arg("-q").go();
    out.assert_code(0);
    assert_eq!(out.stderr, "");
    assert!(kit.azure.vault.requests().is_empty());
}
