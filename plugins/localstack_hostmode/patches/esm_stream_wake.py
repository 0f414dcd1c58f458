"""A Kinesis or DynamoDB Streams event source mapping polls as soon as records are written, and
its batching window counts from its last batch, not from its last empty poll.

Why: LocalStack 4.14.0's ``EsmWorker.poller_loop``
(services/lambda_/event_source_mapping/esm_worker.py) waits
LAMBDA_EVENT_SOURCE_MAPPING_POLL_INTERVAL_SEC (1 s) after every poll of a stream, records or
not (``StreamPoller.poll_events`` never reports an empty shard): a record written to an idle
stream waited up to 1 s for the next GetRecords (user insert -> welcome mail, Kinesis put ->
archive: ~0.1-1.1 s, uniform over the interval). Polling more often costs every idle mapping
GetRecords calls through the gateway and the Kinesis mock, all day.

And ``StreamPoller.poll_events_from_shard`` adds every poll's records, none included, to the
shard's ``Batcher``, whose window (``MaximumBatchingWindowInSeconds``) restarts at each flush,
empty ones too: with a window of 1 s (the archive mapping), a record arriving just after an
empty poll waited for the window, measured from that poll.

What changes:
- a Kinesis PutRecord/PutRecords answered without error (DynamoDB Streams records reach their
  Kinesis stream the same way, through the gateway) wakes the mappings of that stream waiting
  between polls (``StreamActivity``; a write whose stream it cannot name wakes all: waking every
  mapping on every write had each `POST /users` poll the archive stream too, POST at
  concurrency 1 at 0.66-0.71x); the 1 s poll interval stays as the fallback, error backoffs (> the
  interval) are not cut short, and a worker's stop still ends its wait. A poll that found
  records is followed by the next one no sooner than ``BUSY_GAP_S`` (1 s, LocalStack's
  interval): a stream written to all the time is polled as by LocalStack (at 0.2 s, 5 polls a
  second of the welcome-mail mapping under `POST /users` load took CPU from the API: POST at
  concurrency 1 fell to 0.71x, median of 4 interleaved rounds);
- a poll that finds no records and has none pending leaves the batcher alone: the window counts
  from the mapping's last batch, so the first records after a quiet window go out at once (as
  they did after LocalStack's own 1 s poll interval), and records arriving within a window of the
  last batch still wait for it. A window of 0 is unchanged.

Verified on localstack-core 4.14.0; on any other version the registry (registry.py) skips it.
Opt-out: ``HOSTMODE_ESM_STREAM_WAKE=0``.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from .registry import HostPatch, patch_function

ESM = "localstack.services.lambda_.event_source_mapping"
WAKING_OPERATIONS = frozenset({"PutRecord", "PutRecords"})
BUSY_GAP_S = 1.0  # after a poll that found records: LocalStack's own poll interval


DDB_STREAM_PREFIX = "__ddb_stream_"  # LocalStack's Kinesis stream behind a table's stream


def stream_name_of(arn: str) -> str | None:
    """The Kinesis stream name behind a mapping's source: a Kinesis stream ARN's name, or for a
    DynamoDB stream the Kinesis stream LocalStack writes its records to."""
    resource = arn.split(":", 5)[-1]
    if arn.startswith("arn:aws:kinesis:") and resource.startswith("stream/"):
        return resource.split("/", 2)[1]
    if arn.startswith("arn:aws:dynamodb:") and resource.startswith("table/"):
        return DDB_STREAM_PREFIX + resource.split("/", 2)[1]
    return None


class StreamActivity:
    """Counters of writes to streams, each stream's and all of them, that pollers watch."""

    def __init__(self) -> None:
        self.changed = threading.Condition()
        self.generation = 0
        self.by_stream: dict[str, int] = {}

    def nudge(self, stream: str | None = None) -> None:
        """A write to ``stream`` (None: to a stream we could not name, which wakes all)."""
        with self.changed:
            self.generation += 1
            key = stream if stream is not None else "*"
            self.by_stream[key] = self.by_stream.get(key, 0) + 1
            self.changed.notify_all()

    def seen(self, stream: str | None) -> tuple[int, int]:
        """What a poller of ``stream`` compares to notice a write (None: any write)."""
        if stream is None:
            return (self.generation, 0)
        return (self.by_stream.get(stream, 0), self.by_stream.get("*", 0))


ACTIVITY = StreamActivity()


