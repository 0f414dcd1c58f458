"""The pure parts of patches/esm_stream_wake.py (no LocalStack): a stream worker's wait between
polls ends on a stream write, not on an error backoff; an empty poll leaves the batching window
alone; only successful Kinesis writes wake."""

from __future__ import annotations

import threading
from types import SimpleNamespace

import pytest

from localstack_hostmode.patches.esm_stream_wake import (
    SkipIdleAdds,
    StreamActivity,
    WakeableStop,
    nudge_on_stream_write,
    stream_name_of,
)


def _nudge_soon(activity: StreamActivity) -> threading.Thread:
    thread = threading.Thread(target=activity.nudge)
    thread.start()
    return thread


def test_a_write_during_the_wait_ends_it() -> None:
    activity, event = StreamActivity(), threading.Event()
    stop = WakeableStop(event, activity, max_woken_wait=1.0)
    assert stop.is_set() is False  # the loop's check before it polls
    waiter = threading.Thread(target=stop.wait, args=(1.0,))
    waiter.start()
    _nudge_soon(activity).join()
    waiter.join(timeout=30)
    assert not waiter.is_alive()
    assert event.is_set() is False  # woken, not stopped


def test_a_write_during_the_poll_makes_the_wait_return_at_once() -> None:
    activity = StreamActivity()
    stop = WakeableStop(threading.Event(), activity, max_woken_wait=1.0)
    stop.is_set()
    activity.nudge()  # while GetRecords was in flight
    assert stop.wait(1.0) is False  # returned without waiting on the condition
    stop.is_set()  # the next round: nothing new, so a wait would time out
    assert activity.seen(None) == stop.seen


def test_an_error_backoff_is_not_cut_short() -> None:
    activity, event = StreamActivity(), threading.Event()
    stop = WakeableStop(event, activity, max_woken_wait=1.0)
    stop.is_set()
    activity.nudge()
    event.set()  # (so the real event's wait returns: proves the plain path was taken)
    assert stop.wait(60.0) is True


def test_set_and_clear_go_through_and_set_wakes_a_wait() -> None:
    activity, event = StreamActivity(), threading.Event()
    stop = WakeableStop(event, activity, max_woken_wait=1.0)
    stop.is_set()
    result: list[bool] = []
    waiter = threading.Thread(target=lambda: result.append(stop.wait(1.0)))
    waiter.start()
    stop.set()
    waiter.join(timeout=30)
    assert result == [True] and event.is_set()
    stop.clear()
    assert not event.is_set() and not stop.is_set()


class FakeBatcher:
    """LocalStack's Batcher's add, reduced: flushes when the window since the last flush is
    over (the window is a counter of polls here)."""

    def __init__(self, window: int) -> None:
        self._batch: list = []
        self.window, self.since_flush = window, 0
        self.checks = 0

    def add(self, item_or_items: list, *, deep_copy: bool = False) -> bool:
        self._batch.extend(item_or_items)
        self.checks += 1
        return self.since_flush >= self.window


class IdleBatcher(SkipIdleAdds, FakeBatcher):
    pass


def test_an_empty_poll_of_an_empty_batch_checks_nothing() -> None:
    batcher = IdleBatcher(window=1)
    assert batcher.add([]) is False and batcher.checks == 0
    batcher.since_flush = 5
    assert batcher.add([{"r": 1}]) is True and batcher.checks == 1
    batcher.since_flush = 0
    assert batcher.add([]) is False and batcher.checks == 2  # records pending: checked
    assert batcher.add({"r": 2}) is False and batcher.checks == 3  # one record, not a list


def _context(service: str | None, operation: str | None,
             request: dict | None = None) -> SimpleNamespace:
    return SimpleNamespace(
        service=SimpleNamespace(service_name=service) if service else None,
        operation=SimpleNamespace(name=operation) if operation else None,
        service_request=request)


def test_only_successful_kinesis_writes_wake(monkeypatch) -> None:
    from localstack_hostmode.patches import esm_stream_wake

    activity = StreamActivity()
    monkeypatch.setattr(esm_stream_wake, "ACTIVITY", activity)
    ok, failed = SimpleNamespace(status_code=200), SimpleNamespace(status_code=400)
    nudge_on_stream_write(None, _context("kinesis", "PutRecords"), ok)
    nudge_on_stream_write(None, _context("kinesis", "PutRecord"), ok)
    assert activity.generation == 2
    nudge_on_stream_write(None, _context("kinesis", "PutRecord"), failed)
    nudge_on_stream_write(None, _context("kinesis", "GetRecords"), ok)
    nudge_on_stream_write(None, _context("sqs", "SendMessage"), ok)
    nudge_on_stream_write(None, _context(None, None), ok)
    nudge_on_stream_write(None, SimpleNamespace(), ok)
    assert activity.generation == 2


