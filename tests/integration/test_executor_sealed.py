"""Lambda environments sealed like AWS's (issue 7, section 2): what a function starts dies with
its environment, a runtime's exit is seen even when a forked child holds its pipes, and the
handler cannot read the caller's shell through LocalStack's /proc/<pid>/environ.

The handlers run on this machine, so the tests see their processes through /proc.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from executor_helpers import (
    assert_runtime_exited,
    function_processes,
    invoke,
    lambda_sandbox,
    process_alive,
    zip_files,
)

from launcher import config

LIMIT_S = 15

HANDLERS = (Path(__file__).resolve().parents[1] / "unit" / "lambda_runtime"
            / "sealed_handlers.py")


@pytest.fixture
def spawned() -> Iterator[list[int]]:
    """Pids the handlers start: killed after the test, whatever happened."""
    pids: list[int] = []
    yield pids
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)


def _function(make_function: Any, handler: str) -> str:
    return make_function(handler=f"sealed.{handler}", Timeout=LIMIT_S,
                         code={"ZipFile": zip_files({"sealed.py": HANDLERS.read_text()})})


def _wait_dead(pids: list[int], seconds: float = LIMIT_S) -> list[int]:
    deadline = time.monotonic() + seconds
    while (alive := [pid for pid in pids if process_alive(pid)]) and time.monotonic() < deadline:
        time.sleep(0.05)
    return alive


def _wait_gone(name: str) -> list[int]:
    """Until no process carries the function's environment; those left."""
    deadline = time.monotonic() + LIMIT_S
    while (left := function_processes(name)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return left


def test_delete_function_ends_new_sessions_and_daemons(
    lam: Any, make_function: Any, probe: str, spawned: list[int]
) -> None:
    name = _function(make_function, "escape")
    result = invoke(lam, name)
    assert result.function_error is None, result.raw
    # sandboxed, the pids the handler sees are its namespace's: found by their environment
    sandboxed = lambda_sandbox() == "bwrap"
    spawned.extend(function_processes(name) if sandboxed else result.payload["pids"])
    assert len(spawned) >= 2 and all(process_alive(pid) for pid in spawned)

    lam.delete_function(FunctionName=name)

    assert _wait_dead(spawned) == []


def test_runtime_exit_is_reported_while_a_fork_holds_its_pipes(
    lam: Any, make_function: Any, probe: str, spawned: list[int]
) -> None:
    name = _function(make_function, "fork_and_exit")
    started = time.monotonic()

    result = invoke(lam, name)

    elapsed = time.monotonic() - started
    assert_runtime_exited(result, "Runtime exited with error: exit status 3")
    assert elapsed < 5, f"the exit was reported after {elapsed:.1f} s"
    children = re.findall(r"CHILD=(\d+)", result.log)
    assert len(children) == 1
    if lambda_sandbox() == "bwrap":  # a namespace pid; the namespace ended with its runtime
        assert _wait_gone(name) == []
    else:
        spawned.append(int(children[0]))
        assert _wait_dead(spawned) == []


def test_handler_cannot_read_the_callers_shell_through_localstack(
    lam: Any, make_function: Any, probe: str
) -> None:
    name = _function(make_function, "parent_environ")

    result = invoke(lam, name)

    if lambda_sandbox() == "bwrap":  # the parent is the sandbox's init, LocalStack is outside
        assert result.function_error is None or result.payload["errorType"] == "PermissionError"
        names = set(result.payload) if result.function_error is None else set()
        assert not any(n.startswith(("HOSTMODE_", "LOCALSTACK_")) for n in names), names
        return
    assert result.function_error is None, result.raw
    names = set(result.payload)
    assert "HOSTMODE_INSTANCE" in names  # the parent is host-mode LocalStack
    allowed = set(config.passed_env(dict.fromkeys(names, ""), config.read_names()))
    allowed |= set(config.localstack_env("token"))
    assert names - allowed == set()
    assert "MY_SECRET_TOKEN" not in names
