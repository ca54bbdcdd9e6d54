"""The Kubernetes manifests, rendered the way kustomize renders them and validated offline
against the API schemas of a recent Kubernetes (kubernetes-validate, strict: no unknown
fields), for the base and for each overlay; and the cluster rules they must keep.

The renderer below implements only what these kustomizations use (resources, components,
namespace, images, JSON 6902 patches with a kind/name/label target) and refuses anything
else, so it cannot silently render something kustomize would not. When kubectl is on
PATH its own `kubectl kustomize` output is compared with ours.
"""

from __future__ import annotations

import copy
import shutil
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
KUBERNETES_VERSION = "1.33.0"
PARTS = ["registry", "orders", "accreditation", "events", "gateway"]
TARGETS = {
    "base": DEPLOY / "k8s",
    "migrations": DEPLOY / "k8s" / "migrations",
    "dev": DEPLOY / "overlays" / "dev",
    "dev-migrations": DEPLOY / "overlays" / "dev" / "migrations",
    "production": DEPLOY / "overlays" / "production",
    "production-migrations": DEPLOY / "overlays" / "production" / "migrations",
}
KNOWN_FIELDS = {
    "apiVersion",
    "kind",
    "metadata",
    "namespace",
    "resources",
    "components",
    "images",
    "patches",
}
CLUSTER_SCOPED = {"Namespace"}


# --- a small kustomize ---------------------------------------------------------------


def _pointer(path: str) -> list[str]:
    assert path.startswith("/"), path
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _apply_op(doc: dict[str, Any], op: dict[str, Any]) -> None:
    *parents, last = _pointer(op["path"])
    node: Any = doc
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    kind = op["op"]
    if isinstance(node, list):
        if kind == "add":
            node.insert(len(node) if last == "-" else int(last), copy.deepcopy(op["value"]))
        elif kind == "replace":
            node[int(last)] = copy.deepcopy(op["value"])
        elif kind == "remove":
            del node[int(last)]
        else:
            raise AssertionError(f"unsupported op {kind}")
        return
    if kind == "replace":
        assert last in node, f"replace of a missing {op['path']}"
        node[last] = copy.deepcopy(op["value"])
    elif kind == "add":
        node[last] = copy.deepcopy(op["value"])
    elif kind == "remove":
        del node[last]
    else:
        raise AssertionError(f"unsupported op {kind}")


def _matches(doc: dict[str, Any], target: dict[str, Any]) -> bool:
    unknown = set(target) - {"kind", "name", "labelSelector"}
    assert not unknown, f"unsupported target fields {unknown}"
    if "kind" in target and doc["kind"] != target["kind"]:
        return False
    if "name" in target and doc["metadata"]["name"] != target["name"]:
        return False
    if "labelSelector" in target:
        labels = doc["metadata"].get("labels", {})
        for term in target["labelSelector"].split(","):
            key, _, value = term.partition("=")
            if labels.get(key.strip()) != value.strip():
                return False
    return True


def render(folder: Path) -> list[dict[str, Any]]:
    spec = yaml.safe_load((folder / "kustomization.yaml").read_text())
    unknown = set(spec) - KNOWN_FIELDS
    assert not unknown, f"{folder}: the test's renderer does not know {unknown}"
    docs: list[dict[str, Any]] = []
    for entry in spec.get("resources", []) + spec.get("components", []):
        target = (folder / entry).resolve()
        if target.is_dir():
            docs.extend(render(target))
        else:
            docs.extend(d for d in yaml.safe_load_all(target.read_text()) if d)
    for patch in spec.get("patches", []):
        assert set(patch) == {"target", "patch"}, f"{folder}: only inline JSON 6902 patches"
        ops = yaml.safe_load(patch["patch"])
        hit = [d for d in docs if _matches(d, patch["target"])]
        assert hit, f"{folder}: patch target {patch['target']} matches nothing"
        for doc in hit:
            for op in ops:
                _apply_op(doc, op)
    if "namespace" in spec:
        for doc in docs:
            if doc["kind"] not in CLUSTER_SCOPED:
                doc["metadata"]["namespace"] = spec["namespace"]
    for image in spec.get("images", []):
        for doc in docs:
            for container in containers(doc):
                name, _, _ = container["image"].partition(":")
                if name == image["name"]:
                    container["image"] = f"{image.get('newName', name)}:{image['newTag']}"
    return docs


def pod_spec(doc: dict[str, Any]) -> dict[str, Any] | None:
    if doc["kind"] in ("Deployment", "Job"):
        return doc["spec"]["template"]["spec"]
    return None


