"""What the rendered Kubernetes overlays promise: secrets by key and only where needed, locked-down
pods with resources that fit argon2, and NetworkPolicies around every workload. The overlays are
rendered exactly as `scripts/k8s_validate.sh` renders them (`--render`)."""

from __future__ import annotations

import re
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from headstore.runtime import WORKERS
from headstore.secrets import SECRETS
from services.profiles.application import ProfilesConfig

ROOT = Path(__file__).resolve().parents[2]
OVERLAYS = sorted(p.name for p in (ROOT / "deploy/k8s/overlays").iterdir() if p.is_dir())
WORKLOADS = {"Deployment", "StatefulSet", "Job", "CronJob", "DaemonSet"}
SECRET = "headstore-secrets"

PROCESS_BASE_MIB = 256
"""A profiles process without any hash in progress (Python, nameko, eventsourcing, protobuf)."""


@cache
def rendered(overlay: str) -> tuple[dict[str, Any], ...]:
    done = subprocess.run(
        ["bash", "scripts/k8s_validate.sh", "--render", f"deploy/k8s/overlays/{overlay}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, f"rendering {overlay} failed:\n{done.stderr}"
    return tuple(doc for doc in yaml.safe_load_all(done.stdout) if doc)


def template_keys() -> set[str]:
    documents = yaml.safe_load_all((ROOT / "deploy/k8s/base/secret.example.yaml").read_text())
    return {
        key for doc in documents if doc["metadata"]["name"] == SECRET for key in doc["stringData"]
    }


def pod_spec(workload: dict[str, Any]) -> dict[str, Any]:
    spec = workload["spec"]
    if workload["kind"] == "CronJob":
        spec = spec["jobTemplate"]["spec"]
    return spec["template"]["spec"]


def pod_labels(workload: dict[str, Any]) -> dict[str, str]:
    spec = workload["spec"]
    if workload["kind"] == "CronJob":
        spec = spec["jobTemplate"]["spec"]
    return spec["template"]["metadata"]["labels"]


def workloads(overlay: str) -> list[dict[str, Any]]:
    return [doc for doc in rendered(overlay) if doc["kind"] in WORKLOADS]


def containers(workload: dict[str, Any]) -> list[dict[str, Any]]:
    spec = pod_spec(workload)
    return [*spec.get("initContainers", []), *spec["containers"]]


def is_the_secret(name: str) -> bool:
    """headstore-secrets, or the dev overlay's generated one (its name ends in a content hash)."""
    return name == SECRET or re.fullmatch(f"{SECRET}-[a-z0-9]{{10}}", name) is not None


def secret_refs(container: dict[str, Any]) -> dict[str, str]:
    """Environment variable -> key of headstore-secrets."""
    return {
        env["name"]: env["valueFrom"]["secretKeyRef"]["key"]
        for env in container.get("env", [])
        if is_the_secret(env.get("valueFrom", {}).get("secretKeyRef", {}).get("name", ""))
    }


def named(overlay: str, kind: str, name: str) -> dict[str, Any]:
    (found,) = [d for d in rendered(overlay) if d["kind"] == kind and d["metadata"]["name"] == name]
    return found


def mebibytes(quantity: str) -> float:
    match = re.fullmatch(r"([0-9.]+)([A-Za-z]*)", str(quantity))
    assert match is not None, quantity
    number, unit = match.groups()
    scale = {"": 1 / 2**20, "Ki": 1 / 1024, "Mi": 1, "Gi": 1024, "M": 1e6 / 2**20, "G": 1e9 / 2**20}
    return float(number) * scale[unit]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_no_container_loads_a_whole_secret(overlay: str) -> None:
    for workload in workloads(overlay):
        for container in containers(workload):
            for source in container.get("envFrom", []):
                assert "secretRef" not in source, (workload["metadata"]["name"], container["name"])
            for volume in pod_spec(workload).get("volumes", []):
                assert "secret" not in volume, (workload["metadata"]["name"], volume["name"])


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_secret_key_used_is_in_the_template(overlay: str) -> None:
    keys = template_keys()
    used = {
        key
        for workload in workloads(overlay)
        for container in containers(workload)
        for key in secret_refs(container).values()
    }
    assert used <= keys, f"not in base/secret.example.yaml: {sorted(used - keys)}"
    # And nothing in the template is dead weight.
    assert keys <= used, f"in the template but read by no container: {sorted(keys - used)}"


def test_the_dev_secret_has_every_key_of_the_template() -> None:
    (secret,) = [
        d for d in rendered("dev") if d["kind"] == "Secret" and is_the_secret(d["metadata"]["name"])
    ]
    assert set(secret["data"]) == template_keys()


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_gateway_holds_only_its_three_secrets(overlay: str) -> None:
    (gateway,) = pod_spec(named(overlay, "Deployment", "gateway"))["containers"]
    assert secret_refs(gateway) == {
        "JWT_SECRET": "JWT_SECRET",
        "GRPC_AUTH_TOKEN": "GRPC_AUTH_TOKEN",
        "AMQP_URI": "GATEWAY_AMQP_URI",
    }
    others = [e for e in gateway.get("env", []) if "secretKeyRef" in e.get("valueFrom", {})]
    assert len(others) == 3, others


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_each_process_is_given_exactly_the_registered_secrets_it_needs(overlay: str) -> None:
    """headstore/secrets.py says which process needs which secret (production refuses to start
    without them); each Deployment gets those and no other registered secret."""
    for process in sorted({name for secret in SECRETS for name in secret.needed_by}):
        workload = named(overlay, "Deployment", process)
        given = {
            key
            for container in pod_spec(workload)["containers"]
            for key in secret_refs(container).values()
        }
        registered = {secret.name for secret in SECRETS}
        needed = {secret.name for secret in SECRETS if process in secret.needed_by}
        assert given & registered == needed, (process, sorted(given & registered ^ needed))


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_each_process_kind_connects_to_rabbitmq_as_its_own_user(overlay: str) -> None:
    uris = {}
    for workload in workloads(overlay):
        for container in containers(workload):
            if "AMQP_URI" in secret_refs(container):
                uris[workload["metadata"]["name"]] = secret_refs(container)["AMQP_URI"]
    assert len(set(uris.values())) == len(uris), uris
    assert uris["gateway"] == "GATEWAY_AMQP_URI"
    assert uris["profiles-relay"] == "PROFILES_RELAY_AMQP_URI"
    config = named(overlay, "ConfigMap", "headstore-config")
    assert "AMQP_URI" not in config["data"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_services_require_the_grpc_token_and_the_gateway_presents_it(overlay: str) -> None:
    for name in ("gateway", "profiles", "notifications", "calls", "billing", "payouts"):
        (container,) = pod_spec(named(overlay, "Deployment", name))["containers"]
        assert secret_refs(container).get("GRPC_AUTH_TOKEN") == "GRPC_AUTH_TOKEN", name


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_container_is_locked_down_and_sized(overlay: str) -> None:
    for workload in workloads(overlay):
        pod = pod_spec(workload)
        assert pod["securityContext"]["runAsNonRoot"] is True, workload["metadata"]["name"]
        assert pod.get("automountServiceAccountToken") is False, workload["metadata"]["name"]
        for container in containers(workload):
            where = f"{workload['metadata']['name']}/{container['name']}"
            context = container["securityContext"]
            assert context.get("runAsNonRoot", True) is True, where
            assert context["readOnlyRootFilesystem"] is True, where
            assert context["allowPrivilegeEscalation"] is False, where
            assert context["capabilities"]["drop"] == ["ALL"], where
            assert "add" not in context["capabilities"], where
            assert not context.get("privileged"), where
            names = [env["name"] for env in container.get("env", [])]
            assert len(names) == len(set(names)), f"{where} sets a variable twice: {names}"
            resources = container["resources"]
            for kind in ("requests", "limits"):
                assert {"cpu", "memory"} <= set(resources.get(kind, {})), (where, kind)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_profiles_memory_limit_fits_argon2_in_every_worker(
    overlay: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    (profiles,) = pod_spec(named(overlay, "Deployment", "profiles"))["containers"]
    env = {e["name"]: e.get("value") for e in profiles.get("env", [])}
    monkeypatch.delenv("ARGON2_MEMORY_KIB", raising=False)
    if env.get("ARGON2_MEMORY_KIB"):
        monkeypatch.setenv("ARGON2_MEMORY_KIB", env["ARGON2_MEMORY_KIB"])
    per_hash_mib = ProfilesConfig.from_env().argon2["memory_cost"] / 1024
    needed = WORKERS * per_hash_mib + PROCESS_BASE_MIB
    limit = mebibytes(profiles["resources"]["limits"]["memory"])
    assert limit >= needed, (
        f"profiles' memory limit {limit:.0f} MiB < {WORKERS} workers x {per_hash_mib:.0f} MiB "
        f"+ {PROCESS_BASE_MIB} MiB"
    )


def selects(policy: dict[str, Any], labels: dict[str, str]) -> bool:
    selector = policy["spec"]["podSelector"]
    if any(labels.get(k) != v for k, v in selector.get("matchLabels", {}).items()):
        return False
    for expression in selector.get("matchExpressions", []):
        value = labels.get(expression["key"])
        if expression["operator"] == "In" and value not in expression["values"]:
            return False
        if expression["operator"] == "NotIn" and value in expression["values"]:
            return False
    return True


def is_everyone(policy: dict[str, Any]) -> bool:
    return policy["spec"]["podSelector"] in ({}, None)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_default_deny_and_a_policy_of_its_own_for_every_workload(overlay: str) -> None:
    policies = [d for d in rendered(overlay) if d["kind"] == "NetworkPolicy"]
    deny = named(overlay, "NetworkPolicy", "default-deny")
    assert deny["spec"]["podSelector"] == {}
    assert set(deny["spec"]["policyTypes"]) == {"Ingress", "Egress"}
    assert not deny["spec"].get("ingress") and not deny["spec"].get("egress")
    own = [p for p in policies if not is_everyone(p)]
    for workload in workloads(overlay):
        labels = pod_labels(workload)
        assert any(selects(p, labels) for p in own), (
            f"{workload['metadata']['name']} is selected by no NetworkPolicy of its own"
        )


def ingress_sources(overlay: str, app: str, port: int) -> list[dict[str, Any]]:
    """The `from` peers of every rule that lets traffic into `app` on `port`."""
    labels = {"app": app, "app.kubernetes.io/part-of": "headstore"}
    peers: list[dict[str, Any]] = []
    for policy in rendered(overlay):
        if policy["kind"] != "NetworkPolicy" or not selects(policy, labels):
            continue
        for rule in policy["spec"].get("ingress", []):
            ports = rule.get("ports") or [{"port": port}]
            if any(p["port"] == port or p["port"] <= port <= p.get("endPort", 0) for p in ports):
                peers.extend(rule.get("from") or [{"anyone": True}])
    return peers


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_only_janus_reaches_calls_janus_event_endpoint(overlay: str) -> None:
    peers = ingress_sources(overlay, "calls", 8071)
    assert peers
    for peer in peers:
        if "podSelector" in peer:
            assert peer["podSelector"]["matchLabels"]["app"] == "janus"
        else:  # prod: Janus on the node's network
            assert set(peer) == {"ipBlock"} and overlay == "prod"


@pytest.mark.parametrize("overlay", OVERLAYS)
@pytest.mark.parametrize(("app", "port"), [("postgresql", 5432), ("rabbitmq", 5672)])
def test_only_platform_processes_reach_the_databases(overlay: str, app: str, port: int) -> None:
    peers = ingress_sources(overlay, app, port)
    assert peers
    for peer in peers:
        (expression,) = peer["podSelector"]["matchExpressions"]
        assert "gateway" not in expression["values"] or app == "rabbitmq"
        assert "janus" not in expression["values"]
        assert "mailcatcher" not in expression["values"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_gateway_is_open_on_its_public_port_only(overlay: str) -> None:
    assert ingress_sources(overlay, "gateway", 8000) == [{"anyone": True}]
    assert all("namespaceSelector" in p for p in ingress_sources(overlay, "gateway", 9100))
    service = named(overlay, "Service", "gateway")
    assert [p["port"] for p in service["spec"]["ports"]] == [8000]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_gateway_replicas_share_one_rate_limit_store_only_they_reach(overlay: str) -> None:
    (gateway,) = pod_spec(named(overlay, "Deployment", "gateway"))["containers"]
    storage = {e["name"]: e.get("value") for e in gateway["env"]}["RATE_LIMIT_STORAGE_URI"]
    assert storage == "redis://redis:6379/0"
    assert named(overlay, "Service", "redis")["spec"]["ports"][0]["port"] == 6379
    peers = ingress_sources(overlay, "redis", 6379)
    assert peers and all(p["podSelector"]["matchLabels"]["app"] == "gateway" for p in peers)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_development_tools_run_only_from_the_devtools_image(overlay: str) -> None:
    """The production image has no devtools/ (the Dockerfile's default target drops it)."""
    for workload in workloads(overlay):
        for container in containers(workload):
            runs_devtools = container.get("command", [])[:3] == ["python", "-m", "devtools"]
            from_devtools_image = container["image"].split(":")[0].endswith("headstore-devtools")
            assert runs_devtools == from_devtools_image, (
                f"{overlay}: {workload['metadata']['name']}/{container['name']} runs "
                f"{container.get('command')} from {container['image']}"
            )
    if overlay == "prod":
        assert not any(
            container["image"].split(":")[0].endswith("headstore-devtools")
            for workload in workloads(overlay)
            for container in containers(workload)
        )


def test_the_default_image_target_leaves_development_tools_out() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    stages = re.findall(r"(?m)^FROM \S+ AS (\w+)$", dockerfile)
    assert stages[-1] == "production", "a plain `docker build .` must give the production image"
    bodies = dict(zip(stages, re.split(r"(?m)^FROM .*$", dockerfile)[1:], strict=True))
    assert "rm -rf /src/devtools" in bodies["source"]
    # The platform (which production is) takes its files only from the cleaned source.
    assert "COPY --from=source /src /app" in bodies["platform"]
    assert not re.search(r"(?m)^COPY (?!--from=source)", bodies["platform"] + bodies["production"])
