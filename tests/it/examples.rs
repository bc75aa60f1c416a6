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

/// The machine's own target, as cargo names it (`host:` in `cargo -vV`).
fn host_target() -> String {
    let out = std::process::Command::new(env!("CARGO"))
        .arg("-vV")
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("host: ").map(str::to_string))
        .expect("cargo -vV names the host")
}

// `cargo install` on an older toolchain must fail with cargo's clear
// "requires rustc X" message, not deep inside a dependency. Regression: the
// metadata of every platform needed packages a fresh machine's first
// `cargo test` never downloads (Windows-only ones), so on a cold registry this
// failed; it asks for this machine's target only, offline.
#[test]
fn the_declared_rust_version_is_at_least_every_dependencys() {
    let out = std::process::Command::new(env!("CARGO"))
        .args(["metadata", "--format-version", "1", "--offline"])
        .args(["--filter-platform", &host_target(), "--manifest-path"])
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let metadata: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let packages = metadata["packages"].as_array().unwrap();
    let ours = packages.iter().find(|p| p["name"] == "kvenv").unwrap();
    let declared = version(
        ours["rust_version"]
            .as_str()
            .expect("kvenv declares rust-version"),
    );
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

/// `kvenv inject` with `args`, the manifest on stdin: (exit code, stdout, stderr).
pub(crate) fn inject(args: &[&str], input: &str) -> (i32, String, String) {
    let out = assert_cmd::Command::cargo_bin("kvenv")
        .unwrap()
        .arg("inject")
        .args(args)
        .env_clear()
        .write_stdin(input)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

fn yaml_docs(text: &str) -> Vec<serde_norway::Value> {
    use serde::Deserialize;
    serde_norway::Deserializer::from_str(text)
        .map(|d| serde_norway::Value::deserialize(d).unwrap())
        .collect()
}

pub(crate) const IMAGE: &str = "myregistry.azurecr.io/kvenv:0.1.0";

#[test]
fn the_injected_examples_are_what_inject_makes_and_injecting_again_changes_nothing() {
    let app = std::fs::read_to_string("examples/kubernetes/app.yaml").unwrap();
    for (delivery, file) in [
        (
            "init-container",
            "examples/kubernetes/app.injected-init-container.yaml",
        ),
        (
            "image-volume",
            "examples/kubernetes/app.injected-image-volume.yaml",
        ),
    ] {
        let (code, out, err) = inject(&["--image", IMAGE, "--delivery", delivery], &app);
        assert_eq!((code, err.as_str()), (0, ""));
        assert_eq!(
            out,
            std::fs::read_to_string(file).unwrap(),
            "{file} is stale"
        );
        let (code, again, _) = inject(&["--image", IMAGE, "--delivery", delivery], &out);
        assert_eq!(
            (code, again.as_str()),
            (0, out.as_str()),
            "{delivery}: not idempotent"
        );
        let docs = yaml_docs(&out);
        assert_eq!(docs.len(), 2);
        assert_eq!(docs[1], yaml_docs(&app)[1], "the Service passes through");
        let pod = &docs[0]["spec"]["template"]["spec"];
        let web = &pod["containers"][0];
        assert_eq!(
            web["command"],
            yaml_docs(r#"[/kvenv/kvenv, run, "--", node, server.js]"#)[0]
        );
        assert_eq!(web["args"], yaml_docs(r#"[--port, "8080"]"#)[0]);
        assert_eq!(
            web["securityContext"]["readOnlyRootFilesystem"],
            serde_norway::Value::Bool(true)
        );
        assert_eq!(
            pod["containers"][1],
            yaml_docs(&app)[0]["spec"]["template"]["spec"]["containers"][1]
        );
        let volume = &pod["volumes"][0];
        match delivery {
            "init-container" => {
                assert_eq!(
                    volume["emptyDir"]["medium"],
                    serde_norway::Value::from("Memory")
                );
                let init = &pod["initContainers"][0];
                assert_eq!(init["image"], serde_norway::Value::from(IMAGE));
                assert_eq!(
                    init["command"],
                    yaml_docs("[/kvenv, install, /kvenv-volume]")[0]
                );
                assert_eq!(
                    init["securityContext"]["readOnlyRootFilesystem"],
                    serde_norway::Value::Bool(true)
                );
            }
            _ => {
                assert_eq!(
                    volume["image"]["reference"],
                    serde_norway::Value::from(IMAGE)
                );
                assert!(pod.get("initContainers").is_none());
            }
        }
    }
}

const WORKLOADS: &str = r#"
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db-client}
spec:
  serviceName: db
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec:
      volumes: [{name: kvenv, configMap: {name: theirs}}]
      initContainers:
      - name: migrate
        image: migrate:1
        command: [migrate, up]
        env: [{name: PGPASSWORD, value: "@Microsoft.KeyVault(VaultName=v;SecretName=pg)"}]
      containers:
      - name: kvenv-install
        image: app:1
        command: [app]
        env: [{name: A, value: "@Microsoft.AppConfiguration(Endpoint=https://s.azconfig.io; Key=k)"}]
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec:
      containers:
      - {name: agent, image: agent:1, command: [agent], env: [{name: T, value: "x@Microsoft.KeyVault(VaultName=v;SecretName=t)y"}]}
---
apiVersion: apps/v1
kind: ReplicaSet
metadata: {name: rs}
spec:
  selector: {matchLabels: {app: rs}}
  template:
    metadata: {labels: {app: rs}}
    spec:
      containers: [{name: plain, image: plain:1, env: [{name: X, value: "no reference"}]}]
---
apiVersion: batch/v1
kind: Job
metadata: {name: once}
spec:
  template:
    spec:
      restartPolicy: Never
      containers: [{name: job, image: job:1, command: [sh, -c, run], env: [{name: S, value: "@Microsoft.KeyVault(VaultName=v;SecretName=s)"}]}]
"#;

#[test]
fn every_workload_kind_is_injected_and_names_never_collide() {
    let (code, out, err) = inject(&["--image", IMAGE], WORKLOADS);
    assert_eq!((code, err.as_str()), (0, ""));
    let docs = yaml_docs(&out);
    assert_eq!(docs.len(), 4);
    let sts = &docs[0]["spec"]["template"]["spec"];
    let installer = &sts["initContainers"][0];
    assert_eq!(
        installer["name"],
        serde_norway::Value::from("kvenv-install-2"),
        "the pod's own container name kept"
    );
    assert_eq!(
        sts["initContainers"][1]["command"][0],
        serde_norway::Value::from("/kvenv/kvenv"),
        "init containers with references wrapped, after the installer"
    );
    assert_eq!(
        sts["containers"][0]["command"][0],
        serde_norway::Value::from("/kvenv/kvenv")
    );
    assert_eq!(
        sts["volumes"][1]["name"],
        serde_norway::Value::from("kvenv-2"),
        "the pod's own volume kept"
    );
    assert_eq!(
        sts["containers"][0]["volumeMounts"][0]["name"],
        serde_norway::Value::from("kvenv-2")
    );
    assert_eq!(
        docs[1]["spec"]["template"]["spec"]["containers"][0]["command"][0],
        serde_norway::Value::from("/kvenv/kvenv")
    );
    assert_eq!(
        docs[2],
        yaml_docs(WORKLOADS)[2],
        "no reference: the ReplicaSet passes through"
    );
    assert_eq!(
        docs[3]["spec"]["template"]["spec"]["containers"][0]["command"],
        yaml_docs("[/kvenv/kvenv, run, '--', sh, -c, run]")[0]
    );
}

#[test]
fn a_json_list_with_a_pod_and_a_cronjob_comes_back_as_json() {
    let list = r#"{"apiVersion": "v1", "kind": "List", "items": [
      {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
       "spec": {"containers": [{"name": "c", "image": "i", "command": ["run"],
                 "env": [{"name": "S", "value": "@Microsoft.KeyVault(VaultName=v;SecretName=s)"}]}]}},
      {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "nightly"},
       "spec": {"schedule": "0 3 * * *", "jobTemplate": {"spec": {"template": {"spec": {
         "restartPolicy": "OnFailure",
         "containers": [{"name": "backup", "image": "b", "command": ["backup"], "args": ["--all"],
                         "env": [{"name": "PW", "value": "@Microsoft.KeyVault(VaultName=v;SecretName=pw)"}]}]}}}}}}
    ]}"#;
    for delivery in ["init-container", "image-volume"] {
        let (code, out, err) = inject(&["--image", IMAGE, "--delivery", delivery], list);
        assert_eq!((code, err.as_str()), (0, ""));
        let json: serde_json::Value = serde_json::from_str(&out).expect("JSON in, JSON out");
        let pod = &json["items"][0]["spec"];
        assert_eq!(
            pod["containers"][0]["command"],
            serde_json::json!(["/kvenv/kvenv", "run", "--", "run"])
        );
        let cron = &json["items"][1]["spec"]["jobTemplate"]["spec"]["template"]["spec"];
        assert_eq!(
            cron["containers"][0]["command"],
            serde_json::json!(["/kvenv/kvenv", "run", "--", "backup"])
        );
        assert_eq!(cron["containers"][0]["args"], serde_json::json!(["--all"]));
        assert_eq!(json["items"][1]["spec"]["schedule"], "0 3 * * *");
        let (_, again, _) = inject(&["--image", IMAGE, "--delivery", delivery], &out);
        assert_eq!(again, out, "{delivery}: not idempotent");
    }
}

#[test]
fn a_container_without_command_fails_naming_it_and_prints_nothing() {
    let app = std::fs::read_to_string("examples/kubernetes/app.yaml").unwrap();
    let (code, out, err) = inject(&["--image", IMAGE, "--container", "metrics"], &app);
    assert_eq!(code, 125);
    assert_eq!(out, "", "nothing on stdout");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("Deployment/web: container 'metrics' has no command"),
        "{err}"
    );
    assert!(
        err.contains("set its command to the image's ENTRYPOINT"),
        "{err}"
    );
    let (code, out, err) = inject(&["--image", IMAGE], "kind: [unclosed\n");
    assert_eq!((code, out.as_str()), (125, ""));
    assert!(
        err.starts_with("kvenv: inject -: not a YAML or JSON manifest at line "),
        "{err}"
    );
}

// Hostile manifests: an alias bomb ("billion laughs") and nesting 100,000 deep
// are one line and exit 125, not unbounded memory or a stack overflow.
#[test]
fn an_alias_bomb_and_deep_nesting_are_refused_in_one_line() {
    let mut bomb = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..12u8 {
        let (name, prev) = ((b'a' + i) as char, (b'a' + i - 1) as char);
        let refs = vec![format!("*{prev}"); 10].join(", ");
        bomb.push_str(&format!("{name}: &{name} [{refs}]\n"));
    }
    bomb.push_str("kind: Pod\n");
    for input in [bomb, "[".repeat(100_000)] {
        let (code, out, err) = inject(&["--image", IMAGE], &input);
        assert_eq!((code, out.as_str()), (125, ""));
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.starts_with("kvenv: inject -: "), "{err}");
    }
}