def test_a_busy_stream_is_polled_at_most_every_busy_gap() -> None:
    from localstack_hostmode.patches.esm_stream_wake import BUSY_GAP_S

    now = [100.0]
    activity, event = StreamActivity(), threading.Event()
    stop = WakeableStop(event, activity, max_woken_wait=1.0, clock=lambda: now[0])
    waited: list[float] = []
    event.wait = lambda timeout=None: waited.append(timeout) or False  # type: ignore[method-assign]
    stop.is_set()  # a poll begins at 100.0 ...
    stop.busy = True  # ... and finds records
    now[0] = 100.05
    activity.nudge()
    stop.wait(1.0)
    assert waited == [pytest.approx(BUSY_GAP_S - 0.05)]  # the rest of the gap
    stop.is_set()  # an idle stream: the next record is read at once
    stop.busy = False
    activity.nudge()
    waited.clear()
    stop.wait(1.0)
    assert waited == []


def test_the_stream_behind_a_mapping_source() -> None:
    assert stream_name_of("arn:aws:kinesis:us-east-1:000000000000:stream/events-stream") == (
        "events-stream")
    assert stream_name_of("arn:aws:dynamodb:us-east-1:000000000000:table/users/stream/"
                          "2026-12-01T00:00:00.000") == "__ddb_stream_users"
    assert stream_name_of("arn:aws:sqs:us-east-1:000000000000:orders-queue") is None


def test_a_write_wakes_only_the_mappings_of_its_stream() -> None:
    activity = StreamActivity()
    users = WakeableStop(threading.Event(), activity, 0.05, stream="__ddb_stream_users")
    archive = WakeableStop(threading.Event(), activity, 0.05, stream="events-stream")
    users.is_set(), archive.is_set()
    activity.nudge("__ddb_stream_users")
    assert users.seen != activity.seen("__ddb_stream_users")  # its wait returns at once
    assert archive.seen == activity.seen("events-stream")  # its wait runs its course
    archive.is_set()
    activity.nudge(None)  # a write whose stream could not be named wakes every mapping
    assert archive.seen != activity.seen("events-stream")


def test_the_write_names_its_stream_by_name_or_arn(monkeypatch) -> None:
    from localstack_hostmode.patches import esm_stream_wake

    activity = StreamActivity()
    monkeypatch.setattr(esm_stream_wake, "ACTIVITY", activity)
    ok = SimpleNamespace(status_code=200)
    nudge_on_stream_write(None, _context("kinesis", "PutRecord", {"StreamName": "a"}), ok)
    nudge_on_stream_write(None, _context("kinesis", "PutRecords", {
        "StreamARN": "arn:aws:kinesis:us-east-1:000000000000:stream/b"}), ok)
    assert activity.by_stream == {"a": 1, "b": 1}


class FakeIdle:
    """An IdleWait stand-in: a fixed idle wait, counts wake-ups."""

    def __init__(self, wait: float) -> None:
        self.wait, self.woken_count = wait, 0

    def wait_s(self) -> float:
        return self.wait

    def woken(self) -> None:
        self.woken_count += 1


def test_an_idle_mapping_waits_longer_and_a_write_still_wakes_it() -> None:
    activity = StreamActivity()
    stop = WakeableStop(threading.Event(), activity, max_woken_wait=0.01)
    stop.idle = FakeIdle(30.0)
    stop.is_set()
    waiter = threading.Thread(target=stop.wait, args=(0.01,))
    waiter.start()
    waiter.join(timeout=0.3)
    assert waiter.is_alive()  # the 10 ms interval was stretched
    _nudge_soon(activity).join()
    waiter.join(timeout=30)
    assert not waiter.is_alive() and stop.idle.woken_count == 1


def test_an_error_backoff_is_not_stretched() -> None:
    event = threading.Event()
    stop = WakeableStop(event, StreamActivity(), max_woken_wait=1.0)
    stop.idle = FakeIdle(30.0)
    waited: list[float | None] = []
    event.wait = lambda timeout=None: waited.append(timeout) or False  # type: ignore[method-assign]
    stop.wait(2.0)
    assert waited == [2.0]
