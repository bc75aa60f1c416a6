//! `kvenv inject` against hostile and awkward manifests: nesting and size that
//! would cost the YAML parser quadratic time or gigabytes, merge keys that
//! carry a command or a reference, and the smaller slips.

use crate::examples::{inject, IMAGE};
use std::time::{Duration, Instant};

/// What the YAML in `text` means, one value per document, merge keys applied
/// (as kubectl applies them).
fn meaning(text: &str) -> Vec<serde_norway::Value> {
    use serde::Deserialize;
    serde_norway::Deserializer::from_str(text)
        .map(|d| {
            let mut v = serde_norway::Value::deserialize(d).unwrap();
            v.apply_merge().unwrap();
            v
        })
        .collect()
}

// Regression: 40,000 nested flow collections took 5.5 s and a 400 KB file
// ran past two minutes (the parser's cost grows with nesting times length).
#[test]
fn deep_nesting_is_refused_in_linear_time() {
    let nested = |n: usize| format!("kind: Pod\nspec: {}{}\n", "[".repeat(n), "]".repeat(n));
    let mappings = |n: usize| format!("kind: Pod\nspec: {}x{}\n", "{a: ".repeat(n), "}".repeat(n));
    for input in [nested(40_000), nested(200_000), mappings(100_000)] {
        let started = Instant::now();
        let (code, out, err) = inject(&["--image", IMAGE], &input);
        let took = started.elapsed();
        assert_eq!((code, out.as_str()), (125, ""), "{err}");
        assert_eq!(
            err,
            "kvenv: inject -: collections nested deeper than 64 levels at line 2; no manifest needs that\n"
        );
        assert!(
            took < Duration::from_secs(3),
            "{} KB took {took:?}",
            input.len() / 1024
        );
    }
    // Nesting a manifest may have is fine.
    let (code, _, err) = inject(&["--image", IMAGE], &nested(40));
    assert_eq!(code, 0, "{err}");
}

