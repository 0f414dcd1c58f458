"""`make up` / `make down` in host mode, on a port of their own (not the session's LocalStack).

Each test starts and stops its own LocalStack on TEST_PORT; they check what `down` must
guarantee: no LocalStack, no DynamoDB backend, no Lambda worker and no listening port left
behind, also after a stale pid file, a SIGKILLed or a hung LocalStack; and that everything host
mode starts listens on 127.0.0.1 only. init-aws.sh is the session's business (test_init_aws.py):
here `up` runs a two-table init script (HOSTMODE_INIT_SCRIPT), except where init-aws.sh failing
is the point, which keeps a start at about 2 s instead of 10-15 s.
"""

from __future__ import annotations

import io
import ipaddress
import json
import os
import signal
import socket
import subprocess
import threading
import time
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import boto3
import pytest

from localstack_hostmode import contract

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]


def _test_port() -> int:
    """4590 next to the default 4566; sessions on another port get their own (port + 1000)."""
    if os.environ.get("HOSTMODE_TEST_PORT"):
        return int(os.environ["HOSTMODE_TEST_PORT"])
    session = urlparse(os.environ.get("AWS_ENDPOINT_URL") or "http://127.0.0.1:4566").port
    return 4590 if session in (None, 4566) else session + 1000


TEST_PORT = _test_port()
RUN_DIR = contract.run_dir_for(TEST_PORT)
PID_FILE = RUN_DIR / "localstack.pid"
URL = f"http://127.0.0.1:{TEST_PORT}"


# what `up` runs instead of init-aws.sh here: the tables the scenarios look for
LIGHT_INIT = """#!/usr/bin/env bash
set -euo pipefail
pids=()
for table in users orders; do
    awslocal dynamodb create-table --table-name "$table" --billing-mode PAY_PER_REQUEST \\
        --attribute-definitions AttributeName=id,AttributeType=S \\
        --key-schema AttributeName=id,KeyType=HASH >/dev/null &
    pids+=("$!")
done
for pid in "${pids[@]}"; do wait "$pid"; done
echo "light init done"
"""


@pytest.fixture(scope="module")
def light_init(tmp_path_factory: pytest.TempPathFactory) -> Path:
    script = tmp_path_factory.mktemp("hostmode-init") / "light-init.sh"
    script.write_text(LIGHT_INIT)
    script.chmod(0o755)
    return script


def make(target: str, timeout: float = 600,
         **env_overrides: str) -> subprocess.CompletedProcess[str]:
    settings = {"LOCALSTACK_PORT": str(TEST_PORT), "AWS_ENDPOINT_URL": URL,
                "LOCALSTACK_MODE": "host"}
    env = dict(os.environ, **settings, **env_overrides)
    # under `make test LOCALSTACK_PORT=...` the caller's command-line variables reach this make
    # through MAKEFLAGS and would beat the environment: this must never touch another port
    for key in ("MAKEFLAGS", "MFLAGS", "MAKEOVERRIDES", "MAKELEVEL"):
        env.pop(key, None)
    args = [f"{key}={value}" for key, value in settings.items()]
    return subprocess.run(["make", "--no-print-directory", "-C", str(ROOT), target, *args],
                          env=env, capture_output=True, text=True, timeout=timeout)


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def marked_processes() -> list[int]:
    """Processes carrying this instance's marker, or a LocalStack bound to TEST_PORT."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as f:
                env = f.read().split(b"\0")
        except OSError:
            continue
        if (contract.run_dir_marker(RUN_DIR) in env
                or f"GATEWAY_LISTEN=127.0.0.1:{TEST_PORT}".encode() in env) and alive(int(entry)):
            found.append(int(entry))
    return found


def listening(port: int) -> bool:
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(name) as f:
            for line in f.readlines()[1:]:
                fields = line.split()
                if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                    return True
    return False


def our_pids() -> set[int]:
    """This instance's processes: marked ones and every descendant of LocalStack."""
    found = set(marked_processes())
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    todo = list(found)
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found and alive(child):
                found.add(child)
                todo.append(child)
    return found


def _decode_address(hex_addr: str) -> str:
    raw = bytes.fromhex(hex_addr)
    if len(raw) == 4:
        return socket.inet_ntop(socket.AF_INET, raw[::-1])
    # /proc/net/tcp6: four 32-bit words, each in host (little-endian) order
    return socket.inet_ntop(socket.AF_INET6, b"".join(raw[i:i + 4][::-1] for i in range(0, 16, 4)))


def listening_sockets(pids: set[int]) -> list[tuple[int, str, int]]:
    """(pid, address, port) of every listening TCP socket the given processes hold."""
    listeners: dict[int, tuple[str, int]] = {}
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(name) as f:
            for line in f.readlines()[1:]:
                fields = line.split()
                if fields[3] == "0A":
                    addr, port = fields[1].rsplit(":", 1)
                    listeners[int(fields[9])] = (_decode_address(addr), int(port, 16))
    found = []
    for pid in sorted(pids):
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                link = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if link.startswith("socket:["):
                inode = int(link[8:-1])
                if inode in listeners:
                    found.append((pid, *listeners[inode]))
    return found


