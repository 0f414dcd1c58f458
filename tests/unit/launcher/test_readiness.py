"""scripts/launcher/readiness.py: waiting for init asks LocalStack rarely while the script runs."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from launcher import readiness
from launcher.console import HostmodeError


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    fake = FakeClock()
    monkeypatch.setattr(readiness, "time", SimpleNamespace(monotonic=fake.monotonic,
                                                           sleep=fake.sleep))
    return fake


def test_while_the_script_runs_localstack_is_asked_once_a_second(
    clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN an init script that exits after 5 s, and LocalStack done right after that
    asked: list[float] = []

    def init_state() -> tuple[bool, list[dict]]:
        asked.append(clock.now)
        done = clock.now >= 5.0
        return done, [{"name": "init-aws.sh", "state": "SUCCESSFUL" if done else "RUNNING"}]

    monkeypatch.setattr(readiness, "init_state", init_state)

    # WHEN the launcher waits with the wrapper's exit file as its local signal
    scripts = readiness.wait_init(60, lambda: "", lambda: clock.now >= 5.0)

    # THEN LocalStack was asked about once a second until then, and init is seen within 0.1 s
    assert scripts == [{"name": "init-aws.sh", "state": "SUCCESSFUL"}]
    assert len(asked) <= 7
    assert 5.0 <= asked[-1] < 5.1


def test_a_failure_localstack_reports_is_seen_without_the_exit_file(
    clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    failed = (True, [{"name": "init-aws.sh", "state": "ERROR"}])
    monkeypatch.setattr(readiness, "init_state", lambda: failed if clock.now > 2 else
                        (False, [{"name": "init-aws.sh", "state": "RUNNING"}]))
    with pytest.raises(HostmodeError, match="init script failed: init-aws.sh"):
        readiness.wait_init(60, lambda: "boom", lambda: False)
    assert clock.now < 4


def test_an_exit_file_that_never_comes_still_ends_at_the_deadline(
    clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(readiness, "init_state", lambda: (False, []))
    with pytest.raises(HostmodeError, match="not finished after 10s"):
        readiness.wait_init(10, lambda: "", lambda: False)
