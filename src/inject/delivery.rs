//! What kvenv adds to a pod besides the wrapped commands: its volume (an
//! image volume of kvenv's image, or an in-memory `emptyDir`) and, for the
//! latter, the init container that copies kvenv into it. Re-injecting with
//! another image or delivery brings both up to date.

use super::value::{key, list, mapping, names_of, strings, unique};
use super::{Delivery, INSTALL_DIR};
use serde_json::{Map, Value};

fn is_installer(container: &Value) -> bool {
    container.get("command") == Some(&strings(&["/kvenv", "install", INSTALL_DIR]))
}

/// Puts kvenv's volume and installer into `pod` as this injection wants them.
pub(super) fn deliver(pod: &mut Map<String, Value>, delivery: Delivery, image: &str, volume: &str) {
    let had_inits = pod.contains_key("initContainers");
    // kvenv's volume and installer as this injection wants them: added, or
    // brought up to date (another --image or --delivery is an upgrade).
    let volume_spec = match delivery {
        Delivery::ImageVolume => mapping(vec![
            ("name", key(volume)),
            (
                "image",
                mapping(vec![
                    ("reference", key(image)),
                    ("pullPolicy", key("IfNotPresent")),
                ]),
            ),
        ]),
        Delivery::InitContainer => mapping(vec![
            ("name", key(volume)),
            (
                "emptyDir",
                mapping(vec![("medium", key("Memory")), ("sizeLimit", key("64Mi"))]),
            ),
        ]),
    };
    if let Some(volumes) = list(pod, "volumes") {
        match volumes
            .iter_mut()
            .find(|v| v.get("name") == Some(&key(volume)))
        {
            Some(v) => *v = volume_spec,
            None => volumes.push(volume_spec),
        }
    }
    let taken: Vec<String> = ["containers", "initContainers"]
        .iter()
        .flat_map(|l| names_of(pod.get(*l)))
        .collect();
    let inits = list(pod, "initContainers");
    let at = inits.as_ref().and_then(|i| i.iter().position(is_installer));
    if let Some(inits) = inits {
        match (delivery, at) {
            (Delivery::InitContainer, Some(i)) => {
                let name = inits[i]
                    .get("name")
                    .and_then(Value::as_str)
                    .unwrap_or("kvenv-install");
                inits[i] = installer(name, image, volume);
            }
            // First, so that init containers that hold references find kvenv.
            (Delivery::InitContainer, None) => inits.insert(
                0,
                installer(&unique("kvenv-install", &taken), image, volume),
            ),
            (Delivery::ImageVolume, Some(i)) => {
                inits.remove(i);
            }
            (Delivery::ImageVolume, None) => {}
        }
    }
    if pod
        .get("initContainers")
        .and_then(Value::as_array)
        .is_some_and(Vec::is_empty)
        && !had_inits
    {
        pod.remove("initContainers");
    }
}

/// The init container that copies kvenv into the volume: it passes Pod
/// Security "restricted" and asks for little, so that a namespace with the
/// restricted profile or a compute quota admits the pod.
fn installer(name: &str, image: &str, volume: &str) -> Value {
    mapping(vec![
        ("name", key(name)),
        ("image", key(image)),
        ("command", strings(&["/kvenv", "install", INSTALL_DIR])),
        (
            "volumeMounts",
            Value::Array(vec![mapping(vec![
                ("name", key(volume)),
                ("mountPath", key(INSTALL_DIR)),
            ])]),
        ),
        (
            "securityContext",
            mapping(vec![
                ("allowPrivilegeEscalation", Value::Bool(false)),
                ("readOnlyRootFilesystem", Value::Bool(true)),
                ("runAsNonRoot", Value::Bool(true)),
                ("runAsUser", Value::Number(65532.into())),
                ("runAsGroup", Value::Number(65532.into())),
                ("capabilities", mapping(vec![("drop", strings(&["ALL"]))])),
                (
                    "seccompProfile",
                    mapping(vec![("type", key("RuntimeDefault"))]),
                ),
            ]),
        ),
        (
            "resources",
            mapping(vec![
                (
                    "requests",
                    mapping(vec![("cpu", key("10m")), ("memory", key("16Mi"))]),
                ),
                (
                    "limits",
                    mapping(vec![("cpu", key("100m")), ("memory", key("64Mi"))]),
                ),
            ]),
        ),
    ])
}
