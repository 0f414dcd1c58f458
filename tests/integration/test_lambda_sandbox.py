"""Lambda environments sealed like AWS's (issue 7, section 2): in host mode's bubblewrap sandbox
a handler sees its code read-only at /var/task, a private /tmp, its own pid namespace, no host
files, and runs unprivileged; what it starts dies with the environment.

Where LocalStack runs environments as plain processes (no sandbox: HOSTMODE_LAMBDA_SANDBOX=
process, no bwrap, no namespaces), each test asserts that fallback's behaviour and is skipped.
The handlers run on this machine, so the tests see their processes through /proc.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from executor_helpers import (
    function_processes,
    invoke,
    lambda_sandbox,
    process_alive,
    zip_files,
)

from launcher import config

LIMIT_S = 15
HANDLERS = '''
import os, subprocess, sys, time

def _attempt(fn):
    try:
        return fn()
    except Exception as e:
        return f"{type(e).__name__}: {e}"

def look(event, context):
    task_root = os.environ["LAMBDA_TASK_ROOT"]
    sys.path.extend(event.get("paths", []))  # what a handler could try
    return {
        "uid": os.getuid(), "pid": os.getpid(), "file": __file__, "cwd": os.getcwd(),
        "task_root": task_root, "task_files": sorted(os.listdir(task_root)),
        "root": sorted(os.listdir("/")),
        "shadow": _attempt(lambda: open("/etc/shadow").read() and "read"),
        "task_write": _attempt(lambda: open(os.path.join(task_root, "new.txt"), "w").close()
                               or "written"),
        "localstack": _attempt(lambda: __import__("localstack.config").config.__file__),
        "pids": sorted(int(p) for p in os.listdir("/proc") if p.isdigit()),
        "tmp_bytes": (lambda s: s.f_blocks * s.f_frsize)(os.statvfs("/tmp")),
        "caps": [line.split()[1] for line in open("/proc/self/status")
                 if line.startswith(("CapEff", "CapPrm", "CapAmb", "CapBnd"))],
        "spare_root": _attempt(lambda: os.listdir("/var/.spare")),
    }

def write_tmp(event, context):
    with open(os.path.join("/tmp", event["name"]), "w") as f:
        f.write("x")
    return sorted(os.listdir("/tmp"))

def _escape():
    """A new session and a daemon; returns their pids with the runtime's."""
    sleep = [sys.executable, "-c", "import time; time.sleep(300)"]
    session = subprocess.Popen(sleep, start_new_session=True, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    read_end, write_end = os.pipe()
    if os.fork() == 0:
        os.setsid()
        pid = os.fork()
        if pid == 0:
            time.sleep(300)
        os.write(write_end, str(pid).encode())
        os._exit(0)
    os.wait()
    return [os.getpid(), session.pid, int(os.read(read_end, 32))]

def escape(event, context):
    if event.get("exit"):
        os._exit(1)
    return _escape()
'''


@pytest.fixture(scope="module")
def sandboxed(probe: str) -> bool:
    """Whether the LocalStack under test runs its Lambda environments in the sandbox."""
    return lambda_sandbox() == "bwrap"


def _function(make_function: Any, handler: str, **kwargs: Any) -> str:
    return make_function(handler=f"sandboxed.{handler}", Timeout=LIMIT_S,
                         code={"ZipFile": zip_files({"sandboxed.py": HANDLERS})}, **kwargs)


def _look(lam: Any, function: str, **event: Any) -> Any:
    result = invoke(lam, function, event)
    assert result.function_error is None, result.raw
    return result.payload


def _not_sandboxed(reason: str) -> None:
    pytest.skip(f"Lambda environments are not sandboxed here ({lambda_sandbox()}): {reason}")


@pytest.fixture
def spawned() -> Iterator[list[int]]:
    pids: list[int] = []
    yield pids
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)


def _escaped(lam: Any, name: str, sandboxed: bool) -> list[int]:
    """Host pids of the runtime, a new session and a daemon it started: sandboxed, the pids the
    handler sees are its namespace's, so they are found by the function's environment (its
    sandbox too); unsandboxed, a claimed spare keeps its start-up environment in /proc."""
    pids = _look(lam, name)
    if sandboxed:
        pids = function_processes(name)
    assert len(pids) >= 3 and all(process_alive(p) for p in pids), pids
    return pids


def _wait_dead(pids: list[int]) -> list[int]:
    deadline = time.monotonic() + LIMIT_S
    while (alive := [p for p in pids if process_alive(p)]) and time.monotonic() < deadline:
        time.sleep(0.05)
    return alive


def test_host_files_and_localstack_are_out_of_reach(lam: Any, make_function: Any,
                                                    sandboxed: bool) -> None:
    site_packages = [str(p) for p in config.LS_VENV.glob("lib/python3*/site-packages")]
    info = _look(lam, _function(make_function, "look"), paths=site_packages)

    if not sandboxed:  # the kit's user's view of the host, LocalStack importable
        assert (info["shadow"] == "read") == os.access("/etc/shadow", os.R_OK)
        assert info["localstack"].startswith(tuple(site_packages))
        _not_sandboxed("handlers see the host's files")
    assert info["shadow"].startswith("FileNotFoundError"), info["shadow"]
    assert info["localstack"].startswith("ModuleNotFoundError"), info["localstack"]
    # the root holds what a runtime needs, nothing of this host's own directories
    assert {"var", "tmp", "proc", "dev", "etc", "usr"} <= set(info["root"])
    assert not {"home", "work", "srv", "mnt", "media", "boot"} & set(info["root"]), info["root"]


def test_code_is_read_only_at_var_task(lam: Any, make_function: Any, sandboxed: bool) -> None:
    info = _look(lam, _function(make_function, "look"))

    assert info["task_root"] == info["cwd"] == os.path.dirname(info["file"])
    assert "sandboxed.py" in info["task_files"]
    if not sandboxed:
        assert info["task_root"] != "/var/task" and info["task_write"] == "written"
        _not_sandboxed("the code runs from its real, writable directory")
    assert info["task_root"] == "/var/task"
    assert info["file"] == "/var/task/sandboxed.py"
    assert "Read-only file system" in info["task_write"], info["task_write"]
    assert "new.txt" not in info["task_files"]


def test_the_user_is_unprivileged_in_its_own_pid_namespace(lam: Any, make_function: Any,
                                                           sandboxed: bool) -> None:
    info = _look(lam, _function(make_function, "look"))

    if not sandboxed:
        assert info["uid"] == os.getuid() and info["pid"] > 1
        _not_sandboxed("handlers run as the kit's user among the host's processes")
    assert info["uid"] == 993
    # no capabilities (the bounding set too, once a spare has become the function's)
    assert info["caps"][:2] + info["caps"][3:] == ["0000000000000000"] * 3, info["caps"]
    # a claimed spare no longer sees the other functions' code
    assert info["spare_root"] in ([], "FileNotFoundError: [Errno 2] No such file or directory: "
                                      "'/var/.spare'"), info["spare_root"]
    # its own pid namespace: the sandbox's init (1), the runtime, nothing of the host
    assert info["pid"] == 2 and info["pids"] == [1, 2], info["pids"]


def test_tmp_is_private_to_each_environment_and_capped(lam: Any, make_function: Any,
                                                        sandboxed: bool) -> None:
    first = _function(make_function, "write_tmp")
    second = _function(make_function, "write_tmp")
    mine, theirs = f"sbx-{uuid.uuid4().hex[:8]}", f"sbx-{uuid.uuid4().hex[:8]}"
    try:
        assert mine in _look(lam, first, name=mine)
        seen = _look(lam, second, name=theirs)
        assert mine in _look(lam, first, name=mine)  # an environment keeps its /tmp
    finally:
        for name in (mine, theirs):
            with contextlib.suppress(FileNotFoundError):
                os.remove(os.path.join("/tmp", name))  # the fallback writes the host's /tmp
    if not sandboxed:
        assert mine in seen
        _not_sandboxed("/tmp is the host's, shared by every function")
    assert mine not in seen and theirs in seen
    # capped at EphemeralStorage (default 512 MB)
    assert _look(lam, _function(make_function, "look"))["tmp_bytes"] == 512 << 20
    bigger = _function(make_function, "look", EphemeralStorage={"Size": 1024})
    assert _look(lam, bigger)["tmp_bytes"] == 1024 << 20


def test_escaped_processes_die_with_their_environment(lam: Any, make_function: Any,
                                                      sandboxed: bool,
                                                      spawned: list[int]) -> None:
    name = _function(make_function, "escape")
    spawned.extend(_escaped(lam, name, sandboxed))

    lam.delete_function(FunctionName=name)

    assert _wait_dead(spawned) == []


def test_processes_left_by_a_runtime_that_exits_die_with_it(lam: Any, make_function: Any,
                                                             sandboxed: bool,
                                                             spawned: list[int]) -> None:
    name = _function(make_function, "escape")
    spawned.extend(_escaped(lam, name, sandboxed))

    result = invoke(lam, name, {"exit": True})

    assert result.function_error == "Unhandled"
    if not sandboxed:  # a runtime gone through os._exit leaves them to DeleteFunction
        time.sleep(0.5)  # what would kill them has had its chance
        assert any(process_alive(p) for p in spawned)
        _not_sandboxed("the runtime's os._exit leaves its new sessions running")
    # the namespace's init (the runtime) is gone: the kernel killed the rest
    assert _wait_dead(spawned) == []