class WakeableStop:
    """Stands in for an EsmWorker's shutdown event: ``wait`` also ends when the stream activity
    changed since the loop last checked ``is_set`` (just before it polled), if the wait is no
    longer than ``max_woken_wait`` (the poll interval; an error backoff is waited in full).
    After a poll that found records (``busy``), a woken wait lasts at least until ``BUSY_GAP_S``
    after that poll began: a stream written to all the time is polled once a second, as by
    LocalStack (an idle stream's first record is read at once)."""

    def __init__(self, event: threading.Event, activity: StreamActivity,
                 max_woken_wait: float, clock: Any = time.monotonic,
                 stream: str | None = None) -> None:
        self.event, self.activity, self.max_woken_wait = event, activity, max_woken_wait
        self.clock, self.stream = clock, stream
        self.seen = activity.seen(stream)
        self.polled_at = clock()
        self.busy = False  # the last poll found records (set by the poller's get_records)
        # esm_stream_idle_wait: how long an idle mapping's woken wait may last (None: the interval)
        self.idle: Any = None

    def is_set(self) -> bool:
        self.seen = self.activity.seen(self.stream)
        self.polled_at = self.clock()
        return self.event.is_set()

    def set(self) -> None:
        self.event.set()
        with self.activity.changed:  # wake a wait in progress
            self.activity.changed.notify_all()

    def clear(self) -> None:
        self.event.clear()

    def wait(self, timeout: float | None = None) -> bool:
        if timeout is None or timeout > self.max_woken_wait:
            return self.event.wait(timeout)
        if self.idle is not None:
            timeout = max(timeout, self.idle.wait_s())
        deadline = self.clock() + timeout
        with self.activity.changed:
            while not self.event.is_set() and self.activity.seen(self.stream) == self.seen:
                remaining = deadline - self.clock()
                if remaining <= 0:
                    return self.event.is_set()
                self.activity.changed.wait(remaining)
        if self.idle is not None:
            self.idle.woken()
        if self.busy and not self.event.is_set():
            gap = min(self.polled_at + BUSY_GAP_S, deadline) - self.clock()
            if gap > 0:
                self.event.wait(gap)
        return self.event.is_set()


class SkipIdleAdds:
    """Mixin for LocalStack's ``Batcher``: adding no records to an empty batch checks nothing, so
    an empty poll neither flushes nor restarts the window."""

    _batch: list

    def add(self, item_or_items: Any, *, deep_copy: bool = False) -> bool:
        if isinstance(item_or_items, list) and not item_or_items and not self._batch:
            return False
        return super().add(item_or_items, deep_copy=deep_copy)  # type: ignore[misc]


def nudge_on_stream_write(_chain: Any, context: Any, response: Any) -> None:
    """Gateway response handler: a stream write went through."""
    service, operation = getattr(context, "service", None), getattr(context, "operation", None)
    if (service is not None and operation is not None and service.service_name == "kinesis"
            and operation.name in WAKING_OPERATIONS and response.status_code < 400):
        request = getattr(context, "service_request", None) or {}
        name = request.get("StreamName")
        if not name and (arn := request.get("StreamARN")):
            name = stream_name_of(arn)
        ACTIVITY.nudge(name)


def _waking_stream_worker(get_esm_worker: Any, self: Any) -> Any:
    from localstack import config
    from localstack.services.lambda_.event_source_mapping.pollers.stream_poller import (
        StreamPoller,
    )
    from localstack.utils.batching import Batcher

    worker = get_esm_worker(self)
    poller = worker.poller
    if isinstance(poller, StreamPoller):
        stop = WakeableStop(worker._shutdown_event, ACTIVITY,
                            config.LAMBDA_EVENT_SOURCE_MAPPING_POLL_INTERVAL_SEC,
                            stream=stream_name_of(poller.source_arn or ""))
        worker._shutdown_event = stop
        get_records = poller.get_records

        def noting_records(shard_iterator: str) -> dict:
            response = get_records(shard_iterator)
            stop.busy = bool(response.get("Records"))
            return response

        poller.get_records = noting_records
        batcher = type("IdleWindowBatcher", (SkipIdleAdds, Batcher), {})
        poller.shard_batcher.default_factory = lambda: batcher(  # LocalStack's, lazily too
            max_count=poller.stream_parameters.get("BatchSize", 100),
            max_window=poller.stream_parameters.get("MaximumBatchingWindowInSeconds", 0))
    return worker


def apply() -> None:
    from localstack.aws import handlers

    handlers.run_custom_response_handlers.append(nudge_on_stream_write)
    patch_function(f"{ESM}.esm_worker_factory", "EsmWorkerFactory.get_esm_worker",
                   _waking_stream_worker)


PATCH = HostPatch(
    name="esm_stream_wake",
    changes=(
        "Kinesis and DynamoDB Streams mappings poll as soon as a record is written (not after "
        "the 1 s poll interval); the batching window counts from the last batch"
    ),
    why="a record written to an idle stream waited up to 1 s (uniform) for the next GetRecords",
    verified_on=("4.14.0",),
    opt_out="HOSTMODE_ESM_STREAM_WAKE",
    apply=apply,
)