// Regression: a 16 MB manifest took 1.1 to 2.4 GB to parse. Past 4 MiB a
// manifest is refused before parsing; under it, past a million values too.
#[test]
fn size_and_node_count_are_bounded_before_parsing() {
    let items = |n: usize| format!("kind: Pod\nspec: [{}]\n", vec!["a"; n].join(","));
    let (code, out, err) = inject(&["--image", IMAGE], &items(8_000_000));
    assert_eq!((code, out.as_str()), (125, ""));
    assert_eq!(err, "kvenv: inject -: larger than 4 MiB\n");
    let (code, out, err) = inject(&["--image", IMAGE], &items(1_100_000));
    assert_eq!((code, out.as_str()), (125, ""));
    assert_eq!(
        err,
        "kvenv: inject -: more than 1000000 values; split the manifest\n"
    );
    // Just under the bounds the manifest goes through, within 1 GiB of
    // address space.
    let input = items(900_000);
    let out = std::process::Command::new("sh")
        .args(["-c", "ulimit -v 1048576; exec \"$0\" inject --image x"])
        .arg(assert_cmd::cargo::cargo_bin!("kvenv"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            let mut stdin = child.stdin.take().unwrap();
            let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
            let out = child.wait_with_output();
            let _ = writer.join();
            out
        })
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

// Regression: a container whose command and reference came through a merge
// key (`<<: *base`) was left unwrapped with exit 0, though kubectl applies the
// merge and the pod started with the reference text as its password.
#[test]
fn merge_keys_are_applied_as_kubectl_applies_them() {
    let manifest = r#"apiVersion: apps/v1
kind: Deployment
metadata: {name: merged}
spec:
  template:
    spec:
      containers:
      - &base
        name: base
        image: app:1
        command: [node, server.js]
        env:
        - {name: DB_PASSWORD, value: "@Microsoft.KeyVault(VaultName=v;SecretName=db)"}
      - <<: *base
        name: worker
        args: [--worker]
"#;
    let (code, out, err) = inject(&["--image", IMAGE], manifest);
    assert_eq!(code, 0, "{err}");
    let docs = meaning(&out);
    let containers = docs[0]["spec"]["template"]["spec"]["containers"]
        .as_sequence()
        .unwrap();
    assert_eq!(containers.len(), 2);
    for c in containers {
        assert_eq!(c["command"][0], "/kvenv/kvenv", "{c:?}");
        assert_eq!(c["command"][3], "node");
        assert_eq!(c["env"][0]["name"], "DB_PASSWORD");
    }
    assert_eq!(containers[1]["name"], "worker");
    assert_eq!(containers[1]["args"][0], "--worker");
    // A merge kubectl would refuse is refused too.
    let (code, out, err) = inject(&["--image", IMAGE], "kind: Pod\nspec: {<<: [x]}\n");
    assert_eq!((code, out.as_str()), (125, ""));
    assert!(err.contains("merge key (<<)"), "{err}");
}

#[test]
fn smaller_slips_a_nested_mount_a_bom_and_a_string_command() {
    let pod = |mount: &str, command: &str| {
        format!(
            "kind: Pod\nmetadata: {{name: p}}\nspec:\n  containers:\n  - name: app\n    command: {command}\n    volumeMounts: [{{name: v, mountPath: \"{mount}\"}}]\n    env: [{{name: S, value: \"@Microsoft.KeyVault(VaultName=v;SecretName=s)\"}}]\n"
        )
    };
    for mount in ["/kvenv/", "/kvenv/sub", "//kvenv"] {
        let (code, out, err) = inject(&["--image", IMAGE], &pod(mount, "[app]"));
        assert_eq!((code, out.as_str()), (125, ""), "{mount}");
        assert!(
            err.contains("already mounts something else at /kvenv"),
            "{mount}: {err}"
        );
    }
    let (code, out, err) = inject(&["--image", IMAGE], &pod("/data", "\"sh -c x\""));
    assert_eq!((code, out.as_str()), (125, ""));
    assert!(
        err.contains("has a command that is one string; Kubernetes takes a list"),
        "{err}"
    );
    let (code, out, err) = inject(
        &["--image", IMAGE],
        &format!("\u{feff}{}", pod("/data", "[app]")),
    );
    assert_eq!(
        code, 0,
        "a byte order mark is read as kubectl reads it: {err}"
    );
    assert_eq!(
        meaning(&out)[0]["spec"]["containers"][0]["command"][0],
        "/kvenv/kvenv"
    );
}

// Regression: without --image, kvenv named `kvenv:VERSION`, an image no
// registry has, and the pod met ImagePullBackOff; `--container NAME` had to
// exist in every workload of the file; an unrendered Helm template failed
// with the YAML emitter's internal message.
#[test]
fn an_image_is_needed_container_names_span_the_file_and_templates_are_named() {
    let two = "kind: Pod\nmetadata: {name: a}\nspec:\n  containers: [{name: web, command: [run]}]\n---\nkind: Pod\nmetadata: {name: b}\nspec:\n  containers: [{name: db, command: [run]}]\n";
    let (code, out, err) = inject(&["--container", "web"], two);
    assert_eq!((code, out.as_str()), (125, ""));
    assert!(
        err.contains("Pod/a needs kvenv's image: give --image"),
        "{err}"
    );
    // Nothing to change: no image needed, the input comes back as it was.
    let (code, out, _) = inject(&[], two);
    assert_eq!((code, out.as_str()), (0, two));
    let (code, out, err) = inject(&["--image", IMAGE, "--container", "web"], two);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("/kvenv/kvenv"));
    let (code, _, err) = inject(&["--image", IMAGE, "--container", "nope"], two);
    assert_eq!(code, 125);
    assert_eq!(
        err,
        "kvenv: inject -: --container nope names no container or init container of any workload\n"
    );
    let helm = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {{ .Release.Name }}\n  labels:\n{{ include \"app.labels\" . | indent 4 }}\n";
    let (code, out, err) = inject(&["--image", IMAGE], helm);
    assert_eq!((code, out.as_str()), (125, ""));
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("unrendered template ({{ ... }}): render it first (helm template)"),
        "{err}"
    );
}

// Error positions count from the top of the file, in every document: a key
// given twice is named where it is given the second time.
#[test]
fn error_positions_point_into_later_documents() {
    for (input, expected) in [
        (
            "kind: Pod\n---\nkind: Pod\nmetadata: {name: a}\nkind: Service\n",
            "kvenv: inject -: a mapping has a key twice at line 5 column 7\n",
        ),
        (
            "a: 1\n---\nb: 2\n---\nc: [1\n",
            "kvenv: inject -: not a YAML or JSON manifest at line 6 column 1\n",
        ),
    ] {
        let (code, out, err) = inject(&["--image", IMAGE], input);
        assert_eq!((code, out.as_str()), (125, ""));
        assert_eq!(err, expected);
    }
}
