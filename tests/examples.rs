//! The examples hold together as written, checked the way they can be without
//! a container engine: every file a Dockerfile copies out of a build stage is
//! produced by that stage, every program an image starts was copied into it
//! (for `scratch`, where nothing else exists), builds name no fixed
//! architecture, health checks carry explicit timeouts, the Kubernetes
//! manifest starts a program the image has, and the build context leaves out
//! the build output.

use std::collections::HashMap;

struct Stage {
    name: Option<String>,
    base: String,
    /// Text of its RUN instructions.
    runs: String,
    /// Destinations of its COPY instructions.
    copied: Vec<String>,
}

struct Dockerfile {
    stages: Vec<Stage>,
    /// (instruction, exec-form arguments) of the last stage.
    starts: Vec<(String, Vec<String>)>,
    healthchecks: Vec<String>,
    copies_from: Vec<(String, String, String)>,
}

/// Joins continuation lines and drops comments.
fn instructions(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('#') || (trimmed.is_empty() && current.is_empty()) {
            continue;
        }
        match trimmed.strip_suffix('\\') {
            Some(head) => current.push_str(head),
            None => {
                current.push_str(trimmed);
                out.push(std::mem::take(&mut current));
            }
        }
    }
    out
}

fn exec_form(text: &str) -> Vec<String> {
    serde_json::from_str(text.trim()).unwrap_or_else(|_| panic!("not an exec-form array: {text}"))
}

fn parse(path: &str) -> Dockerfile {
    let text = std::fs::read_to_string(path).unwrap();
    let mut file = Dockerfile {
        stages: Vec::new(),
        starts: Vec::new(),
        healthchecks: Vec::new(),
        copies_from: Vec::new(),
    };
    for instruction in instructions(&text) {
        let (keyword, rest) = instruction.split_once(' ').unwrap_or((&instruction, ""));
        match keyword.to_ascii_uppercase().as_str() {
            "FROM" => {
                let words: Vec<&str> = rest.split_whitespace().collect();
                file.stages.push(Stage {
                    base: words[0].to_string(),
                    name: words
                        .iter()
                        .position(|w| w.eq_ignore_ascii_case("as"))
                        .map(|i| words[i + 1].to_string()),
                    runs: String::new(),
                    copied: Vec::new(),
                });
                file.starts.clear();
            }
            "RUN" => file.stages.last_mut().unwrap().runs.push_str(rest),
            "COPY" => {
                let words: Vec<&str> = rest.split_whitespace().collect();
                let destination = words.last().unwrap().to_string();
                if let Some(from) = words[0].strip_prefix("--from=") {
                    file.copies_from.push((
                        from.to_string(),
                        words[1].to_string(),
                        destination.clone(),
                    ));
                }
                file.stages.last_mut().unwrap().copied.push(destination);
            }
            "ENTRYPOINT" | "CMD" => file.starts.push((keyword.to_string(), exec_form(rest))),
            "HEALTHCHECK" => file.healthchecks.push(rest.to_string()),
            _ => {}
        }
    }
    file
}

fn check_dockerfile(path: &str) -> Dockerfile {
    let file = parse(path);
    let stages: HashMap<&str, &Stage> = file
        .stages
        .iter()
        .filter_map(|s| s.name.as_deref().map(|n| (n, s)))
        .collect();
    for (from, source, _) in &file.copies_from {
        let stage = stages
            .get(from.as_str())
            .unwrap_or_else(|| panic!("{path}: COPY --from={from}: no such stage"));
        // A path the stage's RUN steps produce, or one its base image has.
        let produced = stage.runs.contains(&format!(" {source}"))
            || (stage.runs.is_empty()
                && stage.base.starts_with("busybox")
                && source == "/bin/busybox");
        assert!(
            produced,
            "{path}: nothing in stage {from} produces {source}"
        );
    }
    let last = file.stages.last().unwrap();
    if last.base == "scratch" {
        for (keyword, args) in &file.starts {
            if keyword == "ENTRYPOINT" || file.starts.iter().all(|(k, _)| k != "ENTRYPOINT") {
                assert!(
                    last.copied.contains(&args[0]),
                    "{path}: {keyword} starts {}, which the scratch image does not have",
                    args[0]
                );
            }
        }
    }
    let entrypoint = file.starts.iter().find(|(k, _)| k == "ENTRYPOINT");
    if let Some((_, args)) = entrypoint {
        assert!(
            last.copied.contains(&args[0]),
            "{path}: ENTRYPOINT {}",
            args[0]
        );
        assert_eq!(
            &args[1..3],
            ["run", "--"],
            "{path}: ENTRYPOINT is kvenv run --"
        );
    }
    for check in &file.healthchecks {
        assert!(
            check.contains("--timeout=") && check.contains("--interval="),
            "{path}: HEALTHCHECK needs an explicit interval and timeout"
        );
    }
    for stage in &file.stages {
        for fixed in [
            "x86_64-unknown",
            "aarch64-unknown",
            "--platform=linux/amd64",
        ] {
            assert!(
                !stage.runs.contains(fixed),
                "{path}: the build is tied to {fixed}"
            );
        }
    }
    file
}

