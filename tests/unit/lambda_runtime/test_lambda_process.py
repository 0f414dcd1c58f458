"""The process engine (lambda_runtime/process.py) against a fake runtime child: no LocalStack."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from localstack_hostmode.lambda_runtime import process
from localstack_hostmode.lambda_runtime.process import ChildProcess, Frame, PumpEnd
from localstack_hostmode.lambda_runtime.spares import SparePool
from localstack_hostmode.runtime import frames

FAKE_CHILD = str(Path(__file__).resolve().parent / "fake_child.py")
COMMAND = [sys.executable, "-u", FAKE_CHILD]
LIMIT_S = 10


def fake_command(interpreter: str) -> list[str]:
    return [interpreter, "-u", FAKE_CHILD]


@pytest.fixture
def start() -> Iterator:
    started: list[ChildProcess] = []

    def _start(**config) -> ChildProcess:
        child = ChildProcess(COMMAND, config, {"PATH": "/usr/bin:/bin"}, "/")
        started.append(child)
        return child

    yield _start
    for child in started:
        child.close()


def _deadline(seconds: float = LIMIT_S) -> float:
    return time.perf_counter() + seconds


def _invoke(child: ChildProcess, command: dict, seconds: float = LIMIT_S) -> Frame | PumpEnd:
    child.send(frames.encode_invoke({"id": "req-1"}, json.dumps(command).encode()))
    return child.pump(_deadline(seconds))


def test_ready_then_result_ok(start) -> None:
    child = start()

    ready = child.pump(_deadline())
    assert isinstance(ready, Frame) and ready.kind == frames.KIND_READY
    assert child.take_logs() == b"init ready \n"

    result = _invoke(child, {"hello": "world"})
    assert isinstance(result, Frame) and result.kind == frames.KIND_OK
    assert frames.split_result(result.body) == (1234, b'{"hello": "world"}')
    assert child.alive()


def test_result_error_keeps_the_process(start) -> None:
    child = start()
    child.pump(_deadline())

    result = _invoke(child, {"fail": "card declined"})

    assert isinstance(result, Frame) and result.kind == frames.KIND_ERROR
    assert json.loads(frames.split_result(result.body)[1]) == {"errorMessage": "card declined"}
    assert child.alive()


def test_init_error_frame_then_exit(start) -> None:
    child = start(init="error")

    end = child.pump(_deadline())

    assert isinstance(end, Frame) and end.kind == frames.KIND_INIT_ERROR
    assert json.loads(end.body) == {"errorType": "Init.Boom"}
    assert child.reap() == 1


def test_timeout_leaves_the_process_to_kill(start) -> None:
    child = start()
    child.pump(_deadline())

    began = time.perf_counter()
    end = _invoke(child, {"sleep": 30}, seconds=0.3)

    assert end is PumpEnd.TIMEOUT
    assert 0.3 <= time.perf_counter() - began < 5
    child.kill()
    assert child.dead and not child.alive()
    assert child.returncode is not None and child.returncode < 0  # SIGKILLed


def test_child_exit_is_eof_with_its_status(start) -> None:
    child = start()
    child.pump(_deadline())

    end = _invoke(child, {"exit": 7})

    assert end is PumpEnd.EOF
    assert child.reap() == 7
    assert child.dead


def test_init_exit_is_eof(start) -> None:
    child = start(init="exit")

    assert child.pump(_deadline()) is PumpEnd.EOF
    assert child.reap() == 3
    assert child.take_logs() == b"init exit \n"


def test_too_large_result_carries_only_its_size(start) -> None:
    child = start()
    child.pump(_deadline())

    result = _invoke(child, {"too_large": 7_000_000})

    assert isinstance(result, Frame) and result.kind == frames.KIND_TOO_LARGE
    max_rss, size = frames.split_result(result.body)
    assert (max_rss, int.from_bytes(size, "big")) == (1234, 7_000_000)


def test_logs_are_complete_and_in_order_when_the_result_arrives(start) -> None:
    child = start()
    child.pump(_deadline())
    child.take_logs()
    lines = [f"line {i} " + "x" * 200 for i in range(500)]  # stdout and stderr, alternating

    result = _invoke(child, {"print": lines})

    assert isinstance(result, Frame) and result.kind == frames.KIND_OK
    assert child.take_logs().decode().splitlines() == lines
    assert bytes(child.tail).endswith(lines[-1].encode() + b"\n")


def test_output_past_the_limit_is_cut_with_a_marker_line(
    start, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(process, "MAX_LOG_BYTES_PER_INVOKE", 10_000)
    child = start()
    child.pump(_deadline())
    child.take_logs()
    lines = [f"line {i} " + "x" * 90 for i in range(300)]  # ~30 kB

    _invoke(child, {"print": lines})

    logs = child.take_logs().decode().splitlines()
    assert logs[0] == lines[0]
    assert "Log output truncated" in logs[-1]
    assert "10000 bytes" in logs[-1]
    assert len("\n".join(logs[:-1])) <= 10_000
    # the next invocation starts with a full allowance and no marker
    _invoke(child, {"print": lines[:3]})
    assert child.take_logs().decode().splitlines() == lines[:3]


def test_large_request_is_written_while_the_child_reads() -> None:
    # more than a pipe buffer holds: the pump writes it in pieces
    child = ChildProcess(COMMAND, {}, {"PATH": "/usr/bin:/bin"}, "/")
    try:
        child.pump(_deadline())
        big = {"data": "y" * (3 << 20)}

        result = _invoke(child, big)

        assert isinstance(result, Frame)
        assert json.loads(frames.split_result(result.body)[1]) == big
    finally:
        child.close()


def test_spare_is_claimed_with_the_functions_environment() -> None:
    pool = SparePool(fake_command)
    pool.replenish(sys.executable)
    deadline = _deadline()
    while not pool.ready(sys.executable):
        assert time.perf_counter() < deadline, "no spare started"
        time.sleep(0.01)

    spare = pool.take(sys.executable)
    try:
        assert spare is not None and spare.alive()
        spare.claim({"PATH": "/usr/bin:/bin", "FAKE_NAME": "orders"}, "/", {"init": "ready"})
        ready = spare.pump(_deadline())
        assert isinstance(ready, Frame) and ready.kind == frames.KIND_READY
        assert spare.take_logs() == b"init ready orders\n"
    finally:
        if spare is not None:
            spare.close()
        deadline = _deadline()
        while not pool.ready(sys.executable):  # take() started the next spare
            assert time.perf_counter() < deadline, "no replacement spare started"
            time.sleep(0.01)
        pool.close()


def test_stop_all_workers_kills_every_process_and_refuses_new_ones(
    start, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(process, "_shutting_down", type(process._shutting_down)())
    child = start()
    child.pump(_deadline())

    process.stop_all_workers()

    assert child.dead and not child.alive()
    with pytest.raises(RuntimeError, match="shutting down"):
        ChildProcess(COMMAND, {}, {}, "/")


def test_held_spares_are_stopped_and_none_starts_until_released() -> None:
    pool = SparePool(fake_command)
    pool.replenish(sys.executable)
    deadline = _deadline()
    while not pool.ready(sys.executable):
        assert time.perf_counter() < deadline, "no spare started"
        time.sleep(0.01)
    try:
        pool.hold(True)  # memory is tight
        assert not pool.ready(sys.executable)
        assert pool.take(sys.executable) is None  # a claim starts none while held
        assert not pool.ready(sys.executable)
        pool.hold(False)
        pool.replenish(sys.executable)  # the next claim's replenish starts one again
        deadline = _deadline()
        while not pool.ready(sys.executable):
            assert time.perf_counter() < deadline, "no spare after the hold"
            time.sleep(0.01)
    finally:
        pool.close()
