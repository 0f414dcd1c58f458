"""cloudformation_lambda_waits (no LocalStack): an update's waiter looks once, then again as
soon as the function's version state changes, and keeps botocore's outcomes."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from botocore.exceptions import WaiterError

from localstack_hostmode.patches import cloudformation_lambda_waits as waits
from localstack_hostmode.patches.lambda_version_state_events import VersionStateChanges


class FakeWaiter:
    """botocore's Waiter, one look per wait(): pending until `ready`, or failed."""

    def __init__(self, outcome: str = "pending") -> None:
        self.outcome = outcome
        self.looks: list[float] = []
        self.config = type("Config", (), {"delay": 1, "max_attempts": 5})()

    def wait(self, WaiterConfig: dict[str, Any], **kwargs: Any) -> None:  # noqa: N803
        assert WaiterConfig == {"Delay": 0, "MaxAttempts": 1}
        self.looks.append(time.monotonic())
        if self.outcome == "ready":
            return
        reason = ("Max attempts exceeded" if self.outcome == "pending"
                  else "Waiter encountered a terminal failure state")
        raise WaiterError(name="FunctionUpdatedV2", reason=reason, last_response={})


@pytest.fixture
def changes(monkeypatch: pytest.MonkeyPatch) -> VersionStateChanges:
    fake = VersionStateChanges()
    fake.enabled = True
    monkeypatch.setattr(waits, "CHANGES", fake)
    return fake


def test_a_state_change_wakes_the_next_look(changes: VersionStateChanges,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(waits, "POLL_MIN_S", 5.0)  # only the change can wake it in time
    monkeypatch.setattr(waits, "POLL_MAX_S", 5.0)
    waiter = FakeWaiter()

    def update_done() -> None:
        while not waiter.looks:
            time.sleep(0.005)
        waiter.outcome = "ready"
        changes.changed("fn")

    threading.Thread(target=update_done).start()
    started = time.monotonic()
    waits._FastWaiter(waiter).wait(FunctionName="fn")
    assert len(waiter.looks) == 2
    assert time.monotonic() - started < 2


def test_a_terminal_failure_is_raised_at_once(changes: VersionStateChanges) -> None:
    waiter = FakeWaiter("failed")
    with pytest.raises(WaiterError, match="terminal failure"):
        waits._FastWaiter(waiter).wait(FunctionName="fn")
    assert len(waiter.looks) == 1


def test_without_a_change_it_still_looks_and_times_out(changes: VersionStateChanges) -> None:
    waiter = FakeWaiter()
    with pytest.raises(WaiterError, match="Max attempts exceeded"):
        waits.wait_looking_on_changes(waiter, {"FunctionName": "fn"}, timeout=0.3)
    assert 2 <= len(waiter.looks) <= 10  # 20, 40, 80, 160, 250 ms apart
