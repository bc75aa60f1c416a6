//! What `kvenv inject` writes, read by kubectl's own YAML reader
//! (sigs.k8s.io/yaml over gopkg.in/yaml.v2, built from Debian's packages by
//! `tests/kubectl-yaml/main.go`): a document kvenv does not change comes out
//! byte for byte; in one it changes, everything kvenv did not add means to
//! kubectl what it meant before; the added init container passes Pod
//! Security "restricted". The inputs are real-world manifests that Debian's
//! `golang-k8s-sigs-structured-merge-diff-dev` ships as test data (kube-dns,
//! a Pod, a Node, Endpoints, the Prometheus CRD), and hard cases written
//! here (YAML 1.1 booleans, octal modes, dates, anchors, merge keys, block
//! scalars, comments, Helm's output).

use crate::examples::{inject, IMAGE};
use crate::support;
use serde_json::Value;
use std::path::{Path, PathBuf};

/// Where Debian's package puts the real-world manifests.
const REAL_WORLD: &str =
    "/usr/share/gocode/src/sigs.k8s.io/structured-merge-diff/internal/testdata";

/// kubectl's reader, built once; `None` (the test skips) without Go and
/// Debian's sigs.k8s.io/yaml.
fn reader(test: &str) -> Option<PathBuf> {
    static BUILT: std::sync::OnceLock<Option<PathBuf>> = std::sync::OnceLock::new();
    let built = BUILT.get_or_init(|| {
        let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
        let bin = tmp.join("kubectl-yaml");
        let ok = std::process::Command::new("go")
            .args(["build", "-o"])
            .arg(&bin)
            .arg(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/kubectl-yaml/main.go"
            ))
            .env("GO111MODULE", "off")
            .env("GOPATH", "/usr/share/gocode")
            .env("GOCACHE", tmp.join("go-cache"))
            .env("GOFLAGS", "")
            .status()
            .is_ok_and(|s| s.success());
        ok.then_some(bin)
    });
    support::need(
        built.is_some(),
        test,
        "Go and sigs.k8s.io/yaml (apt-get install golang-go golang-k8s-sigs-yaml-dev)",
    )
    .then(|| built.clone().expect("checked"))
}

