"""`make up` / `make down` in host mode, on a port of their own (not the session's LocalStack).

Each test starts and stops its own LocalStack on TEST_PORT; they check what `down` must
guarantee: no LocalStack, no DynamoDB backend, no Lambda worker and no listening port left
behind, also after a stale pid file, a SIGKILLed or a hung LocalStack; and that everything host
mode starts listens on 127.0.0.1 only. init-aws.sh is the session's business (test_init_aws.py):
here `up` runs a two-table init script (HOSTMODE_INIT_SCRIPT), except where init-aws.sh failing
is the point, which keeps a start at about 2 s instead of 10-15 s.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from .helpers import (
    PID_FILE,
    RUN_DIR,
    TEST_PORT,
    alive,
    assert_nothing_left,
    backend_pid_and_port,
    client,
    cmdline,
    hold_request_pipe,
    is_loopback,
    leader_pid,
    listening,
    listening_sockets,
    make,
    our_pids,
    start_busy_invocation,
    start_worker,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]


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
    # the worker's request pipe held open: it does not exit by itself (the runtime ends when
    # that pipe closes), `make down` must find it although LocalStack is gone
    held = hold_request_pipe(leader, worker)
    try:
        os.kill(leader, signal.SIGKILL)
        result = make("down")
        assert result.returncode == 0, result.stderr
        assert_nothing_left([leader, backend, worker], [backend_port])
    finally:
        os.close(held)


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


def test_down_with_long_polls_in_flight_needs_no_sigkill(instance: None) -> None:
    # GIVEN gateway workers busy with SQS long polls (non-daemon pool threads, 20 s each)
    assert make("up", HOSTMODE_INIT_SCRIPT="").returncode == 0
    sqs = client("sqs")
    url = sqs.create_queue(QueueName="hostmode-long-poll")["QueueUrl"]
    sending = [threading.Event() for _ in range(3)]

    def long_poll(sent: threading.Event) -> None:
        poller = client("sqs")
        poller.meta.events.register("before-send.sqs.ReceiveMessage", lambda **_: sent.set())
        try:
            poller.receive_message(QueueUrl=url, WaitTimeSeconds=20)
        except Exception:  # the connection ends with LocalStack; what matters is `down`
            pass

    for sent in sending:
        threading.Thread(target=long_poll, args=(sent,), daemon=True).start()
    assert all(sent.wait(30) for sent in sending), "the long polls were never sent"
    # WHEN `make down` THEN LocalStack exits in order within the grace period, without waiting
    # for those threads (past the grace period `down` sends SIGKILL and says so)
    result = make("down")
    assert result.returncode == 0, result.stderr
    assert "SIGKILL" not in result.stderr, result.stderr[-3000:]


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
