//! `kvenv inject`'s transformation, a pure function of Kubernetes documents:
//! each container (and init container) whose `env` values hold a reference,
//! or that `--container` names, gets kvenv in front of its `command`, and the
//! pod gets a volume that holds kvenv (an image volume of kvenv's image, or an
//! in-memory `emptyDir` filled by an init container running `kvenv install`).
//! The documents are values as kubectl reads them (`kubectl.rs`), so every
//! field kvenv does not touch keeps its meaning; injecting an injected pod
//! changes nothing, and injecting it with another image or delivery updates
//! what kvenv added.

pub(crate) mod bounds;
mod delivery;
pub(crate) mod emit;
pub(crate) mod kubectl;
mod scalar;
mod value;

use serde_json::Value;
use value::{key, list, mapping, names_of, unique};

/// Where the volume is mounted in the app's containers, and so the program.
pub(crate) const MOUNT: &str = "/kvenv";
const PROGRAM: &str = "/kvenv/kvenv";
/// Where the init container writes kvenv (its own `/kvenv` is the binary).
const INSTALL_DIR: &str = "/kvenv-volume";

/// How kvenv reaches the pod.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Delivery {
    /// A Kubernetes `image` volume of kvenv's image (ImageVolume, beta since 1.33).
    ImageVolume,
    /// An in-memory `emptyDir` and an init container that runs `kvenv install`.
    InitContainer,
}

/// What to inject, validated.
#[derive(Debug)]
pub(crate) struct Injection {
    /// kvenv's image as the cluster pulls it; needed once a pod changes.
    pub image: Option<String>,
    pub delivery: Delivery,
    /// Containers to wrap by name; empty: those whose env holds a reference.
    pub containers: Vec<String>,
}

/// Why a document cannot be injected: which workload, which container, what to do.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub(crate) enum InjectError {
    #[error("{workload}: container '{container}' has no command, and kvenv cannot know its image's entrypoint without the registry; set its command to the image's ENTRYPOINT (and args to its CMD), then inject again")]
    NoCommand { workload: String, container: String },
    #[error("{workload}: container '{container}' already mounts something else at {MOUNT}; kvenv's volume goes there")]
    MountTaken { workload: String, container: String },
    #[error("{workload}: container '{container}' has a command that is one string; Kubernetes takes a list: command: [\"sh\", \"-c\", \"...\"]")]
    CommandNotList { workload: String, container: String },
    #[error("--container {0} names no container or init container of any workload")]
    NoSuchContainer(String),
    #[error("{workload} needs kvenv's image: give --image REGISTRY/kvenv:VERSION, as your cluster pulls it (kvenv's image, pushed to your registry)")]
    NoImage { workload: String },
}

/// Injects every pod template in `doc` (a workload, a Pod, or a `List` of
/// them); other documents are left as they are. Returns whether anything
/// changed.
pub(crate) fn inject(doc: &mut Value, how: &Injection) -> Result<bool, InjectError> {
    let kind = doc
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    if kind == "List" {
        let mut changed = false;
        if let Some(items) = doc.get_mut("items").and_then(Value::as_array_mut) {
            for item in items {
                changed |= inject(item, how)?;
            }
        }
        return Ok(changed);
    }
    let name = doc
        .get("metadata")
        .and_then(|m| m.get("name"))
        .and_then(Value::as_str)
        .unwrap_or("(unnamed)");
    let workload = format!("{kind}/{name}");
    match pod_spec(doc) {
        Some(spec) => inject_pod(spec, how, &workload),
        None => Ok(false),
    }
}

/// The pod spec of a Pod or a workload's template.
fn pod_spec(doc: &mut Value) -> Option<&mut Value> {
    let path: &[&str] = match doc.get("kind").and_then(Value::as_str)? {
        "Pod" => &["spec"],
        "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet" | "Job" => {
            &["spec", "template", "spec"]
        }
        "CronJob" => &["spec", "jobTemplate", "spec", "template", "spec"],
        _ => return None,
    };
    let mut spec = doc;
    for key in path {
        spec = spec.get_mut(*key).filter(|v| v.is_object())?;
    }
    Some(spec)
}

/// The names of every container and init container in `doc` (a `List`'s too).
pub(crate) fn container_names(doc: &mut Value) -> Vec<String> {
    if doc.get("kind").and_then(Value::as_str) == Some("List") {
        return doc
            .get_mut("items")
            .and_then(Value::as_array_mut)
            .map(|items| items.iter_mut().flat_map(container_names).collect())
            .unwrap_or_default();
    }
    pod_spec(doc)
        .map(|spec| {
            ["containers", "initContainers"]
                .iter()
                .flat_map(|l| names_of(spec.get(*l)))
                .collect()
        })
        .unwrap_or_default()
}