def is_loopback(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    mapped = getattr(ip, "ipv4_mapped", None)
    return ip.is_loopback or bool(mapped and mapped.is_loopback)


def cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def leader_pid() -> int:
    return int(json.loads(PID_FILE.read_text())["pid"])


def backend_pid_and_port() -> tuple[int, int]:
    data = json.loads((RUN_DIR / contract.DYNAMODB_BACKEND_STATE).read_text())
    return int(data["pid"]), int(data["port"])


def client(service: str) -> Any:
    return boto3.client(service, endpoint_url=URL, region_name="us-east-1",
                        aws_access_key_id="test", aws_secret_access_key="test")


def assert_nothing_left(extra_pids: list[int], ports: list[int]) -> None:
    assert marked_processes() == [], "processes of the stopped instance are still running"
    assert [p for p in extra_pids if alive(p)] == []
    assert [p for p in [TEST_PORT, *ports] if listening(p)] == []
    assert not PID_FILE.exists()


@pytest.fixture
def instance(wait_until: Callable[..., Any]) -> Iterator[None]:
    """Makes sure TEST_PORT is free before and after the test."""
    make("down")
    assert not listening(TEST_PORT), f"port {TEST_PORT} is busy; set HOSTMODE_TEST_PORT"
    yield
    result = make("down")
    assert result.returncode == 0, result.stderr


# {"busy": true}: keeps calling back into LocalStack until its timeout, like a handler that is
# mid-way through its work when `make down` comes
WORKER_CODE = """import os, boto3
def handler(event, context):
    if event.get("busy"):
        ddb = boto3.client("dynamodb")
        ddb.put_item(TableName="users", Item={"id": {"S": "busy-started"}})
        while context.get_remaining_time_in_millis() > 1000:
            ddb.list_tables()
    return {"pid": os.getpid()}
"""


def start_busy_invocation(wait_until: Callable[..., Any]) -> threading.Thread:
    """Invoke the worker function busy, in the background; returns once its handler runs."""
    def invoke() -> None:
        try:
            client("lambda").invoke(FunctionName="hostmode-pid", Payload=b'{"busy": true}')
        except Exception:  # the connection ends with LocalStack; what matters is `down`
            pass

    thread = threading.Thread(target=invoke, daemon=True)
    thread.start()
    ddb = client("dynamodb")
    wait_until(lambda: "Item" in ddb.get_item(TableName="users",
                                              Key={"id": {"S": "busy-started"}}),
               timeout=30, message="the busy invocation to start")
    return thread


def start_worker() -> int:
    """Deploy and invoke a function; returns the pid of its (warm) worker process."""
    lam, iam = client("lambda"), client("iam")
    role = iam.create_role(RoleName="hostmode-test", AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                "Principal": {"Service": "lambda.amazonaws.com"}}]
    }))["Role"]["Arn"]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("fn.py", WORKER_CODE)
    lam.create_function(FunctionName="hostmode-pid", Runtime="python3.12", Role=role,
                        Handler="fn.handler", Code={"ZipFile": buf.getvalue()}, Timeout=60)
    lam.get_waiter("function_active_v2").wait(FunctionName="hostmode-pid",
                                              WaiterConfig={"Delay": 0.5, "MaxAttempts": 60})
    out = lam.invoke(FunctionName="hostmode-pid")
    assert "FunctionError" not in out, out["Payload"].read()
    pid = json.loads(out["Payload"].read())["pid"]
    assert alive(pid)
    return pid


def test_up_twice_then_down_leaves_nothing(instance: None, light_init: Path,
                                           wait_until: Callable[..., Any]) -> None:
    # GIVEN a stopped LocalStack WHEN `make up`
    first = make("up", HOSTMODE_INIT_SCRIPT=str(light_init))
    assert first.returncode == 0, first.stderr
    assert "ready" in first.stderr
    leader = leader_pid()
    # THEN it answers, the init script ran, and DynamoDB runs on its moto backend
    assert "users" in client("dynamodb").list_tables()["TableNames"]
    backend, backend_port = backend_pid_and_port()
    assert alive(backend) and listening(backend_port)
    worker = start_worker()
    client("kinesis").list_streams()  # starts the Kinesis mock (node)

    # AND everything it started listens on loopback only
    sockets = listening_sockets(our_pids())
    exposed = [(pid, addr, port, cmdline(pid)[:80]) for pid, addr, port in sockets
               if not is_loopback(addr)]
    assert exposed == [], f"listening beyond 127.0.0.1: {exposed}"
    ports = {port for _, _, port in sockets}
    assert {TEST_PORT, backend_port} <= ports
    assert any("kinesis" in cmdline(pid) for pid, _, _ in sockets), sockets

    # WHEN `make up` again THEN it is a no-op that says so
    second = make("up", HOSTMODE_INIT_SCRIPT=str(light_init))
    assert second.returncode == 0, second.stderr
    assert "already running" in second.stderr
    assert leader_pid() == leader

    # WHEN `make down` while an invocation is busy calling back into LocalStack
    # THEN LocalStack shuts down in order (no SIGKILL needed) and no
    # LocalStack, backend, Kinesis mock, worker or port is left
    busy = start_busy_invocation(wait_until)
    down = make("down")
    assert down.returncode == 0, down.stderr
    assert "SIGKILL" not in down.stderr, down.stderr
    assert_nothing_left([leader, backend, worker, *(pid for pid, _, _ in sockets)],
                        sorted(ports))
    # and `make down` again is a no-op
    again = make("down")
    assert again.returncode == 0 and "not running" in again.stderr
    busy.join(timeout=30)
    assert not busy.is_alive()


