"""The Kubernetes manifests render (kustomize) and are valid against the Kubernetes
schemas (kubernetes-validate, strict: unknown fields fail). KEDA's ScaledObjects, which
those schemas do not know, are checked against deploy/k8s/schemas/ (a hand-written subset
of KEDA's CRD: required fields and types) and against the topic settings.

Rendering uses `kubectl kustomize` (kustomize built into kubectl, on this kind of
machine). Without kubectl the base, which uses no kustomize feature but `resources` and
`labels`, is loaded directly; the overlay's tests are skipped."""

from __future__ import annotations

import json
import shutil
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from invoicesync_shared.events import topics
from invoicesync_shared.events.topic_settings import TOPIC_SETTINGS

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
KUBERNETES_VERSION = "1.31.0"  # the oldest minor we support; strict mode
KEDA_SCHEMA = K8S / "schemas" / "keda-scaledobject.schema.json"
SYSTEMS = topics.SYSTEMS
SERVICES = ("api", *(f"connector-{s}" for s in SYSTEMS))
Manifest = dict[str, Any]


@cache
def render(path: str) -> tuple[Manifest, ...]:
    directory = K8S / path
    kubectl = shutil.which("kubectl")
    if kubectl is not None:
        out = subprocess.run(
            [kubectl, "kustomize", str(directory)],
            check=True,
            capture_output=True,
            text=True,
            timeout=60,
        ).stdout
        return tuple(d for d in yaml.safe_load_all(out) if d)
    if path != "base":
        pytest.skip("kubectl (kustomize) is not installed: overlay not rendered")
    return tuple(_load_plain(directory))


def _load_plain(directory: Path) -> list[Manifest]:
    kustomization = yaml.safe_load((directory / "kustomization.yaml").read_text())
    assert set(kustomization) <= {"apiVersion", "kind", "labels", "resources"}
    labels = {k: v for entry in kustomization.get("labels", []) for k, v in entry["pairs"].items()}
    docs: list[Manifest] = []
    for resource in kustomization["resources"]:
        for doc in yaml.safe_load_all((directory / resource).read_text()):
            if doc:
                doc["metadata"].setdefault("labels", {}).update(labels)
                docs.append(doc)
    return docs


def by_kind(docs: tuple[Manifest, ...], kind: str) -> dict[str, Manifest]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


def keda_validator() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(json.loads(KEDA_SCHEMA.read_text()))


@pytest.mark.parametrize("path", ["base", "sandbox", "overlays/example"])
def test_every_manifest_is_valid(path: str) -> None:
    docs = render(path)
    assert docs
    keda = keda_validator()
    for doc in docs:
        name = f"{doc['kind']}/{doc['metadata']['name']}"
        if doc["apiVersion"].startswith("keda.sh/"):
            errors = [e.message for e in keda.iter_errors(doc)]
            assert not errors, f"{name}: {errors}"
            continue
        try:
            kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            raise AssertionError(f"{name}: {exc.message} at {list(exc.path)}") from exc


def test_a_deployment_per_service_with_probes_resources_and_a_pdb() -> None:
    docs = render("base")
    deployments = by_kind(docs, "Deployment")
    services = by_kind(docs, "Service")
    budgets = by_kind(docs, "PodDisruptionBudget")
    assert set(deployments) == set(SERVICES)
    for name, deployment in deployments.items():
        pod = deployment["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        (container,) = pod["containers"]
        assert container["livenessProbe"]["httpGet"]["path"] == "/healthz", name
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz", name
        assert container["resources"]["requests"]["cpu"], name
        assert container["resources"]["limits"]["memory"], name
        assert container["securityContext"]["readOnlyRootFilesystem"] is True
        refs = {e["configMapRef"]["name"] for e in container.get("envFrom", [])}
        assert "invoicesync-config" in refs
        selector = deployment["spec"]["selector"]["matchLabels"]
        assert budgets[name]["spec"]["selector"]["matchLabels"] == selector
        assert services[name]["spec"]["selector"] == selector
        port = container["ports"][0]["containerPort"]
        assert services[name]["spec"]["ports"][0]["port"] == port


def test_migrations_and_topics_run_as_jobs() -> None:
    jobs = by_kind(render("base"), "Job")
    (migrate,) = jobs["migrate"]["spec"]["template"]["spec"]["containers"]
    assert migrate["command"] == ["invoicesync-migrate"]
    (creator,) = jobs["kafka-topics"]["spec"]["template"]["spec"]["containers"]
    lines = {
        parts[1]: (int(parts[2]), int(parts[3]))
        for line in creator["args"][0].splitlines()
        if (parts := line.split()) and parts[0] == "create" and len(parts) == 4
    }
    assert lines == {t: (s.partitions, s.retention_ms) for t, s in TOPIC_SETTINGS.items()}


def test_a_scaled_object_per_connector_on_its_consumer_group_lag() -> None:
    docs = render("overlays/example")
    scaled = by_kind(docs, "ScaledObject")
    deployments = by_kind(docs, "Deployment")
    bootstrap = by_kind(docs, "ConfigMap")["invoicesync-config"]["data"][
        "INVOICESYNC_KAFKA_BOOTSTRAP"
    ]
    assert set(scaled) == {f"connector-{s}" for s in SYSTEMS}
    for system in SYSTEMS:
        spec = scaled[f"connector-{system}"]["spec"]
        target = spec["scaleTargetRef"]["name"]
        assert "replicas" not in deployments[target]["spec"], "KEDA owns the replica count"
        assert spec["maxReplicaCount"] == TOPIC_SETTINGS[topics.DOCUMENTS].partitions
        assert spec["minReplicaCount"] >= 1
        (trigger,) = spec["triggers"]
        assert trigger["type"] == "kafka"
        assert trigger["metadata"]["consumerGroup"] == f"connector-{system}"
        assert trigger["metadata"]["topic"] == topics.DOCUMENTS
        assert trigger["metadata"]["bootstrapServers"] == bootstrap


def test_the_overlay_provides_every_config_map_and_secret_referenced() -> None:
    docs = render("overlays/example")
    config_maps = set(by_kind(docs, "ConfigMap"))
    secrets = {
        name: set(doc.get("stringData", {})) | set(doc.get("data", {}))
        for name, doc in by_kind(docs, "Secret").items()
    }
    namespaces = {d["metadata"].get("namespace") for d in docs if d["kind"] != "Namespace"}
    assert namespaces == {"invoicesync-example"}
    for doc in docs:
        if doc["kind"] not in ("Deployment", "Job"):
            continue
        for container in doc["spec"]["template"]["spec"]["containers"]:
            for source in container.get("envFrom", []):
                assert source["configMapRef"]["name"] in config_maps
            for var in container.get("env", []):
                ref = var.get("valueFrom", {})
                if "secretKeyRef" in ref:
                    assert ref["secretKeyRef"]["key"] in secrets[ref["secretKeyRef"]["name"]]
                if "configMapKeyRef" in ref:
                    assert ref["configMapKeyRef"]["name"] in config_maps
            assert not container["image"].startswith("invoicesync/"), "overlay pins images"


def test_the_keda_schema_rejects_what_keda_would() -> None:
    scaled = by_kind(render("base"), "ScaledObject")["connector-exact"]
    keda = keda_validator()
    broken = json.loads(json.dumps(scaled))
    broken["spec"]["triggers"][0]["metadata"]["lagThreshold"] = 50  # must be a string
    del broken["spec"]["scaleTargetRef"]
    messages = [e.message for e in keda.iter_errors(broken)]
    assert any("scaleTargetRef" in m for m in messages)
    assert any("50 is not of type 'string'" in m for m in messages)
