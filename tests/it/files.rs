//! Templates into memory (`run --template`), `render`, and `--env-file`.

use crate::support;

use std::os::unix::fs::PermissionsExt;
use support::Kit;

fn write(kit: &Kit, name: &str, content: impl AsRef<[u8]>) -> String {
    let path = kit.azure.dir().join(name);
    std::fs::write(&path, content).unwrap();
    path.display().to_string()
}

fn listing(dir: &std::path::Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn template_goes_into_a_sealed_private_memfd() {
    let kit = Kit::new();
    let odd = "p@ss\nword with \"quotes\" and $HOME and 'single'";
    kit.azure.vault.set_secret("pg", odd);
    let tmpl = write(
        &kit,
        "pgpass.tmpl",
        format!(
            "127.0.0.1:5432:app:app:{}\n",
            kit.azure.vault.reference("pg")
        ),
    );
    let out_dir = tempfile::tempdir().unwrap();
    let out = out_dir.path().join("seen");
    let work = tempfile::tempdir().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let script = r#"
        cat "$PGPASSFILE" > "$1"
        stat -L -c %a "$PGPASSFILE" > "$1.mode"
        printf %s "$PGPASSFILE" > "$1.path"
        if (printf x >> "$PGPASSFILE") 2>/dev/null; then echo yes > "$1.writable"; else echo no > "$1.writable"; fi
    "#;
    let result = kit
        .run()
        .cwd(work.path())
        .env("TMPDIR", tmp.path().display().to_string())
        .args(["--template", &format!("{tmpl}=PGPASSFILE")])
        .command(["sh", "-c", script, "sh", &out.display().to_string()])
        .go();
    result.assert_code(0);
    let read =
        |suffix: &str| std::fs::read_to_string(format!("{}{suffix}", out.display())).unwrap();
    assert_eq!(read(""), format!("127.0.0.1:5432:app:app:{odd}\n"));
    assert_eq!(read(".mode").trim(), "600");
    assert!(read(".path").starts_with("/dev/fd/"), "{}", read(".path"));
    assert_eq!(read(".writable").trim(), "no", "sealed against writes");
    assert!(
        listing(work.path()).is_empty(),
        "nothing written to the working directory"
    );
    assert!(listing(tmp.path()).is_empty(), "nothing written to TMPDIR");
}

#[test]
fn several_templates_and_one_overriding_a_variable() {
    let kit = Kit::new();
    kit.azure.vault.set_secret("a", "template-a-1111");
    let a = write(
        &kit,
        "a.tmpl",
        format!("a={}", kit.azure.vault.reference("a")),
    );
    let b = write(&kit, "b.tmpl", "no references here\n");
    let seen = kit.azure.dir().join("seen-ab");
    let result = kit
        .run()
        .env("CONF_B", "was set before")
        .args([
            "--template",
            &format!("{a}=CONF_A"),
            "--template",
            &format!("{b}=CONF_B"),
        ])
        .command([
            "sh",
            "-c",
            "cat \"$CONF_A\" > \"$1\"; echo >> \"$1\"; cat \"$CONF_B\" >> \"$1\"",
            "sh",
            &seen.display().to_string(),
        ])
        .go();
    result.assert_code(0);
    assert_eq!(
        std::fs::read_to_string(&seen).unwrap(),
        "a=template-a-1111\nno references here\n"
    );
}

#[test]
fn template_errors_name_file_and_line_never_content() {
    let kit = Kit::new();
    kit.azure.vault.set_secret("there", "line-secret-2222");
    let bad = write(
        &kit,
        "bad.tmpl",
        "line one\nline two\nkey=@Microsoft.KeyVault(VaultName=v01)\n",
    );
    let out = kit
        .run()
        .args(["--template", &format!("{bad}=X")])
        .probe()
        .go();
    out.assert_code(125);
    assert!(out.child_env.is_none());
    assert_eq!(
        out.stderr,
        format!("kvenv: {bad}:3: InvalidSyntax: VaultName needs SecretName\n")
    );

    let missing = write(
        &kit,
        "missing.tmpl",
        format!(
            "ok={}\nnot={}\n",
            kit.azure.vault.reference("there"),
            kit.azure.vault.reference("gone")
        ),
    );
    let out = kit
        .run()
        .args(["--template", &format!("{missing}=X")])
        .probe()
        .go();
    out.assert_code(125);
    assert!(
        out.stderr.starts_with(&format!(
            "kvenv: {missing}:2: SecretNotFound: secret 'gone'"
        )),
        "{}",
        out.stderr
    );
    assert_eq!(out.stderr.lines().count(), 1);
}

#[test]
fn templates_must_be_small_text() {
    let kit = Kit::new();
    let big = write(&kit, "big.tmpl", vec![b'x'; (1 << 20) + 1]);
    let out = kit
        .run()
        .args(["--template", &format!("{big}=X")])
        .probe()
        .go();
    out.assert_code(125);
    assert_eq!(
        out.stderr,
        format!("kvenv: template {big}: larger than 1024 KiB\n")
    );
    let binary = write(&kit, "bin.tmpl", b"ok\n\xff\xfe\n");
    let out = kit
        .run()
        .args(["--template", &format!("{binary}=X")])
        .probe()
        .go();
    out.assert_code(125);
    assert_eq!(
        out.stderr,
        format!("kvenv: template {binary}:2: not valid UTF-8 (templates are text)\n")
    );
    let out = kit
        .run()
        .args(["--template", "nonexistent.tmpl=X"])
        .probe()
        .go();
    out.assert_code(125);
    assert!(
        out.stderr
            .starts_with("kvenv: template nonexistent.tmpl: cannot read:"),
        "{}",
        out.stderr
    );
    let out = kit.run().args(["--template", "x.tmpl=1BAD"]).probe().go();
    out.assert_code(125);
    assert!(out.stderr.contains("--template"), "{}", out.stderr);
}

#[test]
fn render_to_stdout_is_byte_exact() {
    let kit = Kit::new();
    let odd = "multi\nline $dollar \"q\" \\ end";
    kit.azure.vault.set_secret("r", odd);
    let tmpl = write(
        &kit,
        "r.tmpl",
        format!("[{}]\n", kit.azure.vault.reference("r")),
    );
    let out = kit.run_render().arg(&tmpl).stdout_is_output().go();
    out.assert_code(0);
    assert_eq!(out.stdout, format!("[{odd}]\n"));
    assert_eq!(out.stderr, "");
}

#[test]
fn render_to_a_file_is_private_and_atomic() {
    let kit = Kit::new();
    kit.azure.vault.set_secret("r", "render-file-3333");
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("app.conf");
    std::fs::write(&target, "old content").unwrap();
    std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o644)).unwrap();
    let tmpl = write(
        &kit,
        "r.tmpl",
        format!("secret={}\n", kit.azure.vault.reference("r")),
    );
    let out = kit
        .run_render()
        .args([&tmpl, "-o", &target.display().to_string()])
        .go();
    out.assert_code(0);
    assert_eq!(out.stdout, "");
    assert_eq!(
        std::fs::read_to_string(&target).unwrap(),
        "secret=render-file-3333\n"
    );
    assert_eq!(
        std::fs::metadata(&target).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert_eq!(listing(dir.path()), ["app.conf"], "no temporary file left");

    // A failing reference leaves the old file as it was and nothing new.
    let failing = write(
        &kit,
        "f.tmpl",
        format!("x={}\n", kit.azure.vault.reference("absent")),
    );
    let fresh = dir.path().join("fresh.conf");
    let out = kit
        .run_render()
        .args([&failing, "-o", &fresh.display().to_string()])
        .go();
    out.assert_code(125);
    assert!(out.stderr.contains("SecretNotFound"), "{}", out.stderr);
    assert_eq!(listing(dir.path()), ["app.conf"]);
    let out = kit
        .run_render()
        .args([&failing, "-o", &target.display().to_string()])
        .go();
    out.assert_code(125);
    assert_eq!(
        std::fs::read_to_string(&target).unwrap(),
        "secret=render-file-3333\n"
    );
}

