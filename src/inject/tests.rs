use super::*;

fn how(delivery: Delivery) -> Injection {
    Injection {
        image: Some("registry.example/kvenv:1".into()),
        delivery,
        containers: Vec::new(),
    }
}

fn doc(text: &str) -> Value {
    kubectl::documents(text, 100_000).unwrap().remove(0)
}

const POD: &str = r#"
apiVersion: v1
kind: Pod
metadata: {name: p}
spec:
  volumes: [{name: kvenv, configMap: {name: mine}}]
  containers:
  - name: app
    image: app:1
    command: [node, server.js]
    args: [--port, "8080"]
    env:
    - {name: DB, value: "@Microsoft.KeyVault(VaultName=v;SecretName=db)"}
  - name: sidecar
    image: side:1
    env: [{name: X, value: plain}]
"#;

#[test]
fn a_container_with_a_reference_is_wrapped_and_the_rest_is_left_alone() {
    let mut pod = doc(POD);
    assert!(inject(&mut pod, &how(Delivery::InitContainer)).unwrap());
    let app = &pod["spec"]["containers"][0];
    assert_eq!(
        app["command"],
        doc(r#"[/kvenv/kvenv, run, "--", node, server.js]"#)
    );
    assert_eq!(app["args"], doc(r#"[--port, "8080"]"#));
    assert_eq!(
        app["volumeMounts"][0]["name"],
        key("kvenv-2"),
        "the pod's own 'kvenv' kept"
    );
    assert_eq!(app["volumeMounts"][0]["readOnly"], Value::Bool(true));
    assert_eq!(
        pod["spec"]["containers"][1],
        doc(POD)["spec"]["containers"][1]
    );
    let init = &pod["spec"]["initContainers"][0];
    assert_eq!(init["command"], doc("[/kvenv, install, /kvenv-volume]"));
    assert_eq!(
        pod["spec"]["volumes"][1]["emptyDir"]["medium"],
        key("Memory")
    );
    let again = pod.clone();
    assert!(!inject(&mut pod, &how(Delivery::InitContainer)).unwrap());
    assert_eq!(pod, again, "injecting twice changes nothing");
}

#[test]
fn an_image_volume_needs_no_init_container() {
    let mut pod = doc(POD);
    inject(&mut pod, &how(Delivery::ImageVolume)).unwrap();
    assert!(pod["spec"].get("initContainers").is_none());
    assert_eq!(
        pod["spec"]["volumes"][1]["image"]["reference"],
        key("registry.example/kvenv:1")
    );
}

#[test]
fn a_selected_container_without_command_is_refused_naming_it() {
    let mut pod = doc(POD);
    let how = Injection {
        containers: vec!["sidecar".into()],
        ..how(Delivery::InitContainer)
    };
    let err = inject(&mut pod, &how).unwrap_err();
    assert_eq!(
        err,
        InjectError::NoCommand {
            workload: "Pod/p".into(),
            container: "sidecar".into()
        }
    );
}

#[test]
fn other_kinds_pass_through() {
    let mut service =
        doc("apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec: {ports: [{port: 80}]}\n");
    let before = service.clone();
    assert!(!inject(&mut service, &how(Delivery::InitContainer)).unwrap());
    assert_eq!(service, before);
}

#[test]
fn kvenvs_mount_path_is_compared_as_the_kubelet_reads_it() {
    for taken in [
        "/kvenv",
        "/kvenv/",
        "//kvenv",
        "/kvenv/x",
        "/./kvenv//",
        "/kvenv/./y",
    ] {
        assert!(at_or_under_mount(taken), "{taken}");
    }
    for free in ["/kvenvx", "/opt/kvenv", "kvenv", "/", "/data"] {
        assert!(!at_or_under_mount(free), "{free}");
    }
}
