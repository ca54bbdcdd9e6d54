"""The deployment files agree with the code, without Docker or a cluster.

docker-compose.yml, the service Dockerfiles and deploy/k8s must run, for every service and
the gateway, the same `python -m innopark_<part> migrate|serve` commands the dev runner and
the tests run, with the probes DESIGN.md §7 asks for. When Debian's docker-compose is on
PATH, the compose file is also validated by it.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from innopark_shared.devrun.runner import SERVICES, RunnerConfig

ROOT = Path(__file__).resolve().parents[1]
K8S = ROOT / "deploy" / "k8s"
# Every folder under services/ is a service; the dev runner must know it too.
SERVICE_DIRS = sorted(p.parent.name for p in (ROOT / "services").glob("*/pyproject.toml"))
PARTS = [*SERVICE_DIRS, "gateway"]
REQUIRED_ENV = {
    "BOOTSTRAP_ADMIN_EMAIL": "ops@example.org",
    "BOOTSTRAP_ADMIN_PASSWORD": "not-a-real-password",
}


def port_of(part: str) -> int:
    return RunnerConfig().port_of(part)


def test_the_dev_runner_and_the_repository_agree_on_the_services() -> None:
    assert SERVICE_DIRS == sorted(SERVICES)


# --- docker-compose.yml --------------------------------------------------------------


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def command_of(service: dict[str, Any]) -> list[str]:
    def as_list(value: Any) -> list[str]:
        if value is None:
            return []
        return shlex.split(value) if isinstance(value, str) else [str(v) for v in value]

    return as_list(service.get("entrypoint")) + as_list(service.get("command"))


def test_compose_runs_postgres_and_kafka_with_health_checks(compose) -> None:
    services = compose["services"]
    postgres, kafka = services["postgres"], services["kafka"]
    assert postgres["image"].startswith("postgres:17")
    assert "pg_isready" in " ".join(postgres["healthcheck"]["test"])
    assert any(
        "deploy/postgres/init.sql" in v and "docker-entrypoint-initdb.d" in v
        for v in postgres["volumes"]
    )
    assert kafka["image"] == "apache/kafka:3.9.0"
    assert kafka["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"  # KRaft
    assert kafka["healthcheck"]["test"]
    named = set(compose["volumes"])
    for service in (postgres, kafka):
        assert any(v.split(":", 1)[0] in named for v in service["volumes"])


@pytest.mark.parametrize("part", PARTS)
def test_compose_migrates_then_serves_each_part(compose, part: str) -> None:
    services = compose["services"]
    assert f"migrate-{part}" in services, f"no migration container for {part}"
    assert part in services, f"no container for {part}"
    migrate, serve = services[f"migrate-{part}"], services[part]

    assert command_of(migrate) == ["python", "-m", f"innopark_{part}", "migrate"]
    assert command_of(serve) == ["python", "-m", f"innopark_{part}", "serve"]
    assert migrate["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert migrate.get("restart", "no") == "no"
    assert serve["depends_on"][f"migrate-{part}"]["condition"] == "service_completed_successfully"
    assert serve["depends_on"]["kafka"]["condition"] == "service_healthy"
    assert serve["restart"] == "unless-stopped"
    assert "/readyz" in " ".join(serve["healthcheck"]["test"])

    dockerfile = "gateway/Dockerfile" if part == "gateway" else f"services/{part}/Dockerfile"
    for service in (migrate, serve):
        assert service["build"]["dockerfile"] == dockerfile
        assert service["build"].get("context", ".") == "."
        env = service["environment"]
        # Its own role, in the shared database; never another part's.
        assert re.match(
            rf"postgresql\+asyncpg://innopark_{part}:[^@]+@postgres:5432/innopark$",
            env["DATABASE_URL"],
        ), env["DATABASE_URL"]
        assert env["KAFKA_BOOTSTRAP_SERVERS"] == "kafka:9092"
        assert env["KAFKA_ENABLE_IDEMPOTENCE"] == "true"
        assert env["JWKS_URL"] == "http://gateway:8000/.well-known/jwks.json"
    assert migrate["image"] == serve["image"]
    assert int(serve["environment"].get("PORT", port_of(part))) == port_of(part)


def test_compose_gateway_is_published_and_knows_its_upstreams(compose) -> None:
    gateway = compose["services"]["gateway"]
    assert any(str(p).endswith(":8000") for p in gateway["ports"])
    env = gateway["environment"]
    for name in SERVICE_DIRS:
        assert env[f"{name.upper()}_URL"] == f"http://{name}:{port_of(name)}"
    assert env["JWT_PRIVATE_KEY_PATH"]
    named = set(compose["volumes"])
    assert any(v.split(":", 1)[0] in named for v in gateway["volumes"])
    text = (ROOT / "docker-compose.yml").read_text()
    for name in REQUIRED_ENV:
        assert "${" + name + ":?" in text, f"{name} must be required"
    # Only the gateway is reachable from outside.
    published = [name for name, s in compose["services"].items() if s.get("ports")]
    assert published == ["gateway"]


def test_compose_images_carry_the_project_version(compose) -> None:
    import tomllib

    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    for name, service in compose["services"].items():
        image = service["image"]
        if image.startswith("innopark/"):
            assert image.endswith(f":${{INNOPARK_TAG:-{version}}}"), (name, image)
        else:  # third-party images pinned to a full release (PostgreSQL's is major.minor)
            assert re.search(r":\d+\.\d+(\.\d+)?-|:\d+\.\d+\.\d+$", image), (name, image)


def test_compose_gateway_shares_limits_in_redis_and_keeps_metrics_internal(compose) -> None:
    gateway = compose["services"]["gateway"]
    assert gateway["environment"]["RATE_LIMIT_REDIS_URL"] == "redis://redis:6379/0"
    assert gateway["depends_on"]["redis"]["condition"] == "service_healthy"
    metrics = gateway["environment"]["METRICS_PORT"]
    assert not any(str(p).endswith(f":{metrics}") for p in gateway["ports"])
    assert compose["services"]["redis"]["healthcheck"]["test"]


def test_make_compose_config_passes_from_a_fresh_clone() -> None:
    """`make compose-config` (Debian's docker-compose) with no variables set."""
    if shutil.which("docker-compose") is None:
        pytest.skip("docker-compose is not installed (.ci/run installs it as root)")
    env = {k: v for k, v in os.environ.items() if k not in REQUIRED_ENV}
    ok = subprocess.run(
        ["make", "-s", "compose-config"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert ok.returncode == 0, ok.stderr


def test_docker_compose_validates_the_file() -> None:
    """`docker-compose config -q`, when Debian's docker-compose is installed."""
    if shutil.which("docker-compose") is None:
        # Nothing to run; the structural tests above still hold the file to account.
        assert (ROOT / "docker-compose.yml").is_file()
        return
    env = {k: v for k, v in os.environ.items() if k not in REQUIRED_ENV}
    ok = subprocess.run(
        ["docker-compose", "-f", str(ROOT / "docker-compose.yml"), "config", "-q"],
        env={**env, **REQUIRED_ENV},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert ok.returncode == 0, ok.stderr
    missing = subprocess.run(
        ["docker-compose", "-f", str(ROOT / "docker-compose.yml"), "config", "-q"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert missing.returncode != 0, "compose must refuse to start without the admin account"


# --- Dockerfiles ---------------------------------------------------------------------


def instructions(dockerfile: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    logical: list[str] = []
    pending = ""
    for raw in dockerfile.read_text().splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        logical.append(pending + line)
        pending = ""
    out = []
    for line in logical:
        word, _, rest = line.partition(" ")
        out.append((word.upper(), rest.strip()))
    return out


def exec_form(argument: str) -> list[str]:
    argument = argument.strip()
    return json.loads(argument) if argument.startswith("[") else ["/bin/sh", "-c", argument]


def image_command(dockerfile: Path) -> list[str]:
    found = dict(instructions(dockerfile))  # the last of each instruction wins, as in Docker
    entrypoint = exec_form(found["ENTRYPOINT"]) if "ENTRYPOINT" in found else []
    cmd = exec_form(found["CMD"]) if "CMD" in found else []
    return entrypoint + cmd


@pytest.mark.parametrize("service", SERVICE_DIRS)
def test_service_image_runs_the_service(service: str) -> None:
    dockerfile = ROOT / "services" / service / "Dockerfile"
    assert dockerfile.is_file(), f"{dockerfile} is missing"
    assert image_command(dockerfile) == ["python", "-m", f"innopark_{service}", "serve"]
    steps = instructions(dockerfile)
    found = dict(steps)
    assert_reproducible(dockerfile, f"innopark-{service}")
    assert found["EXPOSE"].split()[0] == str(port_of(service))
    assert found["USER"].split(":")[0] not in ("root", "0")
    assert "/livez" in found["HEALTHCHECK"]
    copies = [args for word, args in steps if word == "COPY"]
    assert any(c.startswith("shared/") for c in copies)
    assert any(c.startswith(f"services/{service}/") for c in copies)
    env = found["ENV"]
    assert "HOST=0.0.0.0" in env and f"PORT={port_of(service)}" in env


def assert_reproducible(dockerfile: Path, dist: str) -> None:
    """Multi-stage, on a base pinned to a full Python version, installing exactly uv.lock."""
    steps = instructions(dockerfile)
    args = dict(a.split("=", 1) for word, a in steps if word == "ARG" and "=" in a)
    bases = [a.split()[0] for word, a in steps if word == "FROM"]
    assert len(bases) >= 2, "a build stage and a runtime stage"
    resolved = [args.get(b.strip("${}"), b) if b.startswith("${") else b for b in bases]
    pythons = [b for b in resolved if b.startswith("python:")]
    assert pythons and all(re.fullmatch(r"python:3\.11\.\d+-slim-bookworm", b) for b in pythons)
    assert all(not b.endswith(":latest") and ":" in b for b in resolved), resolved
    runs = " ".join(a for word, a in steps if word == "RUN")
    assert "pip install" not in runs
    assert f"uv sync --frozen --no-dev --no-editable --package {dist}" in runs
    copies = [a for word, a in steps if word == "COPY"]
    assert any("uv.lock" in c.split() for c in copies)
    assert any(c.startswith("--from=build /opt/venv") for c in copies)


def test_events_image_has_the_letter_fonts() -> None:
    """The Debian packages the platform needs (deploy/system-packages.txt, where the
    letters' fonts are listed) are installed in the events image, pinned."""
    runs = " ".join(a for w, a in instructions(ROOT / "services/events/Dockerfile") if w == "RUN")
    listed = ROOT / "deploy" / "system-packages.txt"
    wanted = [  # the fonts; the list also has the README tour's curl and jq
        line.strip()
        for line in listed.read_text().splitlines()
        if line.strip().startswith("fonts-")
    ]
    assert wanted, "deploy/system-packages.txt lists the letters' fonts"
    for package in wanted:
        assert re.search(rf"\b{re.escape(package)}=\S+", runs), f"{package} not installed, pinned"


def test_gateway_image_runs_the_gateway() -> None:
    # gateway/Dockerfile is the gateway's own (it may migrate before serving when run as is);
    # compose and k8s set the entrypoint themselves, so it only has to be able to serve.
    dockerfile = ROOT / "gateway" / "Dockerfile"
    assert dockerfile.is_file(), "docker-compose.yml builds the gateway from gateway/Dockerfile"
    assert "python -m innopark_gateway serve" in " ".join(image_command(dockerfile))
    assert_reproducible(dockerfile, "innopark-gateway")
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    assert compose["services"]["gateway"]["build"]["dockerfile"] == "gateway/Dockerfile"


def test_dockerignore_keeps_local_state_out_of_images() -> None:
    ignored = (ROOT / ".dockerignore").read_text().split()
    for entry in (".venv", ".tools", ".data", ".git"):
        assert entry in ignored


# --- Kubernetes ----------------------------------------------------------------------


def k8s_documents() -> list[tuple[Path, dict[str, Any]]]:
    docs = []
    for path in sorted(K8S.rglob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc is not None:
                docs.append((path, doc))
    return docs


def kustomizations() -> list[Path]:
    return sorted(K8S.rglob("kustomization.yaml"))


def test_k8s_manifests_parse_and_are_resources() -> None:
    docs = k8s_documents()
    assert docs
    for path, doc in docs:
        assert doc.get("apiVersion") and doc.get("kind"), path
        if doc["kind"] not in ("Kustomization", "Component"):
            assert doc["metadata"]["name"], path


def test_kustomizations_reference_every_manifest_but_the_secrets_template() -> None:
    referenced: set[Path] = set()
    for kustomization in kustomizations():
        spec = yaml.safe_load(kustomization.read_text())
        for entry in spec.get("resources", []) + spec.get("components", []):
            target = (kustomization.parent / entry).resolve()
            assert target.exists(), f"{kustomization}: {entry} does not exist"
            if target.is_dir():
                assert (target / "kustomization.yaml").is_file(), target
            else:
                referenced.add(target)
        for component in re.findall(r"^#\s+-\s+(\S+)", kustomization.read_text(), re.M):
            # Optional components listed in comments must exist too.
            assert (kustomization.parent / component / "kustomization.yaml").is_file()
    manifests = {p.resolve() for p in K8S.rglob("*.yaml") if p.name != "kustomization.yaml"}
    secrets = (K8S / "secrets.example.yaml").resolve()
    assert secrets not in referenced, "placeholders must never be applied by kustomize"
    assert manifests - referenced == {secrets}


def test_secrets_template_is_all_placeholders() -> None:
    docs = list(yaml.safe_load_all((K8S / "secrets.example.yaml").read_text()))
    names = {d["metadata"]["name"] for d in docs}
    assert {f"innopark-{part}" for part in PARTS} <= names
    for doc in docs:
        assert doc["kind"] == "Secret"
        for key, value in doc["stringData"].items():
            assert "CHANGE-ME" in value, f"{doc['metadata']['name']}.{key} looks real"


def of_kind(kind: str) -> dict[str, dict[str, Any]]:
    return {doc["metadata"]["name"]: doc for _, doc in k8s_documents() if doc["kind"] == kind}


def assert_hardened(pod: dict[str, Any], where: str) -> None:
    pod_security = pod.get("securityContext", {})
    assert pod_security.get("runAsNonRoot") is True, where
    assert pod_security.get("runAsUser", 1) != 0, where
    for container in pod["containers"]:
        security = container.get("securityContext", {})
        assert security.get("runAsNonRoot", True) is True, where
        assert security.get("allowPrivilegeEscalation") is False, where
        assert security.get("readOnlyRootFilesystem") is True, where
        assert security.get("capabilities", {}).get("drop") == ["ALL"], where
        resources = container.get("resources", {})
        assert resources.get("requests") and resources.get("limits"), where


def test_every_deployment_is_probed_and_hardened() -> None:
    deployments = of_kind("Deployment")
    assert set(PARTS) <= set(deployments)
    for name, deployment in deployments.items():
        pod = deployment["spec"]["template"]["spec"]
        assert_hardened(pod, f"Deployment {name}")
        for container in pod["containers"]:
            assert container["readinessProbe"] and container["livenessProbe"], name
    for name in PARTS:
        pod = deployments[name]["spec"]["template"]["spec"]
        for container in pod["containers"]:
            where = f"Deployment {name}, container {container['name']}"
            assert container["readinessProbe"]["httpGet"]["path"] == "/readyz", where
            assert container["livenessProbe"]["httpGet"]["path"] == "/livez", where
            assert container["startupProbe"]["httpGet"]["path"], where


@pytest.mark.parametrize("part", PARTS)
def test_k8s_serves_and_migrates_each_part(part: str) -> None:
    deployment = of_kind("Deployment")[part]
    assert deployment["spec"]["replicas"] >= 2
    [container] = deployment["spec"]["template"]["spec"]["containers"]
    assert container["command"] + container["args"] == [
        "python",
        "-m",
        f"innopark_{part}",
        "serve",
    ]
    assert container["ports"][0]["containerPort"] == port_of(part)

    service = of_kind("Service")[part]
    assert service["spec"]["ports"][0]["port"] == port_of(part)
    selector = service["spec"]["selector"]
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert selector.items() <= pod_labels.items()

    job = of_kind("Job")[f"migrate-{part}"]
    pod = job["spec"]["template"]["spec"]
    assert_hardened(pod, f"Job migrate-{part}")
    [migrate] = pod["containers"]
    assert migrate["command"] + migrate["args"] == ["python", "-m", f"innopark_{part}", "migrate"]
    assert migrate["image"] == container["image"]
    # The Service must not send traffic to the migration pod.
    assert not selector.items() <= job["spec"]["template"]["metadata"]["labels"].items()
    # Both read the part's own secret (its own database role).
    for c in (container, migrate):
        refs = {e["secretRef"]["name"] for e in c["envFrom"] if "secretRef" in e}
        assert refs == {f"innopark-{part}"}


def test_gateway_has_a_disruption_budget() -> None:
    budget = of_kind("PodDisruptionBudget")["gateway"]
    deployment = of_kind("Deployment")["gateway"]
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert budget["spec"]["selector"]["matchLabels"].items() <= labels.items()
