//! The source tree's shape, read from its `crate::`, `super::` and `self::`
//! paths: no two modules import each other, no files import each other
//! (inside folders too, around circles of any length), imports run down the
//! layers without exception, OS calls live in `platform/`, only `lib.rs`
//! reads the process environment, no `set_var` exists, and no
//! file but the clap definitions is over 320 lines, unit tests included
//! (longer tests go in a sibling `tests.rs`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Top to bottom. A module may use its own layer and those below it.
const LAYERS: [&[&str]; 9] = [
    &["", "commands", "fuzzing"],
    &["cli"],
    &["watch"],
    &["child", "export", "inject", "report"],
    &["plan", "resolve"],
    &["vault", "appconfig", "identity"],
    &["http", "dns"],
    &[
        "reference",
        "template",
        "encode",
        "mask",
        "sources",
        "shape",
        "cert",
        "token",
        "cloud",
        "audience",
    ],
    &[
        "output", "files", "secret", "error", "vars", "platform", "decode",
    ],
];

/// Shipped files over this many lines are too large to read as one piece.
const LINES_MAX: usize = 320;

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The module path of a file: `src/identity/chain.rs` is `identity::chain`.
fn module_of(file: &Path) -> Vec<String> {
    let relative = file.strip_prefix(src()).unwrap().with_extension("");
    let mut parts: Vec<String> = relative
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    if matches!(parts.last().map(String::as_str), Some("mod" | "lib")) {
        parts.pop();
    }
    parts
}

