"""An idle Kinesis or DynamoDB Streams event source mapping polls less and less often (up to
every ``IDLE_MAX_S``); a write to its stream still wakes it at once.

Why: with esm_stream_wake, a write through the gateway wakes a stream mapping, yet LocalStack
4.14.0's ``EsmWorker.poller_loop`` (services/lambda_/event_source_mapping/esm_worker.py) still
polls every LAMBDA_EVENT_SOURCE_MAPPING_POLL_INTERVAL_SEC (1 s) for ever. Each GetRecords is a
request through the gateway (a DynamoDB Streams one is two: LocalStack's DynamoDB Streams
provider reads the Kinesis stream behind the table over HTTP) and a read in the Kinesis mock
(node). After `make deploy-local` (two stream mappings) an idle LocalStack burnt ~4 CPU-s per
minute, all of it these polls (measured from /proc: node ~2, the gateway's threads and
event loop ~1.3, the two poller threads 0.3); on two cores that is CPU taken from tests and
benchmarks, and a laptop's battery.

What changes, for a stream mapping run by esm_stream_wake's ``WakeableStop``: after a round of
empty polls of all its shards with nothing pending in its batchers, the wait between polls
doubles (2, 4, 8, ... up to ``IDLE_MAX_S``, 30 s); a write to the stream (esm_stream_wake's
wake-up) ends the wait as before and returns the mapping to the 1 s interval until its shards
have all been polled empty again; so does a poll that found records or failed. Records pending
in a batching window, error backoffs and stops are as before. 30 s stays far below a shard
iterator's 5-minute lifetime. Only a write that does not go through the gateway's Kinesis API
(none in LocalStack or this kit: DynamoDB Streams records reach their Kinesis stream through it)
would wait longer than 1 s for the next poll: up to ``IDLE_MAX_S``.

Needs esm_stream_wake (without it nothing wakes a mapping, and this patch changes nothing).
Verified on localstack-core 4.14.0; on any other version the registry (registry.py) skips it.
Opt-out: ``HOSTMODE_ESM_STREAM_IDLE_WAIT=0`` (a poll every second, idle or not).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from .registry import HostPatch, patch_function

ESM = "localstack.services.lambda_.event_source_mapping"
IDLE_MAX_S = 30.0


class IdleWait:
    """How long a stream mapping's wait between polls may last: the poll interval until every
    shard was polled empty since the last write, records or failure, then doubling up to
    ``cap``. Nothing pending in a batcher is a condition (its window needs the polls)."""

    def __init__(self, interval: float, shards: Callable[[], int],
                 pending: Callable[[], bool], cap: float = IDLE_MAX_S) -> None:
        self.interval, self.cap = interval, cap
        self._shards, self._pending = shards, pending
        self._lock = threading.Lock()
        self.empty_polls = 0  # consecutive polls without records since the last activity

    def polled(self, found_records: bool) -> None:
        with self._lock:
            self.empty_polls = 0 if found_records else self.empty_polls + 1

    def woken(self) -> None:
        """A write to the stream (or a stop): poll every shard at the interval again."""
        with self._lock:
            self.empty_polls = 0

    def wait_s(self) -> float:
        with self._lock:
            idle_rounds = self.empty_polls - max(self._shards(), 1) + 1
        if idle_rounds <= 0 or self._pending():
            return self.interval
        return min(self.interval * 2 ** idle_rounds, self.cap)


def _pending(poller: Any) -> bool:
    return any(getattr(b, "_batch", None) for b in list(poller.shard_batcher.values()))


def _idle_stream_worker(get_esm_worker: Any, self: Any) -> Any:
    from localstack import config

    from .esm_stream_wake import WakeableStop

    worker = get_esm_worker(self)
    stop = worker._shutdown_event
    if isinstance(stop, WakeableStop):
        poller = worker.poller
        idle = IdleWait(config.LAMBDA_EVENT_SOURCE_MAPPING_POLL_INTERVAL_SEC,
                        lambda: len(poller.shards), lambda: _pending(poller))
        get_records = poller.get_records

        def counting_records(shard_iterator: str) -> dict:
            try:
                response = get_records(shard_iterator)
            except BaseException:
                idle.woken()  # a failed poll (e.g. an expired iterator): the next is not late
                raise
            idle.polled(bool(response.get("Records")))
            return response

        poller.get_records = counting_records
        stop.idle = idle
    return worker


def apply() -> None:
    # registered after esm_stream_wake: wraps its worker factory and sees its WakeableStop
    patch_function(f"{ESM}.esm_worker_factory", "EsmWorkerFactory.get_esm_worker",
                   _idle_stream_worker)


PATCH = HostPatch(
    name="esm_stream_idle_wait",
    changes=(
        "an idle Kinesis or DynamoDB Streams mapping's wait between polls doubles up to 30 s; "
        "a write to its stream still wakes it at once"
    ),
    why="two idle stream mappings polled every second: ~4 CPU-s per minute of an idle LocalStack",
    verified_on=("4.14.0",),
    opt_out="HOSTMODE_ESM_STREAM_IDLE_WAIT",
    apply=apply,
)