def containers(doc: dict[str, Any]) -> list[dict[str, Any]]:
    pod = pod_spec(doc)
    return [*pod.get("initContainers", []), *pod["containers"]] if pod else []


def by_kind(docs: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


@pytest.fixture(scope="module", params=sorted(TARGETS))
def rendered(request: pytest.FixtureRequest) -> tuple[str, list[dict[str, Any]]]:
    return request.param, render(TARGETS[request.param])


# --- validation ----------------------------------------------------------------------


def test_every_rendered_resource_is_valid_kubernetes(rendered) -> None:
    name, docs = rendered
    assert docs
    seen = set()
    for doc in docs:
        key = (doc["kind"], doc["metadata"]["name"])
        assert key not in seen, f"{name}: {key} twice"
        seen.add(key)
        try:
            kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            raise AssertionError(f"{name}: {key} is invalid: {exc.message}") from exc
        if doc["kind"] != "Namespace":
            assert doc["metadata"].get("namespace") == "innopark", (name, key)


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl not installed")
def test_kubectl_kustomize_renders_the_same(rendered) -> None:
    name, docs = rendered
    out = subprocess.run(
        ["kubectl", "kustomize", str(TARGETS[name])],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout

    def keyed(items):
        return {(d["kind"], d["metadata"]["name"]): d for d in items}

    assert keyed(d for d in yaml.safe_load_all(out) if d) == keyed(docs)


# --- the rules the cluster keeps -----------------------------------------------------


def test_every_part_autoscales_and_has_its_own_account() -> None:
    for target in ("base", "dev", "production"):
        docs = render(TARGETS[target])
        deployments = by_kind(docs, "Deployment")
        scalers = by_kind(docs, "HorizontalPodAutoscaler")
        accounts = by_kind(docs, "ServiceAccount")
        for part in PARTS:
            hpa = scalers[part]["spec"]
            assert hpa["scaleTargetRef"] == {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "name": part,
            }
            assert 1 <= hpa["minReplicas"] < hpa["maxReplicas"]
            pod = deployments[part]["spec"]["template"]["spec"]
            assert pod["serviceAccountName"] == part
            assert accounts[part]["automountServiceAccountToken"] is False
            assert pod["automountServiceAccountToken"] is False
    for job in by_kind(render(TARGETS["migrations"]), "Job").values():
        pod = job["spec"]["template"]["spec"]
        assert pod["serviceAccountName"] in PARTS
        assert pod["automountServiceAccountToken"] is False


def _selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    for key, value in selector.get("matchLabels", {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions", []):
        assert expr["operator"] == "In"
        if labels.get(expr["key"]) not in expr["values"]:
            return False
    return True


def _allowed_ingress(
    policies: list[dict[str, Any]], pod: dict[str, str], peer: dict[str, str] | None, port: int
) -> bool:
    """Whether some policy lets `peer` (a pod's labels in this namespace; None: a pod of
    the ingress-nginx namespace) reach `pod` on `port`."""
    for policy in policies:
        spec = policy["spec"]
        if "Ingress" not in spec["policyTypes"] or not _selects(spec["podSelector"], pod):
            continue
        for rule in spec.get("ingress", []):
            ports = rule.get("ports", [])
            if ports and not any(p["port"] <= port <= p.get("endPort", p["port"]) for p in ports):
                continue
            for source in rule.get("from", []):
                namespace = source.get("namespaceSelector")
                if peer is None:
                    if namespace and _selects(
                        namespace, {"kubernetes.io/metadata.name": "ingress-nginx"}
                    ):
                        return True
                elif namespace is None and _selects(source["podSelector"], peer):
                    return True
    return False


def test_network_policies_fence_the_parts() -> None:
    docs = render(TARGETS["production"])
    policies = [d for d in docs if d["kind"] == "NetworkPolicy"]
    deny = by_kind(docs, "NetworkPolicy")["default-deny"]["spec"]
    assert deny == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    labels = {
        name: d["spec"]["template"]["metadata"]["labels"]
        for name, d in by_kind(docs, "Deployment").items()
    }
    ports = {"gateway": 8000, "registry": 8001, "orders": 8002, "accreditation": 8003}
    ports["events"] = 8004
    # The ingress controller reaches the gateway, and nothing else.
    assert _allowed_ingress(policies, labels["gateway"], None, 8000)
    for service in ("registry", "orders", "accreditation", "events"):
        port = ports[service]
        assert not _allowed_ingress(policies, labels[service], None, port), service
        # Services only from the gateway: not from each other, not from Redis.
        assert _allowed_ingress(policies, labels[service], labels["gateway"], port)
        for other in ("registry", "orders", "accreditation", "events", "redis"):
            if other != service:
                assert not _allowed_ingress(policies, labels[service], labels[other], port)
        # ...and the services may fetch the gateway's JWKS.
        assert _allowed_ingress(policies, labels["gateway"], labels[service], 8000)
    assert _allowed_ingress(policies, labels["redis"], labels["gateway"], 6379)
    assert not _allowed_ingress(policies, labels["redis"], labels["orders"], 6379)
    # Everyone reaches PostgreSQL and Kafka.
    data = by_kind(docs, "NetworkPolicy")["allow-postgres-kafka-otlp"]["spec"]
    egress_ports = {p["port"] for rule in data["egress"] for p in rule["ports"]}
    assert {5432, 9092} <= egress_ports
    for part in PARTS:
        assert _selects(data["podSelector"], labels[part])
    for job in by_kind(render(TARGETS["migrations"]), "Job").values():
        assert _selects(data["podSelector"], job["spec"]["template"]["metadata"]["labels"])


def test_production_reaches_kafka_over_sasl_ssl() -> None:
    docs = render(TARGETS["production"])
    config = by_kind(docs, "ConfigMap")["innopark-config"]["data"]
    assert config["KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL"
    assert config["KAFKA_SASL_MECHANISM"].startswith("SCRAM-")
    ca = config["KAFKA_SSL_CAFILE"]
    for part in PARTS:
        deployment = by_kind(docs, "Deployment")[part]
        [container] = deployment["spec"]["template"]["spec"]["containers"]
        refs = {e["secretRef"]["name"] for e in container["envFrom"] if "secretRef" in e}
        assert refs == {f"innopark-{part}", "innopark-kafka"}
        mounts = {m["mountPath"] for m in container["volumeMounts"]}
        assert str(Path(ca).parent) in mounts
    # The settings those names feed exist (a typo would be ignored by pydantic-settings).
    from innopark_shared.settings import ServiceSettings

    fields = {name.upper() for name in ServiceSettings.model_fields}
    assert {k for k in config if k.startswith("KAFKA_")} <= fields
    secrets = {
        d["metadata"]["name"]: d
        for d in yaml.safe_load_all((DEPLOY / "k8s" / "secrets.example.yaml").read_text())
    }
    assert (
        {"KAFKA_SASL_USERNAME", "KAFKA_SASL_PASSWORD"}
        <= set(secrets["innopark-kafka"]["stringData"])
        <= fields
    )
    assert "ca.crt" in secrets["innopark-kafka-ca"]["stringData"]


def test_dev_runs_one_of_each_and_drains() -> None:
    docs = render(TARGETS["dev"])
    for name, deployment in by_kind(docs, "Deployment").items():
        assert deployment["spec"]["replicas"] == 1, name
    for budget in by_kind(docs, "PodDisruptionBudget").values():
        assert budget["spec"] == {**budget["spec"], "maxUnavailable": 1}
        assert "minAvailable" not in budget["spec"]
    assert by_kind(docs, "ConfigMap")["innopark-config"]["data"]["KAFKA_REPLICATION_FACTOR"] == "1"


def test_images_carry_the_project_version_everywhere() -> None:
    import tomllib

    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    for target, folder in TARGETS.items():
        for doc in render(folder):
            for container in containers(doc):
                image = container["image"]
                if "/innopark" in image or image.startswith("innopark/"):
                    assert image.endswith(f":{version}"), (target, image)
                else:
                    assert ":" in image and not image.endswith(":latest"), (target, image)


def test_every_part_is_scraped() -> None:
    docs = render(TARGETS["base"])
    for part in PARTS:
        template = by_kind(docs, "Deployment")[part]["spec"]["template"]
        notes = template["metadata"]["annotations"]
        assert notes["prometheus.io/scrape"] == "true"
        assert notes["prometheus.io/path"] == "/metrics"
        [container] = template["spec"]["containers"]
        declared = {p["containerPort"] for p in container["ports"]}
        assert int(notes["prometheus.io/port"]) in declared
        if part == "gateway":
            env = {e["name"]: e.get("value") for e in container["env"]}
            assert env["METRICS_PORT"] == notes["prometheus.io/port"] == "9100"
            assert env["RATE_LIMIT_REDIS_URL"].startswith("redis://")


def test_the_validation_is_strict() -> None:
    """A misspelt field fails validation, so the checks above can fail too."""
    deployment = copy.deepcopy(by_kind(render(TARGETS["base"]), "Deployment")["gateway"])
    deployment["spec"]["replica"] = 2
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSION, strict=True)
