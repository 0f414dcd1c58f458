"""Docker mode of scripts/hostmode.py (launcher/docker_backend.py), with a fake `docker` CLI
(this machine has no engine).

The fake answers `docker info` and runs `docker compose up -d` as a tiny local HTTP server that
speaks LocalStack's /_localstack/health and /_localstack/init endpoints; `docker compose down`
stops it. Only loopback sockets are used.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from localstack_hostmode import contract

ROOT = Path(__file__).resolve().parents[3]
HOSTMODE = ROOT / "scripts" / "hostmode.py"

FAKE_LOCALSTACK = textwrap.dedent('''
    import json, sys
    from http.server import BaseHTTPRequestHandler, HTTPServer

    INIT_STATE = sys.argv[2]

    class H(BaseHTTPRequestHandler):
        def do_GET(self):
            if self.path == "/_localstack/health":
                body = {"version": "4.14.0", "services": {"s3": "running", "sqs": "available"}}
            elif self.path == "/_localstack/init/ready":
                body = {"completed": True, "scripts": [
                    {"stage": "READY", "name": "init-aws.sh", "state": INIT_STATE}]}
            else:
                self.send_response(404); self.end_headers(); return
            data = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(data)
        def log_message(self, *a): pass

    HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
''')

FAKE_DOCKER = textwrap.dedent('''\
    #!/usr/bin/env bash
    echo "$*" >> "$FAKE_DIR/calls"
    case "$1" in
      info) exit 0 ;;
      compose)
        shift
        [[ "$1" == version ]] && exit 0
        [[ "$1" == -f ]] && shift 2
        case "$1" in
          up) setsid "$FAKE_PYTHON" "$FAKE_DIR/fake_localstack.py" "$LOCALSTACK_PORT" \\
                "${FAKE_INIT_STATE:-SUCCESSFUL}" >/dev/null 2>&1 < /dev/null &
              echo $! > "$FAKE_DIR/pid"; exit 0 ;;
          down) kill "$(cat "$FAKE_DIR/pid")"; exit 0 ;;
          logs) echo "fake container log: init-aws.sh said hello"; exit 0 ;;
        esac ;;
    esac
    exit 1
''')


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def fake_docker(tmp_path: Path) -> Iterator[dict[str, str]]:
    (tmp_path / "fake_localstack.py").write_text(FAKE_LOCALSTACK)
    docker = tmp_path / "docker"
    docker.write_text(FAKE_DOCKER)
    docker.chmod(0o755)
    port = free_port()
    env = dict(os.environ, PATH=f"{tmp_path}{os.pathsep}{os.environ['PATH']}",
               FAKE_DIR=str(tmp_path), FAKE_PYTHON=sys.executable, LOCALSTACK_MODE="auto",
               LOCALSTACK_PORT=str(port))
    yield env
    pid_file = tmp_path / "pid"
    if pid_file.exists():
        subprocess.run(["kill", pid_file.read_text().strip()], capture_output=True)
    shutil.rmtree(contract.run_dir_for(port), ignore_errors=True)


def hostmode(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(HOSTMODE), *args], env=env, capture_output=True,
                          text=True, timeout=120)


def test_docker_mode_up_status_down(fake_docker: dict[str, str], tmp_path: Path) -> None:
    # WHEN a Docker engine answers THEN `up` uses docker compose and waits for health and init
    up = hostmode(fake_docker, "up")
    assert up.returncode == 0, up.stderr
    assert "Docker" in up.stderr and "mode=docker" in up.stderr
    calls = (tmp_path / "calls").read_text().splitlines()
    assert "info" in calls
    assert any(c.startswith("compose -f") and c.endswith("up -d") for c in calls)
    assert str(ROOT / "docker-compose.yml") in next(c for c in calls if c.endswith("up -d"))
    pid_file = contract.run_dir_for(int(fake_docker["LOCALSTACK_PORT"])) / "localstack.pid"
    assert json.loads(pid_file.read_text())["mode"] == "docker"
    # a second `up` is a no-op
    again = hostmode(fake_docker, "up")
    assert again.returncode == 0 and "already running" in again.stderr
    assert sum(c.endswith("up -d") for c in (tmp_path / "calls").read_text().splitlines()) == 1
    # status reports the mode and the services
    status = hostmode(fake_docker, "status")
    assert status.returncode == 0
    assert "mode=docker" in status.stdout and "running (1): s3" in status.stdout
    # `down` is docker compose down
    down = hostmode(fake_docker, "down")
    assert down.returncode == 0, down.stderr
    assert (tmp_path / "calls").read_text().splitlines()[-1].endswith("down")
    assert not pid_file.exists()


def test_docker_mode_reports_a_failed_init_with_the_container_log(
        fake_docker: dict[str, str]) -> None:
    fake_docker["FAKE_INIT_STATE"] = "ERROR"
    up = hostmode(fake_docker, "up")
    assert up.returncode == 1
    assert "init script failed: init-aws.sh" in up.stderr
    assert "init-aws.sh said hello" in up.stderr
    assert hostmode(fake_docker, "down").returncode == 0


def test_forced_docker_mode_without_an_engine_fails_clearly(fake_docker: dict[str, str],
                                                            tmp_path: Path) -> None:
    # GIVEN a docker CLI whose engine does not answer
    docker = tmp_path / "docker"
    docker.write_text("#!/usr/bin/env bash\necho \"$*\" >> \"$FAKE_DIR/calls\"\nexit 1\n")
    fake_docker["LOCALSTACK_MODE"] = "docker"
    up = hostmode(fake_docker, "up")
    assert up.returncode == 1
    assert "LOCALSTACK_MODE=docker but no Docker engine" in up.stderr
    # WHEN auto THEN host mode would be chosen (checked in test_cli.py without starting it)
