"""After `kill -9` of host-mode LocalStack: what `make status` and `make up` tell, and what
`make down` removes. Runs its own LocalStack on the lifecycle tests' TEST_PORT (helpers.py,
conftest.py), never the session's.
"""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from .helpers import (
    RUN_DIR,
    URL,
    alive,
    assert_nothing_left,
    client,
    cmdline,
    code_dir_of,
    leader_pid,
    listening_sockets,
    make,
    our_pids,
    start_worker,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]

@pytest.fixture
def deploy_outputs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                   ) -> Iterator[tuple[Callable[[], None], Path, Path]]:
    """Writes the outputs file as `make deploy-local` on TEST_PORT leaves it: this test's own
    (STACK_OUTPUTS_FILE), so deploys to the session's port, in parallel, never touch it."""
    outputs = tmp_path / "outputs.json"
    monkeypatch.setenv("STACK_OUTPUTS_FILE", str(outputs))

    def write() -> None:
        outputs.write_text(json.dumps({"_stack": "serverless-app", "_endpoint": URL,
                                       "ApiUrl": f"{URL}/restapis/gone/local/_user_request_/"}))

    yield write, outputs, outputs.with_name("outputs.stale.json")


def kinesis_listeners() -> list[tuple[int, str, int]]:
    return [s for s in listening_sockets(our_pids()) if "kinesis" in cmdline(s[0])]


def test_status_reports_orphans_and_up_says_the_stack_is_gone(
        instance: None, light_init: Path,  # noqa: F811 (the imported fixtures)
        deploy_outputs: tuple[Callable[[], None], Path, Path],
        wait_until: Callable[..., Any]) -> None:
    write_outputs, outputs, stale_outputs = deploy_outputs
    assert make("up", HOSTMODE_INIT_SCRIPT=str(light_init)).returncode == 0
    write_outputs()  # as `make deploy-local` leaves them
    client("kinesis").list_streams()  # starts the Kinesis mock (node)
    mock_pid, _, mock_port = wait_until(lambda: kinesis_listeners()[0], timeout=30,
                                        message="the Kinesis mock listening")
    leader = leader_pid()

    # WHEN LocalStack is SIGKILLed
    os.kill(leader, signal.SIGKILL)
    wait_until(lambda: not alive(leader), timeout=10, message="LocalStack to die")

    # THEN `make status` says it is not running, and what it left running
    status = make("status")
    assert status.returncode != 0  # make: 2 when `hostmode.py status` says 1
    assert "LocalStack is not running" in status.stdout
    assert "leftovers of an earlier run" in status.stdout, status.stdout
    assert f"pid {mock_pid}: " in status.stdout
    assert str(mock_port) in status.stdout
    assert "make down" in status.stdout

    # WHEN `make up` THEN it starts fresh and says the deployed stack is gone
    up = make("up", HOSTMODE_INIT_SCRIPT=str(light_init))
    assert up.returncode == 0, up.stderr
    assert "is gone (LocalStack started fresh): run `make deploy-local`" in up.stderr
    assert not outputs.exists()  # no stale ApiUrl left for scripts and tests
    assert json.loads(stale_outputs.read_text())["_endpoint"] == URL
    assert not alive(mock_pid)


def test_down_removes_the_unzipped_function_code(
        instance: None, light_init: Path) -> None:  # noqa: F811 (the imported fixtures)
    assert make("up", HOSTMODE_INIT_SCRIPT=str(light_init)).returncode == 0
    worker = start_worker()
    code_dir = code_dir_of(worker, RUN_DIR / "tmp" / "lambda")
    # the function's code is unzipped under this port's run dir, privately
    assert code_dir.is_relative_to(RUN_DIR / "tmp" / "lambda"), code_dir
    assert (RUN_DIR / "tmp").stat().st_mode & 0o777 == 0o700

    assert make("down").returncode == 0

    assert not code_dir.exists()
    assert not (RUN_DIR / "tmp").exists()
    assert_nothing_left([worker], [])