#[test]
fn the_dockerfiles_produce_everything_they_copy_and_start() {
    check_dockerfile("examples/Dockerfile");
    let scratch = check_dockerfile("examples/Dockerfile.scratch");
    // The scratch image's CMD is a real program, not a placeholder.
    let (_, cmd) = scratch.starts.iter().find(|(k, _)| k == "CMD").unwrap();
    assert_eq!(cmd[0], "/busybox");
}

#[test]
fn the_kubernetes_manifest_starts_what_the_image_has() {
    let manifest = std::fs::read_to_string("examples/kubernetes/deployment.yaml").unwrap();
    let scratch = parse("examples/Dockerfile.scratch");
    let copied = &scratch.stages.last().unwrap().copied;
    let args_line = manifest
        .lines()
        .find(|l| l.trim_start().starts_with("args:"))
        .expect("the container's args");
    let args = exec_form(args_line.trim_start().trim_start_matches("args:"));
    assert!(
        copied.contains(&args[0]),
        "args start {}, not in the image",
        args[0]
    );
    for probe in ["readinessProbe", "livenessProbe", "startupProbe"] {
        if let Some(at) = manifest.find(&format!("{probe}:")) {
            let block: String = manifest[at..]
                .lines()
                .skip(1)
                .take_while(|l| l.starts_with("            "))
                .collect();
            assert!(
                block.contains("timeoutSeconds:"),
                "{probe} needs timeoutSeconds"
            );
            assert!(block.contains("/kvenv"), "{probe} runs kvenv check");
        }
    }
}

#[test]
fn the_build_context_leaves_out_build_output() {
    let ignore = std::fs::read_to_string(".dockerignore").unwrap();
    for entry in ["target/", ".git/"] {
        assert!(
            ignore.lines().any(|l| l.trim() == entry),
            ".dockerignore lacks {entry}"
        );
    }
}

#[test]
fn the_scratch_demo_app_never_prints_a_value() {
    // Run the demo's command with a local shell: it prints names and lengths.
    let scratch = parse("examples/Dockerfile.scratch");
    let (_, cmd) = scratch.starts.iter().find(|(k, _)| k == "CMD").unwrap();
    let out = std::process::Command::new("sh")
        .args(&cmd[2..])
        .env_clear()
        .env("DB_PASSWORD", "hunter2-value")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    assert_eq!(
        text,
        "DB_PASSWORD: set, 13 characters\nDATABASE_URL: not set\n"
    );
}

/// `1.89` as `(1, 89, 0)`.
fn version(text: &str) -> (u64, u64, u64) {
    let mut parts = text.split('.').map(|p| p.parse::<u64>().unwrap_or(0));
    (
        parts.next().unwrap_or(0),
        parts.next().unwrap_or(0),
        parts.next().unwrap_or(0),
    )
}

// `cargo install` on an older toolchain must fail with cargo's clear
// "requires rustc X" message, not deep inside a dependency.
#[test]
fn the_declared_rust_version_is_at_least_every_dependencys() {
    let out = std::process::Command::new(env!("CARGO"))
        .args(["metadata", "--format-version", "1", "--offline", "--manifest-path"])
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let metadata: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let packages = metadata["packages"].as_array().unwrap();
    let ours = packages.iter().find(|p| p["name"] == "kvenv").unwrap();
    let declared = version(ours["rust_version"].as_str().expect("kvenv declares rust-version"));
    let highest = packages
        .iter()
        .filter_map(|p| Some((version(p["rust_version"].as_str()?), p["name"].as_str()?)))
        .max()
        .unwrap();
    assert!(
        declared >= highest.0,
        "rust-version {declared:?} is below {} ({:?})",
        highest.1,
        highest.0
    );
}