/// A file's text without its unit tests (`#[cfg(test)] mod tests { ... }` at
/// the end) and without comments.
fn shipped(text: &str) -> String {
    let text = match text.find("#[cfg(test)]\nmod tests {") {
        Some(at) => &text[..at],
        None => text,
    };
    text.lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Test files (`tests.rs` of a module) are not shipped.
fn is_test_file(file: &Path) -> bool {
    file.file_name().is_some_and(|n| n == "tests.rs")
}

/// Every module's imports of other top-level modules: `crate::x` and `use crate::{x, ...}`.
fn imports() -> BTreeMap<String, BTreeSet<String>> {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    let tops: BTreeSet<String> = files
        .iter()
        .filter_map(|f| module_of(f).first().cloned())
        .collect();
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in files.iter().filter(|f| !is_test_file(f)) {
        let me = module_of(file).first().cloned().unwrap_or_default();
        let text = shipped(&std::fs::read_to_string(file).unwrap());
        let mut named: Vec<String> = Vec::new();
        for (at, _) in text.match_indices("crate::") {
            let rest = &text[at + "crate::".len()..];
            if let Some(group) = rest.strip_prefix('{') {
                let inside = &group[..group.find('}').unwrap_or(group.len())];
                named.extend(inside.split(',').map(|item| {
                    item.trim()
                        .split("::")
                        .next()
                        .unwrap_or_default()
                        .to_string()
                }));
            } else {
                let end = rest
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .unwrap_or(rest.len());
                named.push(rest[..end].to_string());
            }
        }
        for module in named {
            if tops.contains(&module) && module != me {
                edges.entry(me.clone()).or_default().insert(module);
            }
        }
    }
    edges
}

fn layer_of(module: &str) -> usize {
    LAYERS
        .iter()
        .position(|layer| layer.contains(&module))
        .unwrap_or_else(|| panic!("module {module} is in no layer of tests/it/architecture.rs"))
}

#[test]
fn no_two_modules_import_each_other() {
    let edges = imports();
    let mut cycles = Vec::new();
    for (from, tos) in &edges {
        for to in tos {
            if from < to && edges.get(to).is_some_and(|back| back.contains(from)) {
                cycles.push(format!("{from} <-> {to}"));
            }
        }
    }
    assert!(
        cycles.is_empty(),
        "modules that import each other: {cycles:?}"
    );
}

#[test]
fn imports_run_down_the_layers() {
    let edges = imports();
    let mut climbs = Vec::new();
    for (from, tos) in &edges {
        for to in tos {
            if layer_of(to) < layer_of(from) {
                climbs.push(format!("{from} -> {to}"));
            }
        }
    }
    assert!(climbs.is_empty(), "imports up the layers: {climbs:?}");
}

/// The module paths named by `crate::`, `super::` and `self::` paths in a
/// file's shipped text, each as written (one level of `{...}` groups spread).
fn named_paths(me: &[String], text: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let starts = ["crate::", "super::", "self::"];
    for (at, _) in text.match_indices("::") {
        // The word before `::`.
        let before = &text[..at];
        let word_start = before
            .rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .map_or(0, |i| i + 1);
        let head = &text[word_start..at + 2];
        if !starts.contains(&head) {
            continue;
        }
        // Only paths that start here, not `a::super::b`.
        if text[..word_start].ends_with("::") {
            continue;
        }
        // `self` is the file's module; `super` its parent.
        let mut base: Vec<String> = match head {
            "crate::" => Vec::new(),
            _ => me.to_vec(),
        };
        if head == "super::" {
            base.pop();
        }
        let rest = &text[at + 2..];
        let items: Vec<&str> = match rest.strip_prefix('{') {
            Some(group) => group[..group.find('}').unwrap_or(group.len())]
                .split(',')
                .map(str::trim)
                .collect(),
            None => {
                let end = rest
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
                    .unwrap_or(rest.len());
                vec![&rest[..end]]
            }
        };
        for item in items {
            let mut path = base.clone();
            for part in item.split("::").map(str::trim) {
                match part {
                    "" | "self" => {}
                    "super" => {
                        path.pop();
                    }
                    part => path.push(part.to_string()),
                }
            }
            out.push(path);
        }
    }
    out
}

/// Files that import each other, directly or around a longer circle, inside
/// folders too. A folder's `mod.rs` and the files below it are one unit's
/// face and parts, so edges between them do not count.
#[test]
fn no_file_level_import_circle() {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    let files: Vec<PathBuf> = files.into_iter().filter(|f| !is_test_file(f)).collect();
    let modules: Vec<Vec<String>> = files.iter().map(|f| module_of(f)).collect();
    let mut edges: BTreeMap<usize, BTreeSet<usize>> = BTreeMap::new();
    for (i, file) in files.iter().enumerate() {
        let me = &modules[i];
        let text = shipped(&std::fs::read_to_string(file).unwrap());
        for path in named_paths(me, &text) {
            // The longest prefix that is a file's module.
            let Some(j) = (1..=path.len())
                .rev()
                .find_map(|n| modules.iter().position(|m| m[..] == path[..n]))
            else {
                continue;
            };
            let (a, b) = (&modules[i], &modules[j]);
            let nested = a.starts_with(b) || b.starts_with(a);
            if i != j && !nested {
                edges.entry(i).or_default().insert(j);
            }
        }
    }
    // Depth-first search for a back edge.
    fn visit(
        at: usize,
        edges: &BTreeMap<usize, BTreeSet<usize>>,
        state: &mut Vec<u8>,
        stack: &mut Vec<usize>,
    ) -> Option<Vec<usize>> {
        state[at] = 1;
        stack.push(at);
        for &next in edges.get(&at).into_iter().flatten() {
            if state[next] == 1 {
                let from = stack.iter().position(|n| *n == next).unwrap();
                return Some(stack[from..].to_vec());
            }
            if state[next] == 0 {
                if let Some(circle) = visit(next, edges, state, stack) {
                    return Some(circle);
                }
            }
        }
        stack.pop();
        state[at] = 2;
        None
    }
    let mut state = vec![0u8; files.len()];
    for start in 0..files.len() {
        if state[start] == 0 {
            if let Some(circle) = visit(start, &edges, &mut state, &mut Vec::new()) {
                let names: Vec<String> = circle.iter().map(|i| modules[*i].join("::")).collect();
                panic!("files that import each other: {}", names.join(" -> "));
            }
        }
    }
}

/// Every call into the OS is in `platform/` (and the binary's C `main`):
/// nothing else names the OS interfaces, or a target OS.
#[test]
fn os_calls_live_in_the_platform_seam() {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    let mut outside = Vec::new();
    for file in files.iter().filter(|f| !is_test_file(f)) {
        let name = file.strip_prefix(src()).unwrap().display().to_string();
        if name.starts_with("platform/") || name == "main.rs" {
            continue;
        }
        let text = shipped(&std::fs::read_to_string(file).unwrap());
        for os in [
            "nix::",
            "libc::",
            "std::os::",
            "tokio::signal",
            "target_os",
            "cfg(unix)",
            "cfg(windows)",
            "/proc/",
            "unsafe {",
        ] {
            if text.contains(os) && !(os == "unsafe {" && name == "secret.rs") {
                outside.push(format!("{name}: {os}"));
            }
        }
    }
    assert!(
        outside.is_empty(),
        "OS calls outside platform/: {outside:?}"
    );
}

#[test]
fn the_environment_is_read_in_one_place_and_never_changed() {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    for file in &files {
        let text = shipped(&std::fs::read_to_string(file).unwrap());
        let name = file.strip_prefix(src()).unwrap().display().to_string();
        assert!(!text.contains("set_var"), "{name} changes the environment");
        if name != "lib.rs" {
            assert!(
                !text.contains("std::env") || name.starts_with("platform/"),
                "{name} reads the environment"
            );
            // The C library's `environ` too: read once, by lib.rs, through exec.
            assert!(
                !text.contains("raw_environment(") || name.starts_with("platform/"),
                "{name} reads the C library's environment"
            );
        }
        if name != "platform/unix/start.rs" {
            assert!(!text.contains("environ;"), "{name} declares `environ`");
        }
    }
}

#[test]
fn no_shipped_file_is_over_320_lines_but_the_clap_definitions() {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    let mut large = Vec::new();
    for file in files.iter().filter(|f| !is_test_file(f)) {
        let name = file.strip_prefix(src()).unwrap().display().to_string();
        let text = std::fs::read_to_string(file).unwrap();
        // The whole file: comments and any unit tests count (longer tests go
        // in a sibling `tests.rs`).
        let lines = text.lines().count();
        if lines > LINES_MAX && name != "cli/mod.rs" {
            large.push(format!("{name}: {lines}"));
        }
    }
    assert!(large.is_empty(), "files over {LINES_MAX} lines: {large:?}");
}
