#!/usr/bin/env python3
"""Checks Kubernetes manifests against the official Python client's models,
offline: each document is read into the model of its kind (required fields
present, types right) and written back; a field the model does not know is
dropped on the way, so the round trip must give the document back unchanged.
    scripts/k8s-schema-check.py FILE...   (needs: pip install kubernetes)"""
import json
import sys

import yaml
from kubernetes import client

KINDS = {
    "Pod": "V1Pod",
    "Deployment": "V1Deployment",
    "StatefulSet": "V1StatefulSet",
    "DaemonSet": "V1DaemonSet",
    "ReplicaSet": "V1ReplicaSet",
    "Job": "V1Job",
    "CronJob": "V1CronJob",
    "Service": "V1Service",
    "ServiceAccount": "V1ServiceAccount",
}

api = client.ApiClient()


def normalise(value):
    """The document as the API would store it: no empty maps or lists."""
    if isinstance(value, dict):
        out = {k: normalise(v) for k, v in value.items() if v not in (None, {}, [])}
        return out
    if isinstance(value, list):
        return [normalise(v) for v in value]
    return value


def check(doc, where):
    kind = doc.get("kind")
    if kind == "List":
        for i, item in enumerate(doc.get("items", [])):
            check(item, f"{where} item {i}")
        return
    model = KINDS.get(kind)
    if model is None:
        raise SystemExit(f"{where}: no model for kind {kind!r}")
    obj = api._ApiClient__deserialize(doc, model)  # the client's own reader
    back = normalise(api.sanitize_for_serialization(obj))
    if back != normalise(doc):
        raise SystemExit(f"{where}: {kind} does not round-trip through {model}:\n"
                         f"{json.dumps(normalise(doc), sort_keys=True)}\n{json.dumps(back, sort_keys=True)}")


for path in sys.argv[1:]:
    with open(path) as f:
        text = f.read()
    docs = [json.loads(text)] if text.lstrip().startswith("{") else [d for d in yaml.safe_load_all(text) if d]
    for i, doc in enumerate(docs):
        check(doc, f"{path} document {i}")
    print(f"k8s-schema-check: {path}: {len(docs)} document(s) match the Kubernetes {client.__version__} models")