def test_up_recovers_from_a_stale_pid_file(instance: None, light_init: Path) -> None:
    # GIVEN a pid file whose process is long gone
    dead = subprocess.Popen(["true"])
    dead.wait()
    RUN_DIR.mkdir(parents=True, exist_ok=True)
    PID_FILE.write_text(json.dumps({"mode": "host", "pid": dead.pid, "start": 1,
                                    "port": TEST_PORT, "started_at": time.time() - 60}))
    # WHEN `make up` THEN it notices, starts a fresh LocalStack and works
    result = make("up", HOSTMODE_INIT_SCRIPT=str(light_init))
    assert result.returncode == 0, result.stderr
    assert "stale" in result.stderr
    assert leader_pid() != dead.pid
    assert "orders" in client("dynamodb").list_tables()["TableNames"]


def test_killed_localstack_takes_its_backend_along_and_up_recovers(
        instance: None, light_init: Path, wait_until: Callable[..., Any]) -> None:
    assert make("up", HOSTMODE_INIT_SCRIPT=str(light_init)).returncode == 0
    leader = leader_pid()
    backend, backend_port = backend_pid_and_port()
    worker = start_worker()
    # WHEN LocalStack is SIGKILLed (no shutdown hooks run)
    os.kill(leader, signal.SIGKILL)
    # THEN the DynamoDB backend dies with it (PR_SET_PDEATHSIG)
    wait_until(lambda: not alive(backend), timeout=10, message="moto backend to exit")
    # WHEN `make up` THEN it cleans up and starts a working instance
    result = make("up", HOSTMODE_INIT_SCRIPT=str(light_init))
    assert result.returncode == 0, result.stderr
    assert leader_pid() != leader
    assert "users" in client("dynamodb").list_tables()["TableNames"]
    new_backend, new_port = backend_pid_and_port()
    # WHEN `make down` THEN nothing of either instance is left
    assert make("down").returncode == 0
    assert_nothing_left([leader, backend, worker, new_backend], [backend_port, new_port])


def test_down_after_kill_stops_orphans(instance: None, light_init: Path) -> None:
    assert make("up", HOSTMODE_INIT_SCRIPT=str(light_init)).returncode == 0
    leader = leader_pid()
    backend, backend_port = backend_pid_and_port()
    worker = start_worker()
    os.kill(leader, signal.SIGKILL)
    result = make("down")
    assert result.returncode == 0, result.stderr
    assert_nothing_left([leader, backend, worker], [backend_port])


def test_down_kills_a_hung_localstack(instance: None) -> None:
    assert make("up", HOSTMODE_INIT_SCRIPT="").returncode == 0
    leader = leader_pid()
    client("dynamodb").list_tables()  # starts the moto backend
    backend, backend_port = backend_pid_and_port()
    # GIVEN a LocalStack that no longer reacts to SIGTERM
    os.kill(leader, signal.SIGSTOP)
    try:
        # WHEN `make down` (with a shorter grace than the default 5 s) THEN it SIGKILLs it
        result = make("down", HOSTMODE_STOP_TIMEOUT="2")
        assert result.returncode == 0, result.stderr
        assert "SIGKILL" in result.stderr
        assert_nothing_left([leader, backend], [backend_port])
    finally:
        if alive(leader):
            os.kill(leader, signal.SIGKILL)


def test_failing_init_script_fails_up_with_its_output(instance: None) -> None:
    # GIVEN a resource name AWS rejects
    bad = {"ORDERS_QUEUE": "not a valid queue name!"}
    env_backup = {k: os.environ.get(k) for k in bad}
    os.environ.update(bad)
    try:
        # WHEN `make up` THEN it fails and shows what init-aws.sh printed
        result = make("up")
    finally:
        for k, v in env_backup.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    assert result.returncode != 0
    assert "init script failed: init-aws.sh" in result.stderr
    assert "FAILED: awslocal sqs create-queue" in result.stderr or "InvalidParameterValue" \
        in result.stderr, result.stderr
    # and a second `make up` does not pretend all is well
    assert make("up").returncode != 0
