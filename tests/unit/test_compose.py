"""docker-compose.yml cannot run here (no Docker engine): check what it must pin, bind and mount."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import data_layer

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def service() -> dict:
    doc = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    assert set(doc["services"]) == {"localstack"}
    return doc["services"]["localstack"]


def _env(service: dict) -> dict[str, str | None]:
    env = service["environment"]
    if isinstance(env, dict):
        return {k: (None if v is None else str(v)) for k, v in env.items()}
    out: dict[str, str | None] = {}
    for item in env:
        key, sep, value = item.partition("=")
        out[key] = value if sep else None
    return out


def _default(value: str | None) -> str | None:
    """The default of a ``${VAR:-default}`` value (or the literal)."""
    if value is None:
        return None
    m = re.fullmatch(r"\$\{[A-Z_]+:-(.*)\}", value)
    return m.group(1) if m else value


def test_image_is_pinned_to_the_same_release_as_pypi(service: dict) -> None:
    image = service["image"]
    assert image == "localstack/localstack:4.14.0"
    lock = (ROOT / "requirements" / "localstack.txt").read_text()
    assert "localstack-core==4.14.0" in lock


def test_ports_bind_loopback_only(service: dict) -> None:
    ports = service["ports"]
    assert ports, "no ports published"
    for port in ports:
        assert str(port).startswith("127.0.0.1:"), f"{port} is reachable from the network"
    published = {str(p).split(":", 1)[1] for p in ports}
    assert "${LOCALSTACK_PORT:-4566}:4566" in published
    assert "4510-4559:4510-4559" in published


def test_mounts_docker_socket_init_script_and_state(service: dict) -> None:
    volumes = service["volumes"]
    assert "/var/run/docker.sock:/var/run/docker.sock" in volumes
    init = [v for v in volumes if v.startswith("./init-aws.sh:")]
    assert init and init[0].split(":")[1] == "/etc/localstack/init/ready.d/init-aws.sh"
    assert (ROOT / "init-aws.sh").exists()
    state = [v for v in volumes if v.split(":")[1] == "/var/lib/localstack"]
    assert state, "no state volume"


def test_sets_the_knobs_users_need(service: dict) -> None:
    env = _env(service)
    for knob in ("DEBUG", "PERSISTENCE", "LAMBDA_KEEPALIVE_MS",
                 "LAMBDA_EVENT_SOURCE_MAPPING_MAX_BACKOFF_ON_EMPTY_POLL_SEC"):
        assert knob in env, f"{knob} missing"
    assert _default(env["LAMBDA_EVENT_SOURCE_MAPPING_MAX_BACKOFF_ON_EMPTY_POLL_SEC"]) == "1"
    assert env["LAMBDA_RUNTIME_EXECUTOR"] == "docker"
    assert env["DOCKER_HOST"] == "unix:///var/run/docker.sock"
    # the no-auth image must not be told to need a token
    assert "LOCALSTACK_AUTH_TOKEN" not in env


def test_mounts_what_init_aws_runs(service: dict) -> None:
    # init-aws.sh runs /opt/app/scripts/data_layer.py with the spec when it is not in a checkout
    init = (ROOT / "init-aws.sh").read_text()
    assert "root=/opt/app" in init and "scripts/data_layer.py" in init
    mounts = {v.split(":")[1]: v.split(":")[0] for v in service["volumes"]}
    assert mounts["/opt/app/scripts"] == "./scripts"
    assert (ROOT / "scripts" / "data_layer.py").exists()
    spec = "functions/common/data_layer.json"
    assert mounts[f"/opt/app/{spec}"] == f"./{spec}"
    assert (ROOT / spec).exists()
    app_mounts = [v for v in service["volumes"] if v.split(":")[1].startswith("/opt/app/")]
    assert all(v.endswith(":ro") for v in app_mounts), app_mounts


def test_passes_init_resource_names_through(service: dict) -> None:
    env = _env(service)
    names = data_layer.names(data_layer.load_spec(), environ={})
    assert {"USERS_TABLE", "ORDERS_QUEUE", "EVENTS_STREAM"} <= set(names)
    for name in names:
        assert name in env, f"init-aws.sh reads {name} but the container does not get it"


def test_init_aws_imports_work_from_the_mounts_alone(service: dict, tmp_path: Path) -> None:
    # the container has only what is mounted under /opt/app: lay that out and import from it
    app = tmp_path / "opt" / "app"
    for volume in service["volumes"]:
        source, target = volume.split(":")[:2]
        if not (source.startswith("./") and target.startswith("/opt/app/")):
            continue
        destination = app / target.removeprefix("/opt/app/")
        destination.parent.mkdir(parents=True, exist_ok=True)
        if (ROOT / source).is_dir():
            shutil.copytree(ROOT / source, destination)
        else:
            shutil.copy(ROOT / source, destination)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    code = "import data_layer, endpoint; data_layer.load_spec(); print(endpoint.endpoint_url())"
    result = subprocess.run([sys.executable, "-c", code], cwd=app / "scripts", env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
