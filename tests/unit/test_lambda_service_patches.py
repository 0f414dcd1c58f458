"""Host-mode patches of the Lambda service (lambda_log_shipping, lambda_metrics_batching,
lambda_env_timers): the pure parts, without LocalStack."""

from __future__ import annotations

import queue
import time
from dataclasses import dataclass

from localstack_hostmode.patches import lambda_log_shipping as shipping
from localstack_hostmode.patches import lambda_metrics_batching as metrics


@dataclass(frozen=True)
class Item:  # the shape of LocalStack's LogItem
    log_group: str
    log_stream: str
    logs: str


def test_batches_keep_order_per_stream_and_skip_empty_lines() -> None:
    items = [
        (Item("g", "s1", "START a\nline\n\nEND a\n"), 1000),
        (Item("g", "s2", "START b\n"), 1001),
        (Item("g", "s1", "START c\nEND c\n"), 1002),
    ]

    requests = list(shipping.batches(items))

    assert [(g, s, [e["message"] for e in ev]) for g, s, ev in requests] == [
        ("g", "s1", ["START a\n", "line\n", "END a\n", "START c\n", "END c\n"]),
        ("g", "s2", ["START b\n"]),
    ]
    assert [e["timestamp"] for e in requests[0][2]] == [1000, 1000, 1000, 1002, 1002]


def test_batches_stay_chronological_when_the_clock_steps_back() -> None:
    items = [(Item("g", "s", "a\n"), 2000), (Item("g", "s", "b\n"), 1500)]

    [(_, _, events)] = shipping.batches(items)

    assert [e["timestamp"] for e in events] == [2000, 2000]


def test_batches_split_between_invocations_at_the_request_limits(monkeypatch) -> None:
    monkeypatch.setattr(shipping, "MAX_EVENTS", 3)
    items = [(Item("g", "s", "1\n2\n"), 1), (Item("g", "s", "3\n4\n"), 2),
             (Item("g", "s", "5\n6\n7\n8\n"), 3)]

    sizes = [len(events) for _, _, events in shipping.batches(items)]

    # never inside one invocation's log, even one over the limit on its own
    assert sizes == [2, 2, 4]


def test_collect_returns_the_window_and_a_stop() -> None:
    stop = object()
    q: queue.Queue = queue.Queue()
    for item in ("b", "c", stop, "d"):
        q.put(item)

    assert shipping._collect(q, "a", stop) == (["a", "b", "c"], True)
    assert shipping._collect(q, "x", stop) == (["x", "d"], False)


def test_metric_requests_count_datums_of_one_second_as_one() -> None:
    datums = [("1", "us-east-1", "Invocations", "f", 100)] * 3 + [
        ("1", "us-east-1", "Errors", "f", 100),
        ("1", "us-east-1", "Invocations", "f", 101),
        ("2", "eu-west-1", "Invocations", "g", 100),
    ]

    requests = metrics.metric_requests(datums)

    assert set(requests) == {("1", "us-east-1"), ("2", "eu-west-1")}
    first = requests[("1", "us-east-1")]
    assert [(d["MetricName"], d["Counts"], int(d["Timestamp"].timestamp())) for d in first] == [
        ("Invocations", [3.0], 100), ("Errors", [1.0], 100), ("Invocations", [1.0], 101)]
    assert all(d["Values"] == [1.0] for d in first)
    assert first[0]["Dimensions"] == [{"Name": "FunctionName", "Value": "f"}]


def test_shared_timers_fire_once_in_order_unless_cancelled() -> None:
    import threading

    from localstack_hostmode.patches.lambda_env_timers import SharedTimer

    fired: list[str] = []  # in the scheduler's order: its one thread fires them as they fall due
    ran: list[str] = []
    both_ran = threading.Event()

    class Timer(SharedTimer):
        def fire(self) -> None:
            fired.append(self.args[0])
            super().fire()

    def record(name: str) -> None:  # on a thread of its own, as each fired timer's function
        ran.append(name)
        if {"first", "last"} <= set(ran):
            both_ran.set()

    last, first = Timer(1.0, record, args=["last"]), Timer(0.01, record, ["first"])
    last.start()  # the scheduler waits for "last" ...
    first.start()  # ... and wakes for "first", due before it
    cancelled = Timer(0.5, record, args=["cancelled"])
    # cancelled before the scheduler may look at it (its lock held), however slow this thread is
    with SharedTimer.scheduler._cond:
        cancelled.start()
        cancelled.cancel()
    never_started = Timer(0, record, args=["never started"])
    never_started.cancel()

    assert both_ran.wait(5), (fired, ran)
    # in due order: a process starved between the two starts (CI at load ~14 started "first"
    # more than 1 s after "last") has them due the other way round
    due_order = [t.args[0] for t in sorted((first, last), key=lambda t: t.deadline)]
    assert fired == due_order, (fired, first.deadline - last.deadline)
    assert sorted(ran) == ["first", "last"]


def test_fast_uids_are_version_4_uuids_and_the_rest_of_uuid_is_the_module() -> None:
    import uuid

    from localstack_hostmode.patches.uid_without_syscall import _UuidModule

    stand_in = _UuidModule("uuid")
    ids = {stand_in.uuid4() for _ in range(1000)}

    assert len(ids) == 1000
    assert all(u.version == 4 and u.variant == uuid.RFC_4122 for u in ids)
    assert stand_in.UUID is uuid.UUID and stand_in.NAMESPACE_DNS == uuid.NAMESPACE_DNS


def test_request_lines_are_batched_and_other_records_keep_the_order() -> None:
    import io
    import logging

    from localstack_hostmode.patches import request_log_buffer as buffering

    stream = io.StringIO()
    root = logging.Logger("root-under-test")
    plain = logging.StreamHandler(stream)
    plain.setFormatter(logging.Formatter("%(name)s %(message)s"))
    root.addHandler(plain)
    buffered = buffering.replace_default_handler(root, stream)
    assert root.handlers == [buffered] and buffered.formatter is plain.formatter

    def log(name: str, level: int, msg: str) -> None:
        buffered.handle(logging.LogRecord(name, level, __file__, 1, msg, None, None))

    log("localstack.request.aws", logging.INFO, "AWS dynamodb.GetItem => 200")
    log("localstack.request.http", logging.INFO, "GET /x => 200")
    assert stream.getvalue() == ""  # kept
    log("localstack.services", logging.INFO, "other")
    log("localstack.request.aws", logging.WARNING, "AWS x => 500")
    log("localstack.request.http", logging.INFO, "GET /y => 200")
    assert stream.getvalue().splitlines() == [
        "localstack.request.aws AWS dynamodb.GetItem => 200",
        "localstack.request.http GET /x => 200",
        "localstack.services other",
        "localstack.request.aws AWS x => 500",
    ]
    deadline = time.monotonic() + 5
    while "GET /y" not in stream.getvalue():  # the flusher, FLUSH_S later
        assert time.monotonic() < deadline
        time.sleep(0.01)


def test_fast_trace_ids_keep_their_format() -> None:
    import os
    import re

    from localstack_hostmode.patches.uid_without_syscall import _OsModule, token_hex

    stand_in = _OsModule("os")
    assert len(stand_in.urandom(12)) == 12 and stand_in.path is os.path
    assert re.fullmatch(r"[0-9a-f]{24}", token_hex(12))