/// Whether a container is to be wrapped.
fn wants(container: &Value, how: &Injection) -> bool {
    let name = container
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if !how.containers.is_empty() {
        return how.containers.iter().any(|c| c == name);
    }
    container
        .get("env")
        .and_then(Value::as_array)
        .is_some_and(|env| {
            env.iter().any(|e| {
                e.get("value")
                    .and_then(Value::as_str)
                    .is_some_and(|v| crate::template::mentions_reference(v.as_bytes()))
            })
        })
}

fn is_wrapped(container: &Value) -> bool {
    let command = container.get("command").and_then(Value::as_array);
    matches!(command.map(Vec::as_slice), Some([first, ..]) if first.as_str() == Some(PROGRAM))
}

/// The name of kvenv's volume if an earlier injection added it: the one
/// mounted at `/kvenv` by a wrapped container.
fn existing_volume(spec: &Value) -> Option<String> {
    ["containers", "initContainers"]
        .iter()
        .filter_map(|list| spec.get(*list).and_then(Value::as_array))
        .flatten()
        .filter(|c| is_wrapped(c))
        .filter_map(|c| c.get("volumeMounts").and_then(Value::as_array))
        .flatten()
        .find(|m| m.get("mountPath").and_then(Value::as_str) == Some(MOUNT))
        .and_then(|m| m.get("name").and_then(Value::as_str).map(str::to_string))
}

fn inject_pod(spec: &mut Value, how: &Injection, workload: &str) -> Result<bool, InjectError> {
    let existing = existing_volume(spec);
    let volume = existing
        .clone()
        .unwrap_or_else(|| unique("kvenv", &names_of(spec.get("volumes"))));
    let mut wrapped = false;
    for list in ["initContainers", "containers"] {
        let Some(containers) = spec.get_mut(list).and_then(Value::as_array_mut) else {
            continue;
        };
        for container in containers.iter_mut() {
            if !wants(container, how) || is_wrapped(container) {
                continue;
            }
            wrap(container, &volume, workload)?;
            wrapped = true;
        }
    }
    if !wrapped && existing.is_none() {
        return Ok(false);
    }
    let Some(image) = how.image.as_deref() else {
        return Err(InjectError::NoImage {
            workload: workload.to_string(),
        });
    };
    let Some(pod) = spec.as_object_mut() else {
        return Ok(wrapped);
    };
    let before = Value::Object(pod.clone());
    delivery::deliver(pod, how.delivery, image, &volume);
    Ok(wrapped || Value::Object(pod.clone()) != before)
}

/// Whether a mount path is kvenv's `/kvenv` or below it, as the kubelet reads
/// paths: repeated and trailing `/` and `.` components change nothing.
fn at_or_under_mount(path: &str) -> bool {
    let parts: Vec<&str> = path
        .split('/')
        .filter(|p| !p.is_empty() && *p != ".")
        .collect();
    path.starts_with('/') && parts.first() == Some(&MOUNT.trim_start_matches('/'))
}

/// `command` becomes `["/kvenv/kvenv", "run", "--", ...command]` (args stay),
/// and the volume is mounted read-only at `/kvenv`.
fn wrap(container: &mut Value, volume: &str, workload: &str) -> Result<(), InjectError> {
    let name = container
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or("(unnamed)")
        .to_string();
    let mounts_there = container
        .get("volumeMounts")
        .and_then(Value::as_array)
        .is_some_and(|mounts| {
            mounts.iter().any(|m| {
                m.get("mountPath")
                    .and_then(Value::as_str)
                    .is_some_and(at_or_under_mount)
            })
        });
    if mounts_there {
        return Err(InjectError::MountTaken {
            workload: workload.to_string(),
            container: name,
        });
    }
    if container.get("command").is_some_and(Value::is_string) {
        return Err(InjectError::CommandNotList {
            workload: workload.to_string(),
            container: name,
        });
    }
    let Some(command) = container
        .get("command")
        .and_then(Value::as_array)
        .filter(|c| !c.is_empty())
        .cloned()
    else {
        return Err(InjectError::NoCommand {
            workload: workload.to_string(),
            container: name,
        });
    };
    let Some(map) = container.as_object_mut() else {
        return Ok(());
    };
    let mut wrapped = vec![key(PROGRAM), key("run"), key("--")];
    wrapped.extend(command);
    map.insert("command".into(), Value::Array(wrapped));
    if let Some(mounts) = list(map, "volumeMounts") {
        mounts.push(mapping(vec![
            ("name", key(volume)),
            ("mountPath", key(MOUNT)),
            ("readOnly", Value::Bool(true)),
        ]));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
