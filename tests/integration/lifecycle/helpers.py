"""Helpers of the host-mode lifecycle tests: their own LocalStack on TEST_PORT, never the
session's (fixtures in conftest.py)."""


from __future__ import annotations

import contextlib
import io
import ipaddress
import json
import os
import socket
import subprocess
import threading
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import boto3

from localstack_hostmode import contract

ROOT = Path(__file__).resolve().parents[3]


def _test_port() -> int:
    """4590 next to the default 4566; sessions on another port get their own (port + 1000);
    each pytest-xdist worker (gw0, gw1, ...) the next one up."""
    if os.environ.get("HOSTMODE_TEST_PORT"):
        return int(os.environ["HOSTMODE_TEST_PORT"])
    session = urlparse(os.environ.get("AWS_ENDPOINT_URL") or "http://127.0.0.1:4566").port
    base = 4590 if session in (None, 4566) else session + 1000
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    return base + int(worker.removeprefix("gw") or 0)


TEST_PORT = _test_port()
RUN_DIR = contract.run_dir_for(TEST_PORT)
PID_FILE = RUN_DIR / "localstack.pid"
URL = f"http://127.0.0.1:{TEST_PORT}"


# what `up` runs instead of init-aws.sh here: the tables the scenarios look for, created with
# curl (LocalStack checks no signature): two awslocal processes cost ~1 CPU-s each per `up`
LIGHT_INIT = """#!/usr/bin/env bash
set -euo pipefail
scope=test/20240101/us-east-1/dynamodb/aws4_request
pids=()
for table in users orders; do
    curl -sS -f -o /dev/null -X POST "$AWS_ENDPOINT_URL/" \\
        -H 'Content-Type: application/x-amz-json-1.0' \\
        -H 'X-Amz-Target: DynamoDB_20120810.CreateTable' \\
        -H "Authorization: AWS4-HMAC-SHA256 Credential=$scope, SignedHeaders=host, Signature=0" \\
        -d '{"TableName": "'"$table"'", "BillingMode": "PAY_PER_REQUEST",
             "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}],
             "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}]}' &
    pids+=("$!")
done
for pid in "${pids[@]}"; do wait "$pid"; done
echo "light init done"
"""


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
    left = {p: cmdline(p) for p in extra_pids if alive(p)}
    assert left == {}, "processes of the stopped instance are still running"
    assert [p for p in [TEST_PORT, *ports] if listening(p)] == []
    assert not PID_FILE.exists()


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
    pid = host_pid(json.loads(out["Payload"].read())["pid"], "fn.py")
    assert alive(pid)
    return pid


def hold_request_pipe(leader: int, worker: int) -> int:
    """Open the write end of the worker's request pipe, as LocalStack holds it: a runtime
    exits when that pipe closes, so while the caller holds this fd the worker outlives a
    killed LocalStack, as it does for a moment on a busy machine. Returns the fd."""
    with open(f"/proc/{worker}/cmdline", "rb") as f:  # ... <request fd> <response fd> <config>
        request_fd = f.read().split(b"\0")[-4].decode()
    pipe = os.readlink(f"/proc/{worker}/fd/{request_fd}")
    for fd in os.listdir(f"/proc/{leader}/fd"):
        with contextlib.suppress(OSError):
            if os.readlink(f"/proc/{leader}/fd/{fd}") == pipe:
                return os.open(f"/proc/{leader}/fd/{fd}", os.O_WRONLY | os.O_NONBLOCK)
    raise AssertionError(f"LocalStack holds no end of the worker's request pipe {pipe}")


def host_pid(seen: int, task_file: str) -> int:
    """The host pid of this instance's runtime that reported `seen`: in a Lambda sandbox that
    is its pid namespace's, so the process is found by that and the file its /var/task holds,
    among this instance's processes only (every sandbox has its pids 1, 2, 3, and other
    LocalStacks may run functions with the same file)."""
    own = os.readlink("/proc/self/ns/pid")
    ours = our_pids()
    if seen in ours and os.readlink(f"/proc/{seen}/ns/pid") == own:
        return seen  # not sandboxed
    for entry in sorted(ours):
        try:
            if os.readlink(f"/proc/{entry}/ns/pid") == own:
                continue
            with open(f"/proc/{entry}/status") as f:
                nspid = next(line for line in f if line.startswith("NSpid:")).split()[1:]
            if int(nspid[-1]) == seen and os.path.exists(
                    f"/proc/{entry}/root/var/task/{task_file}"):
                return int(entry)
        except (OSError, StopIteration, ValueError):
            continue
    raise AssertionError(f"no runtime of this instance reported pid {seen}")


def code_dir_of(pid: int, root: Path) -> Path:
    """A runtime's code directory on the host: its working directory, or, sandboxed (where
    that is /var/task), the directory under `root` that is mounted there (same inode)."""
    seen = Path(os.readlink(f"/proc/{pid}/cwd"))
    if seen != Path("/var/task"):
        return seen
    st = os.stat(f"/proc/{pid}/cwd")
    for candidate in root.glob("*/*/code"):
        if (candidate.stat().st_dev, candidate.stat().st_ino) == (st.st_dev, st.st_ino):
            return candidate
    return seen


