"""Plain helpers for the local-process executor tests (test_executor*.py); their fixtures
(lam, make_function, probe, ...) are in tests/integration/conftest.py.

Functions are deployed from tests/integration/executor_functions/ (one zip, many entry points),
each with a unique name, and deleted after the test. Everything goes through a real LocalStack
over HTTP with boto3.
"""

from __future__ import annotations

import base64
import io
import json
import os
import uuid
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FUNCTIONS_DIR = Path(__file__).resolve().parent / "executor_functions"
RUNTIME = "python3.13"


def zip_tree(root: Path, prefix: str = "") -> bytes:
    """Zip a directory, keeping the executable bit (wrapper scripts)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(root.rglob("*")):
            if path.is_dir() or "__pycache__" in path.parts:
                continue
            info = zipfile.ZipInfo(prefix + path.relative_to(root).as_posix())
            info.external_attr = (path.stat().st_mode & 0o777) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes())
    return buf.getvalue()


def zip_files(files: dict[str, str]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return buf.getvalue()


@dataclass
class Invocation:
    status: int
    function_error: str | None
    raw: bytes
    log: str
    request_id: str
    response: dict = field(repr=False)

    @property
    def payload(self) -> Any:
        return json.loads(self.raw) if self.raw else None


def invoke(
    lam: Any, name: str, event: Any = None, raw: bytes | None = None, **kwargs
) -> Invocation:
    body = raw if raw is not None else json.dumps({} if event is None else event).encode()
    response = lam.invoke(FunctionName=name, Payload=body, LogType="Tail", **kwargs)
    return Invocation(
        status=response["StatusCode"],
        function_error=response.get("FunctionError"),
        raw=response["Payload"].read(),
        log=base64.b64decode(response.get("LogResult", "")).decode("utf-8", "replace"),
        request_id=response["ResponseMetadata"]["RequestId"],
        response=response,
    )


def assert_runtime_exited(result: Invocation, reason: str,
                          error_type: str = "Runtime.ExitError") -> None:
    """The invocation failed because its runtime process ended: AWS's platform error document."""
    assert result.function_error == "Unhandled"
    assert result.payload == {
        "errorType": error_type,
        "errorMessage": f"RequestId: {result.request_id} Error: {reason}",
    }


def lambda_sandbox() -> str:
    """How the LocalStack under test runs Lambda environments: "bwrap" (sandboxed) or
    "process", as its plugin wrote in the run directory (none written: process)."""
    from launcher import config

    try:
        state = json.loads((config.run_dir() / config.contract.LAMBDA_SANDBOX_STATE).read_text())
    except (OSError, ValueError):
        return "process"
    return str(state.get("mode", "process"))


def _pid_namespace(pid: int | str) -> str | None:
    try:
        return os.readlink(f"/proc/{pid}/ns/pid")
    except OSError:
        return None


def function_processes(name: str) -> list[int]:
    """Host pids of a function's processes. Those the handler started with exec carry its
    environment (AWS_LAMBDA_FUNCTION_NAME); sandboxed, everything in their pid namespaces is
    the function's too: the runtime (a claimed spare keeps its start-up environment in /proc),
    a forked daemon, the sandbox's init."""
    marker = f"AWS_LAMBDA_FUNCTION_NAME={name}".encode()
    entries = [e for e in os.listdir("/proc") if e.isdigit()]
    pids = set()
    for entry in entries:
        try:
            if marker in Path(f"/proc/{entry}/environ").read_bytes().split(b"\0"):
                pids.add(int(entry))
        except OSError:
            pass
    namespaces = {_pid_namespace(pid) for pid in pids} - {_pid_namespace("self"), None}
    if namespaces:
        pids |= {int(e) for e in entries if _pid_namespace(e) in namespaces}
    return sorted(pids)


def sandboxed_task_roots() -> list[Path]:
    """What sandboxed runtimes have at /var/task, seen from the host (/proc/<pid>/root)."""
    own = _pid_namespace("self")
    roots = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and _pid_namespace(entry) not in (own, None):
            root = Path(f"/proc/{entry}/root/var/task")
            try:
                if any(root.iterdir()):
                    roots.append(root)
            except OSError:
                pass
    return roots


def process_alive(pid: int) -> bool:
    """True while the pid exists and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False
    except OSError:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True


class FunctionFactory:
    """Creates functions with unique names, waits until Active; deletes them and their log
    groups on cleanup (deleting a function keeps its logs, on AWS too)."""

    def __init__(self, lam: Any, role: str, logs: Any):
        self.lam = lam
        self.role = role
        self.logs = logs
        self.names: list[str] = []
        self.log_groups: list[str] = []

    def __call__(
        self,
        handler: str = "probe.dispatch",
        runtime: str = RUNTIME,
        code: dict | None = None,
        wait: bool = True,
        **kwargs: Any,
    ) -> str:
        name = f"exec-{uuid.uuid4().hex[:10]}"
        self.lam.create_function(
            FunctionName=name,
            Runtime=runtime,
            Handler=handler,
            Role=self.role,
            Code=code or {"ZipFile": zip_tree(FUNCTIONS_DIR)},
            **kwargs,
        )
        self.names.append(name)
        self.log_groups.append(
            (kwargs.get("LoggingConfig") or {}).get("LogGroup") or f"/aws/lambda/{name}"
        )
        if wait:
            self.lam.get_waiter("function_active_v2").wait(
                FunctionName=name, WaiterConfig={"Delay": 0.2, "MaxAttempts": 300}
            )
        return name

    def cleanup(self) -> None:
        for name in self.names:
            try:
                self.lam.delete_function(FunctionName=name)
            except self.lam.exceptions.ResourceNotFoundException:
                pass
        for group in self.log_groups:
            try:
                self.logs.delete_log_group(logGroupName=group)
            except self.logs.exceptions.ResourceNotFoundException:
                pass