/// Each document of `text` as kubectl reads it.
fn kubectl(bin: &Path, text: &str) -> Vec<Value> {
    use std::io::Write;
    let mut child = std::process::Command::new(bin)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let input = text.to_string();
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    assert!(
        out.status.success(),
        "kubectl's reader refused it: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// A manifest with kvenv's additions taken away again: the wrapper in front
/// of each command, the mount at /kvenv, kvenv's volume and installer, and the
/// lists that only they filled.
fn without_kvenv(mut doc: Value, before: &Value) -> Value {
    let Some(spec) = pod_spec(&mut doc) else {
        return doc;
    };
    let before_spec = pod_spec_of(before);
    for list in ["containers", "initContainers"] {
        let Some(containers) = spec.get_mut(list).and_then(Value::as_array_mut) else {
            continue;
        };
        containers.retain(|c| c["command"][0] != "/kvenv" || c["command"][1] != "install");
        for (i, c) in containers.iter_mut().enumerate() {
            let had_mounts = before_spec
                .and_then(|s| s.get(list))
                .and_then(|l| l.get(i))
                .is_some_and(|c| c.get("volumeMounts").is_some());
            let c = c.as_object_mut().unwrap();
            if let Some(command) = c.get_mut("command").and_then(Value::as_array_mut) {
                if command.first().is_some_and(|p| p == "/kvenv/kvenv") {
                    command.drain(..3);
                }
            }
            if let Some(mounts) = c.get_mut("volumeMounts").and_then(Value::as_array_mut) {
                mounts.retain(|m| m["mountPath"] != "/kvenv");
                if mounts.is_empty() && !had_mounts {
                    c.remove("volumeMounts");
                }
            }
        }
    }
    let spec = spec.as_object_mut().unwrap();
    for (list, ours) in [("volumes", "kvenv"), ("initContainers", "")] {
        let had = before_spec.is_some_and(|s| s.get(list).is_some());
        if let Some(items) = spec.get_mut(list).and_then(Value::as_array_mut) {
            if !ours.is_empty() {
                items.retain(|v| !v["name"].as_str().is_some_and(|n| n.starts_with(ours)));
            }
            if items.is_empty() && !had {
                spec.remove(list);
            }
        }
    }
    doc
}

fn pod_spec(doc: &mut Value) -> Option<&mut Value> {
    match doc["kind"].as_str()? {
        "Pod" => doc.get_mut("spec"),
        "Deployment" | "StatefulSet" | "DaemonSet" | "Job" => {
            doc.pointer_mut("/spec/template/spec")
        }
        "CronJob" => doc.pointer_mut("/spec/jobTemplate/spec/template/spec"),
        _ => None,
    }
}

fn pod_spec_of(doc: &Value) -> Option<&Value> {
    match doc["kind"].as_str()? {
        "Pod" => doc.get("spec"),
        "Deployment" | "StatefulSet" | "DaemonSet" | "Job" => doc.pointer("/spec/template/spec"),
        "CronJob" => doc.pointer("/spec/jobTemplate/spec/template/spec"),
        _ => None,
    }
}

/// Pod Security "restricted", for one container (the pod's own settings
/// count where the container has none).
fn restricted(container: &Value, pod: &Value) -> Result<(), String> {
    let sc = &container["securityContext"];
    let pod_sc = &pod["securityContext"];
    let either = |k: &str| if sc[k].is_null() { &pod_sc[k] } else { &sc[k] };
    if sc["allowPrivilegeEscalation"] != false {
        return Err("allowPrivilegeEscalation is not false".into());
    }
    if sc["privileged"] == true {
        return Err("privileged".into());
    }
    let drops = sc["capabilities"]["drop"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    if !drops.iter().any(|d| d == "ALL") {
        return Err("capabilities do not drop ALL".into());
    }
    let adds = sc["capabilities"]["add"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    if adds.iter().any(|a| a != "NET_BIND_SERVICE") {
        return Err("capabilities add more than NET_BIND_SERVICE".into());
    }
    if either("runAsNonRoot") != true {
        return Err("runAsNonRoot is not true".into());
    }
    if either("runAsUser") == 0 {
        return Err("runAsUser is 0".into());
    }
    let seccomp = either("seccompProfile")["type"]
        .as_str()
        .unwrap_or_default();
    if !matches!(seccomp, "RuntimeDefault" | "Localhost") {
        return Err(format!("seccompProfile is '{seccomp}'"));
    }
    Ok(())
}

/// Gives each container of the text's workloads a command (the real-world
/// manifests use their images' entrypoints), so that kvenv can wrap them.
fn with_commands(text: &str) -> String {
    let mut out = String::new();
    for line in text.lines() {
        out.push_str(line);
        out.push('\n');
        let trimmed = line.trim_start();
        let indent = line.len() - trimmed.len();
        if trimmed.starts_with("- image: ") {
            out.push_str(&format!("{}  command: [/entrypoint]\n", " ".repeat(indent)));
        } else if trimmed.starts_with("image: ") && indent >= 4 {
            out.push_str(&format!("{}command: [/entrypoint]\n", " ".repeat(indent)));
        }
    }
    out
}

/// Hard cases, written here.
const HARD: &[(&str, &str)] = &[
    (
        "yaml-1.1",
        r#"# Licence header: keep me.
apiVersion: v1
kind: Pod
metadata:
  name: hard
  labels: {enabled: "yes", mode: "on", plain: on, date: "2024-01-01", bare-date: 2024-01-01}
  annotations:
    note: >
      folded text
      over lines
    script: |
      #!/bin/sh
      echo "no" 'on' 0755
spec:
  containers:
  - name: app
    image: app:1
    command: [redis-server, --appendonly, "no", "on", 0755, ~]
    args: ["yes", 'Y', y, 1e3, 08, 0x1F, "2024-01-01"]
    env:
    - {name: DB_PASSWORD, value: "@Microsoft.KeyVault(VaultName=v;SecretName=db)"}
    - {name: FLAG, value: "off"}
    volumeMounts: [{name: conf, mountPath: /etc/conf, readOnly: yes}]
  volumes:
  - name: conf
    configMap: {name: conf, defaultMode: 0755, items: [{key: a, path: a, mode: 0644}]}
"#,
    ),
    (
        "anchors-and-merge-keys",
        r#"apiVersion: apps/v1
kind: Deployment
metadata: {name: merged}
spec:
  template:
    metadata: {labels: &labels {app: merged, tier: "no"}}
    spec:
      containers:
      - &base
        name: base
        image: app:1
        command: [node, server.js]
        env: &env
        - {name: DB_PASSWORD, value: "@Microsoft.KeyVault(VaultName=v;SecretName=db)"}
        resources: &res {limits: {cpu: 500m, memory: 128Mi}}
      - <<: *base
        name: worker
        args: [--worker]
      - name: plain
        image: side:1
        command: [sleep, "3600"]
        resources: *res
      nodeSelector: *labels
"#,
    ),
    (
        "helm-rendered",
        r#"---
# Source: app/templates/service.yaml
apiVersion: v1
kind: Service
metadata:
  name: release-app
  labels:
    helm.sh/chart: app-0.1.0
    app.kubernetes.io/managed-by: Helm
spec:
  type: ClusterIP
  ports:
    - port: 80
      targetPort: http
      protocol: TCP
      name: http
---
# Source: app/templates/deployment.yaml
apiVersion: apps/v1
kind: Deployment
metadata:
  name: release-app
spec:
  replicas: 1
  template:
    spec:
      securityContext:
        runAsNonRoot: true
        seccompProfile:
          type: RuntimeDefault
      containers:
        - name: app
          image: "nginx:1.16.0"
          command: ["/docker-entrypoint.sh", "nginx", "-g", "daemon off;"]
          securityContext:
            allowPrivilegeEscalation: false
            capabilities:
              drop: ["ALL"]
            runAsUser: 101
          env:
            - name: API_KEY
              value: "@Microsoft.KeyVault(SecretUri=https://v.vault.azure.net/secrets/api-key)"
---
# Source: app/templates/tests/test-connection.yaml
apiVersion: v1
kind: Pod
metadata:
  name: "release-app-test-connection"
  annotations:
    "helm.sh/hook": test
spec:
  containers:
    - name: wget
      image: busybox
      command: ['wget']
      args: ['release-app:80']
  restartPolicy: Never
"#,
    ),
];

#[test]
fn documents_without_a_reference_come_out_byte_for_byte() {
    let Some(bin) = reader("kubectl::documents_without_a_reference_come_out_byte_for_byte") else {
        return;
    };
    let mut inputs: Vec<(String, String)> = HARD
        .iter()
        .map(|(name, text)| (name.to_string(), text.replace("@Microsoft", "Microsoft")))
        .collect();
    if support::need(
        Path::new(REAL_WORLD).is_dir(),
        "kubectl::documents_without_a_reference_come_out_byte_for_byte (real-world manifests)",
        "apt-get install golang-k8s-sigs-structured-merge-diff-dev",
    ) {
        for name in [
            "k8s-deployment.yaml",
            "pod.yaml",
            "node.yaml",
            "endpoints.yaml",
            "prometheus-crd.yaml",
            "list.yaml",
        ] {
            let text = std::fs::read_to_string(Path::new(REAL_WORLD).join(name)).unwrap();
            inputs.push((name.to_string(), text));
        }
    }
    for (name, text) in inputs {
        let (code, out, err) = inject(&["--image", IMAGE], &text);
        assert_eq!(code, 0, "{name}: {err}");
        assert!(out == text, "{name}: not byte for byte");
        assert_eq!(kubectl(&bin, &out), kubectl(&bin, &text), "{name}");
    }
}

#[test]
fn in_an_injected_document_everything_else_keeps_its_kubectl_meaning() {
    let Some(bin) =
        reader("kubectl::in_an_injected_document_everything_else_keeps_its_kubectl_meaning")
    else {
        return;
    };
    let mut inputs: Vec<(String, String, Vec<&str>)> = HARD
        .iter()
        .map(|(name, text)| (name.to_string(), text.to_string(), vec![]))
        .collect();
    if support::need(
        Path::new(REAL_WORLD).is_dir(),
        "kubectl::in_an_injected_document_everything_else_keeps_its_kubectl_meaning (real-world manifests)",
        "apt-get install golang-k8s-sigs-structured-merge-diff-dev",
    ) {
        for (name, containers) in [
            ("k8s-deployment.yaml", vec!["kubedns", "dnsmasq", "sidecar"]),
            ("pod.yaml", vec![]),
        ] {
            let text = std::fs::read_to_string(Path::new(REAL_WORLD).join(name)).unwrap();
            inputs.push((name.to_string(), with_commands(&text), containers));
        }
    }
    for (name, text, containers) in inputs {
        let before = kubectl(&bin, &text);
        let mut args = vec!["--image", IMAGE];
        let names: Vec<String> = match containers.is_empty() && !text.contains("@Microsoft") {
            // Every container of the real-world Pod, by name.
            true => before[0]["spec"]["containers"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["name"].as_str().unwrap().to_string())
                .collect(),
            false => containers.iter().map(|c| c.to_string()).collect(),
        };
        for n in &names {
            args.extend(["--container", n]);
        }
        for delivery in ["init-container", "image-volume"] {
            let mut args = args.clone();
            args.extend(["--delivery", delivery]);
            let (code, out, err) = inject(&args, &text);
            assert_eq!(code, 0, "{name}: {err}");
            let after = kubectl(&bin, &out);
            assert_eq!(after.len(), before.len(), "{name}");
            let mut injected = 0;
            for (a, b) in after.iter().zip(&before) {
                if a != b {
                    injected += 1;
                }
                assert_eq!(
                    &without_kvenv(a.clone(), b),
                    b,
                    "{name} ({delivery}): kubectl reads something else"
                );
                if let Some(spec) = pod_spec_of(a) {
                    for init in spec["initContainers"].as_array().into_iter().flatten() {
                        if init["command"][1] == "install" {
                            restricted(init, spec)
                                .unwrap_or_else(|why| panic!("{name}: installer: {why}"));
                            assert!(
                                init["resources"]["limits"]["memory"].is_string(),
                                "{name}: no limits"
                            );
                        }
                    }
                }
            }
            assert!(injected >= 1, "{name}: nothing was injected");
            // Comments of documents kvenv left alone are all still there.
            if name == "helm-rendered" {
                for comment in [
                    "# Source: app/templates/service.yaml",
                    "# Source: app/templates/tests/test-connection.yaml",
                    "# Source: app/templates/deployment.yaml",
                ] {
                    assert!(out.contains(comment), "{comment}");
                }
            }
            let (code, again, _) = inject(&args, &out);
            assert_eq!(
                (code, again.as_str()),
                (0, out.as_str()),
                "{name}: not idempotent"
            );
        }
    }
}

// Regression: the added init container had no securityContext seccomp profile
// and no resources, so a pod that passed Pod Security "restricted" (with the
// restricted settings on the pod) no longer passed, and a namespace with a
// compute quota refused it.
#[test]
fn a_restricted_pod_stays_restricted() {
    let Some(bin) = reader("kubectl::a_restricted_pod_stays_restricted") else {
        return;
    };
    let text = HARD[2].1;
    let (code, out, err) = inject(&["--image", IMAGE], text);
    assert_eq!(code, 0, "{err}");
    let docs = kubectl(&bin, &out);
    let spec = pod_spec_of(&docs[1]).unwrap();
    for c in spec["containers"]
        .as_array()
        .unwrap()
        .iter()
        .chain(spec["initContainers"].as_array().unwrap())
    {
        restricted(c, spec).unwrap_or_else(|why| panic!("{}: {why}", c["name"]));
    }
}

#[test]
fn reinjecting_with_another_image_or_delivery_updates_what_kvenv_added() {
    let Some(bin) =
        reader("kubectl::reinjecting_with_another_image_or_delivery_updates_what_kvenv_added")
    else {
        return;
    };
    let text = HARD[0].1;
    let (_, first, _) = inject(&["--image", "registry.example/kvenv:1"], text);
    let (code, upgraded, err) = inject(&["--image", "registry.example/kvenv:2"], &first);
    assert_eq!(code, 0, "{err}");
    let spec = kubectl(&bin, &upgraded).remove(0)["spec"].take();
    assert_eq!(
        spec["initContainers"][0]["image"],
        "registry.example/kvenv:2"
    );
    assert_eq!(spec["initContainers"].as_array().unwrap().len(), 1);
    let (code, switched, err) = inject(
        &[
            "--image",
            "registry.example/kvenv:2",
            "--delivery",
            "image-volume",
        ],
        &upgraded,
    );
    assert_eq!(code, 0, "{err}");
    let spec = kubectl(&bin, &switched).remove(0)["spec"].take();
    assert!(
        spec.get("initContainers")
            .is_none_or(|i| i.as_array().unwrap().is_empty()),
        "{spec}"
    );
    let volume = spec["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == "kvenv")
        .unwrap()
        .clone();
    assert_eq!(volume["image"]["reference"], "registry.example/kvenv:2");
    assert!(volume.get("emptyDir").is_none());
    // The app container is wrapped once, whatever happened since.
    assert_eq!(spec["containers"][0]["command"][0], "/kvenv/kvenv");
    assert_eq!(spec["containers"][0]["command"][3], "redis-server");
}
