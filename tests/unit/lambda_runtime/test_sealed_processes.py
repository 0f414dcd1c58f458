"""Everything a function starts ends with its environment: the real runtime (entrypoint.py)
under the process engine, with handlers that start processes which try to escape."""

from __future__ import annotations

import json
import os
import re
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from localstack_hostmode import contract
from localstack_hostmode.lambda_runtime.launch import runtime_command
from localstack_hostmode.lambda_runtime.process import ChildProcess, Frame, PumpEnd
from localstack_hostmode.runtime import frames, sealing

LIMIT_S = 10

HANDLERS = Path(__file__).resolve().parent / "sealed_handlers.py"


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _wait_dead(pids: list[int], seconds: float = LIMIT_S) -> list[int]:
    deadline = time.monotonic() + seconds
    while (alive := [pid for pid in pids if _alive(pid)]) and time.monotonic() < deadline:
        time.sleep(0.02)
    return alive


@pytest.fixture
def spawned() -> Iterator[list[int]]:
    """Pids the handlers start: killed after the test, whatever happened."""
    pids: list[int] = []
    yield pids
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


@pytest.fixture
def runtime(tmp_path: Path) -> Iterator:
    (tmp_path / "handlers.py").write_text(HANDLERS.read_text())
    started: list[ChildProcess] = []

    def _start(handler: str) -> ChildProcess:
        env = {"PATH": "/usr/bin:/bin", "LAMBDA_TASK_ROOT": str(tmp_path),
               "_HANDLER": f"handlers.{handler}"}
        child = ChildProcess(runtime_command(sys.executable), {"layers": []}, env, str(tmp_path))
        started.append(child)
        ready = child.pump(time.perf_counter() + LIMIT_S)
        assert isinstance(ready, Frame) and ready.kind == frames.KIND_READY, child.take_logs()
        return child

    yield _start
    for child in started:
        child.close()


def _invoke(child: ChildProcess) -> Frame | PumpEnd:
    header = {"id": "req-1", "deadline": int(time.time() * 1000) + LIMIT_S * 1000}
    child.send(frames.encode_invoke(header, b"{}"))
    return child.pump(time.perf_counter() + LIMIT_S)


def _escaped_pids(child: ChildProcess, spawned: list[int]) -> list[int]:
    answer = _invoke(child)
    assert isinstance(answer, Frame) and answer.kind == frames.KIND_OK, child.take_logs()
    _rss, body = frames.split_result(answer.body)
    pids = json.loads(body)["pids"]
    spawned.extend(pids)
    assert all(_alive(pid) for pid in pids)
    return pids


def test_stopping_an_environment_ends_new_sessions_and_daemons(runtime, spawned) -> None:
    child = runtime("escape")
    pids = _escaped_pids(child, spawned)

    child.close()

    assert _wait_dead(pids) == []


def test_the_runtime_ends_its_descendants_when_the_executor_is_gone(runtime, spawned) -> None:
    child = runtime("escape")
    pids = _escaped_pids(child, spawned)

    os.close(child.req_w)  # what LocalStack's death (kill -9) does to the request pipe
    child.req_w = -1

    assert _wait_dead([child.pid, *pids]) == []


def test_runtime_exit_is_seen_while_a_forked_child_holds_its_pipes(runtime, spawned) -> None:
    child = runtime("fork_and_exit")
    started = time.perf_counter()

    end = _invoke(child)

    assert end is PumpEnd.EOF  # not TIMEOUT: the fork holds the response pipe open
    assert time.perf_counter() - started < LIMIT_S / 2
    forked = [int(pid) for pid in re.findall(rb"CHILD=(\d+)", child.take_logs())]
    spawned.extend(forked)
    assert child.reap() == 3
    assert len(forked) == 1 and _wait_dead(forked) == []


def test_make_down_finds_the_runtime_by_its_marker_the_handler_does_not_see_it(
        runtime, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(contract.RUN_DIR_ENV, str(tmp_path))
    child = runtime("environment")

    answer = _invoke(child)

    assert isinstance(answer, Frame) and answer.kind == frames.KIND_OK, child.take_logs()
    seen = json.loads(frames.split_result(answer.body)[1])["env"]
    assert contract.RUN_DIR_ENV not in seen and seen["_HANDLER"] == "handlers.environment"
    environ = Path(f"/proc/{child.pid}/environ").read_bytes().split(b"\0")
    assert contract.run_dir_marker(tmp_path) in environ


def test_kill_descendants_reaches_grandchildren(spawned) -> None:
    import subprocess

    script = ("import subprocess, sys, time; "
              "p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)']); "
              "print(p.pid, flush=True); time.sleep(120)")
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE)
    try:
        grandchild = int(parent.stdout.readline())
        spawned.extend([parent.pid, grandchild])
        assert grandchild in sealing.descendants(os.getpid())

        assert sealing.kill_descendants(parent.pid) == 1

        assert _wait_dead([grandchild]) == []
        assert parent.poll() is None
    finally:
        parent.kill()
        parent.wait()
        parent.stdout.close()
