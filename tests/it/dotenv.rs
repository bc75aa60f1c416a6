//! `kvenv export --format dotenv` read back by the loaders users load `.env`
//! files with: dotenvy (kvenv's own `--env-file`), python-dotenv's
//! `dotenv_values` (interpolation on, its default), node's `dotenv.parse`, and
//! docker compose's documented `.env` rules. Every value either reads back
//! byte for byte in all of them, or is refused naming the variable.

use crate::support;

use std::path::{Path, PathBuf};
use support::Kit;

/// Values that dotenv loaders disagree on, or that look like syntax.
const TORTURE: &[&str] = &[
    "plain",
    "",
    "  spaced  ",
    "$HOME",
    "${USER}",
    "${X:-default}",
    "cost: $5",
    "\"double\"",
    "it's",
    "'single'",
    "back\\slash",
    "C:\\Users\\app",
    "end\\",
    "two\\\\backslashes",
    "\\n is not a newline",
    "#hash",
    "a #b",
    "line\nbreak",
    "crlf\r\nline",
    "trailing cr\r",
    "tab\there",
    "a=b=c",
    "back`tick`",
    "ünïcödé 🔑",
    "p@ss:w/rd?x=1&y#z%20",
];

/// Where node's `dotenv` is installed for the tests (CI puts it there).
fn node_modules() -> PathBuf {
    std::env::var_os("KVENV_TEST_NODE_MODULES")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("target/test-node/node_modules")
        })
}

/// What a loader (a program, and its script that prints the file as JSON)
/// reads from `file`, with `extra` in its environment.
fn loaded(
    program: &str,
    script: &str,
    file: &Path,
    extra: (&str, std::ffi::OsString),
) -> serde_json::Value {
    let out = std::process::Command::new(program)
        .args([if program == "node" { "-e" } else { "-c" }, script])
        .arg(file)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env(extra.0, extra.1)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{program}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn python_dotenv(file: &Path) -> serde_json::Value {
    let script = "import json, sys; from dotenv import dotenv_values; print(json.dumps(dotenv_values(sys.argv[1])))";
    loaded("python3", script, file, ("USER", "someone".into()))
}

fn node_dotenv(file: &Path) -> serde_json::Value {
    let script = "const fs = require('fs'); process.stdout.write(JSON.stringify(require('dotenv').parse(fs.readFileSync(process.argv[1]))))";
    loaded("node", script, file, ("NODE_PATH", node_modules().into()))
}

/// docker compose's `.env` rules, as its documentation gives them: a
/// single-quoted value is taken literally but for `\'`; a double-quoted one
/// has `\n`, `\r`, `\t`, `\\` and `\"` escapes and `$` interpolation (so a
/// value written with a `$` or `\` in double quotes would not read back).
fn compose(text: &str) -> (String, String) {
    let (name, rest) = text.split_once('=').unwrap();
    let rest = rest.strip_suffix('\n').unwrap();
    let value = match rest.as_bytes().first() {
        Some(b'\'') => rest[1..rest.len() - 1].replace("\\'", "'"),
        Some(b'"') => {
            let inner = &rest[1..rest.len() - 1];
            assert!(
                !inner.contains(['$', '\\']),
                "compose would rewrite {inner:?}"
            );
            inner.to_string()
        }
        _ => rest.to_string(),
    };
    (name.to_string(), value)
}

#[test]
fn every_value_reads_back_the_same_in_every_dotenv_loader_or_is_refused() {
    let python = support::need(
        std::process::Command::new("python3")
            .args(["-c", "import dotenv"])
            .status()
            .is_ok_and(|s| s.success()),
        "dotenv::every_value_reads_back_the_same_in_every_dotenv_loader_or_is_refused",
        "python-dotenv (pip install python-dotenv)",
    );
    let node = support::need(
        node_modules().join("dotenv").is_dir() && support::installed("node"),
        "dotenv::every_value_reads_back_the_same_in_every_dotenv_loader_or_is_refused",
        "node and its dotenv (npm install --prefix target/test-node dotenv)",
    );
    let kit = Kit::new();
    let dir = tempfile::tempdir().unwrap();
    let (mut carried, mut refused) = (0, 0);
    for (i, value) in TORTURE.iter().enumerate() {
        let name = format!("t{i}");
        kit.azure.vault.set_secret(&name, value);
        let out = kit
            .run()
            .args(["--format", "dotenv"])
            .env("V", kit.azure.vault.reference(&name))
            .stdout_is_output()
            .go_export();
        if out.code == Some(125) {
            refused += 1;
            assert_eq!(out.stdout, "", "{value:?}: nothing printed");
            assert!(
                out.stderr
                    .starts_with("kvenv: export V: cannot be written as dotenv: ")
                    && out.stderr.contains("--format shell or json carries it"),
                "{value:?}: {}",
                out.stderr
            );
            continue;
        }
        out.assert_code(0);
        carried += 1;
        let file = dir.path().join(format!("{i}.env"));
        std::fs::write(&file, &out.stdout).unwrap();
        let back = kit
            .bare()
            .args(["run", "--env-file", &file.display().to_string()])
            .probe()
            .go();
        back.assert_code(0);
        assert_eq!(
            back.child("V").as_deref(),
            Some(*value),
            "dotenvy: {:?}",
            out.stdout
        );
        assert_eq!(
            compose(&out.stdout),
            ("V".to_string(), value.to_string()),
            "compose"
        );
        if python {
            assert_eq!(
                python_dotenv(&file)["V"],
                *value,
                "python-dotenv: {:?}",
                out.stdout
            );
        }
        if node {
            assert_eq!(
                node_dotenv(&file)["V"],
                *value,
                "node dotenv: {:?}",
                out.stdout
            );
        }
    }
    assert!(
        carried >= 17 && refused >= 4,
        "{carried} carried, {refused} refused"
    );
}
