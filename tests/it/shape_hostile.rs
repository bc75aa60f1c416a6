//! What a hostile JSON secret can do through the shaping options: set loader
//! and start-up variables, collide with the command's other variables, hide a
//! NUL in a member, or count on a number or a duplicate member being rewritten.
//! Each is refused with one line naming the variable, or kept as written.

use crate::support;

use support::Kit;

const EVIL: &str = r#"{"LD_PRELOAD": "/x/evil.so", "BASH_ENV": "/x/evil.sh", "NODE_OPTIONS": "--require /x/evil.js", "GCONV_PATH": "/x", "KVENV_ALLOW_HOST": "evil.example", "DYLD_INSERT_LIBRARIES": "/x/evil.dylib", "PYTHONSTARTUP": "/x/evil.py"}"#;

#[test]
fn a_secret_never_sets_loader_or_start_up_variables_whatever_the_prefix() {
    let kit = Kit::new();
    kit.azure.vault.set_secret("evil", EVIL);
    for (member, prefix, becomes) in [
        ("LD_PRELOAD", "", "LD_PRELOAD"),
        ("PRELOAD", "LD_", "LD_PRELOAD"),
        ("ALLOW_HOST", "KVENV_", "KVENV_ALLOW_HOST"),
        ("ENV", "BASH_", "BASH_ENV"),
        ("STARTUP", "PYTHON", "PYTHONSTARTUP"),
        ("INSERT_LIBRARIES", "DYLD_", "DYLD_INSERT_LIBRARIES"),
    ] {
        kit.azure
            .vault
            .set_secret("one", &format!(r#"{{"{member}": "/x/evil", "fine": "x"}}"#));
        let out = kit
            .run()
            .args(["--json-expand", &format!("DB={prefix}")])
            .env("DB", kit.azure.vault.reference("one"))
            .probe()
            .go();
        out.assert_code(125);
        assert!(out.child_env.is_none(), "no command started ({prefix})");
        assert_eq!(out.stderr.lines().count(), 1, "{}", out.stderr);
        assert!(
            out.stderr.contains(&format!(
                "would make {becomes}, which changes how programs are loaded or started"
            )),
            "{prefix}: {}",
            out.stderr
        );
        assert!(!out.stderr.contains("/x/evil"), "{}", out.stderr);
    }
    // The whole document at once, through export too: nothing printed.
    let out = kit
        .run()
        .args(["--json-expand", "DB="])
        .env("DB", kit.azure.vault.reference("evil"))
        .stdout_is_output()
        .go_export();
    out.assert_code(125);
    assert_eq!(out.stdout, "");
    // The default prefix makes harmless names: allowed.
    let out = kit
        .run()
        .args(["--json-expand", "DB"])
        .env("DB", kit.azure.vault.reference("evil"))
        .probe()
        .go();
    out.assert_code(0);
    assert_eq!(out.child("DB_LD_PRELOAD").unwrap(), "/x/evil.so");
    assert_eq!(out.child("DB_KVENV_ALLOW_HOST").unwrap(), "evil.example");
    assert!(out.child("LD_PRELOAD").is_none() && out.child("BASH_ENV").is_none());
}

#[test]
fn every_variable_the_command_gets_counts_as_taken() {
    let kit = Kit::new();
    kit.azure
        .vault
        .set_secret("a", r#"{"user": "a", "only_a": "1"}"#);
    kit.azure
        .vault
        .set_secret("b", r#"{"user": "b", "only_b": "2"}"#);
    kit.azure
        .vault
        .set_secret("tpl", r#"{"CONF": "/not/the/template"}"#);
    // Two expansions with a common member: refused, not given twice.
    fn both(kit: &Kit) -> support::Run<'_> {
        kit.run()
            .args(["--json-expand", "A=X_", "--json-expand", "B=X_"])
            .env("A", kit.azure.vault.reference("a"))
            .env("B", kit.azure.vault.reference("b"))
    }
    let out = both(&kit).probe().go();
    out.assert_code(125);
    assert!(out.child_env.is_none());
    assert!(
        out.stderr
            .contains("X_user is already in the command's environment; kvenv never overwrites it"),
        "{}",
        out.stderr
    );
    let out = both(&kit)
        .args(["--format", "json"])
        .stdout_is_output()
        .go_export();
    out.assert_code(125);
    assert_eq!(out.stdout, "", "no JSON with a duplicate key");
    // check reports the same row.
    let out = both(&kit).go_check();
    out.assert_code(1);
    assert!(out.stdout.contains("X_user is already"), "{}", out.stdout);
    // A member named like a --template VAR: refused, not dropped.
    let dir = tempfile::tempdir().unwrap();
    let template = dir.path().join("app.conf");
    std::fs::write(&template, "plain\n").unwrap();
    let out = kit
        .run()
        .args(["--json-expand", "T=", "--template"])
        .arg(format!("{}=CONF", template.display()))
        .env("T", kit.azure.vault.reference("tpl"))
        .probe()
        .go();
    out.assert_code(125);
    assert!(
        out.stderr
            .contains("CONF is already in the command's environment"),
        "{}",
        out.stderr
    );
    // Distinct members of two expansions are fine.
    let out = kit
        .run()
        .args(["--json-expand", "A", "--json-expand", "B"])
        .env("A", kit.azure.vault.reference("a"))
        .env("B", kit.azure.vault.reference("b"))
        .probe()
        .go();
    out.assert_code(0);
    assert_eq!(out.child("A_user").unwrap(), "a");
    assert_eq!(out.child("B_user").unwrap(), "b");
}

#[test]
fn a_nul_inside_a_member_fails_naming_the_variable_in_every_form() {
    let kit = Kit::new();
    kit.azure
        .vault
        .set_secret("nul", r#"{"user": "app", "password": "pass\u0000word"}"#);
    fn expand(kit: &Kit) -> support::Run<'_> {
        kit.run()
            .args(["--json-expand", "DB"])
            .env("DB", kit.azure.vault.reference("nul"))
    }
    let out = expand(&kit).probe().go();
    out.assert_code(125);
    assert!(out.child_env.is_none());
    assert_eq!(
        out.stderr,
        "kvenv: DB: OtherReasons: DB_password: the secret contains a NUL byte, which an environment variable cannot hold; use --template instead\n"
    );
    let out = kit
        .run()
        .args(["--json-field", "PASS=/password"])
        .env("PASS", kit.azure.vault.reference("nul"))
        .probe()
        .go();
    out.assert_code(125);
    assert!(
        out.stderr
            .starts_with("kvenv: PASS: OtherReasons: the secret contains a NUL byte"),
        "{}",
        out.stderr
    );
    for format in ["dotenv", "shell", "docker", "json", "yaml"] {
        let out = expand(&kit)
            .args(["--format", format])
            .stdout_is_output()
            .go_export();
        out.assert_code(125);
        assert_eq!(out.stdout, "", "{format}: nothing printed");
        assert!(
            out.stderr
                .contains("DB_password: the secret contains a NUL byte"),
            "{format}: {}",
            out.stderr
        );
    }
}

#[test]
fn numbers_keep_their_text_and_a_duplicate_member_fails_closed() {
    let kit = Kit::new();
    kit.azure.vault.set_secret(
        "n",
        r#"{"e": 1e2, "account": 123456789012345678901234567890, "half": 0.50, "nested": {"n": 1E+2}}"#,
    );
    let out = kit
        .run()
        .args(["--json-field", "E=/e", "--json-field", "ACCOUNT=/account"])
        .args(["--json-expand", "N"])
        .env("E", kit.azure.vault.reference("n"))
        .env("ACCOUNT", kit.azure.vault.reference("n"))
        .env("N", kit.azure.vault.reference("n"))
        .probe()
        .go();
    out.assert_code(0);
    assert_eq!(out.child("E").unwrap(), "1e2");
    assert_eq!(
        out.child("ACCOUNT").unwrap(),
        "123456789012345678901234567890"
    );
    assert_eq!(out.child("N_half").unwrap(), "0.50");
    assert_eq!(out.child("N_nested").unwrap(), r#"{"n":1E+2}"#);
    kit.azure.vault.set_secret(
        "dup",
        r#"{"user": "admin", "password": "x", "user": "guest"}"#,
    );
    for flag in [["--json-field", "D=/user"], ["--json-expand", "D"]] {
        let out = kit
            .run()
            .args(flag)
            .env("D", kit.azure.vault.reference("dup"))
            .probe()
            .go();
        out.assert_code(125);
        assert!(out.child_env.is_none());
        assert!(
            out.stderr.contains("D: InvalidJson: ")
                && out.stderr.contains("has a member twice in one object"),
            "{}",
            out.stderr
        );
    }
}