#[test]
fn env_files_join_the_environment_and_the_environment_wins() {
    let kit = Kit::new();
    kit.azure.vault.set_secret("dotenv", "dotenv-secret-4444");
    let reference = kit.azure.vault.reference("dotenv");
    let first = write(
        &kit,
        "first.env",
        format!(
            "# a comment\nexport EXPORTED=plain\nSINGLE='lit $HOME'\nDOUBLE=\"two words\"\nREF={reference}\nMULTI=\"line1\nline2\"\nSHADOWED=from-file\nDUP=first\n"
        ),
    );
    let second = write(&kit, "second.env", "DUP=second\nONLY_SECOND=yes\n");
    let out = kit
        .run()
        .env("SHADOWED", "from-environment")
        .args(["--env-file", &first, "--env-file", &second])
        .probe()
        .go();
    out.assert_code(0);
    assert_eq!(out.child("EXPORTED").unwrap(), "plain");
    assert_eq!(out.child("SINGLE").unwrap(), "lit $HOME");
    assert_eq!(out.child("DOUBLE").unwrap(), "two words");
    assert_eq!(out.child("REF").unwrap(), "dotenv-secret-4444");
    assert_eq!(out.child("MULTI").unwrap(), "line1\nline2");
    assert_eq!(out.child("SHADOWED").unwrap(), "from-environment");
    assert_eq!(out.child("DUP").unwrap(), "first", "an earlier file wins");
    assert_eq!(out.child("ONLY_SECOND").unwrap(), "yes");
}

#[test]
fn env_file_errors_name_the_file_and_line() {
    let kit = Kit::new();
    let out = kit
        .run()
        .args(["--env-file", "/nonexistent/.env"])
        .probe()
        .go();
    out.assert_code(125);
    assert!(
        out.stderr
            .starts_with("kvenv: --env-file /nonexistent/.env: cannot read:"),
        "{}",
        out.stderr
    );
    let bad = write(
        &kit,
        "bad.env",
        "GOOD=1\nOTHER=2\nBROKEN='unterminated-secret-5555\n",
    );
    let out = kit
        .run()
        .args(["--env-file", &bad])
        .secret("unterminated-secret-5555")
        .probe()
        .go();
    out.assert_code(125);
    assert!(
        out.stderr
            .starts_with(&format!("kvenv: --env-file {bad}:3: ")),
        "{}",
        out.stderr
    );
    assert!(out.child_env.is_none());
}
