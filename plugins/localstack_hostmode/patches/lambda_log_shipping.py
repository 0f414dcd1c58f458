"""Lambda function logs reach CloudWatch Logs in batches, timestamped when the invocation ended.

Why: LocalStack 4.14.0's ``LogHandler`` (services/lambda_/invocation/logs.py) ships each
invocation's log (START ... REPORT) with its own ``PutLogEvents`` call, through the gateway, from
one thread per function version. That is off the invoke's response path, but at concurrency 1 it
runs while the next request is served: a GIL-sampling profile (py-spy --gil) of back-to-back
warm invokes put the shipping (the log thread's botocore call and the gateway serving
PutLogEvents: handler chain, moto's logs backend) at ~15% of LocalStack's busy time, competing
with the invoke path on a 2-core host. Every event of a batch also got the time it was shipped,
not the time it was logged.

What changes: the log thread waits up to ``BATCH_WINDOW_S`` after an invocation's log for more and
ships what arrived (per log group and stream, in order) with one ``PutLogEvents`` call, split at
CloudWatch's limits (10,000 events, 1 MiB with 26 bytes per event) between invocations, never
inside one. An event's timestamp is the time its invocation's log was handed over (clamped so a
request stays chronological, as CloudWatch requires). Log group and stream creation on
ResourceNotFoundException, the assumed role, and the order of events are as upstream; a stop
ships what is queued before the thread ends. The role is assumed and the client made at the
first shipment, not when the version starts: a version that is never invoked (a deploy starts
one per function) makes none.

Verified on localstack-core 4.14.0; on any other version the registry (registry.py) skips it
with a warning. Opt-out: ``HOSTMODE_LAMBDA_LOG_BATCHING=0`` ships each invocation's log at once.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
from collections.abc import Iterator
from typing import Any

from .registry import HostPatch, patch_function

LOG = logging.getLogger(__name__)

_LOGS = "localstack.services.lambda_.invocation.logs"
# How long the log thread collects invocations' logs before one PutLogEvents (AWS itself shows
# a function's logs seconds after the invocation).
BATCH_WINDOW_S = 0.2
MAX_EVENTS = 10_000  # PutLogEvents: events per request
MAX_BYTES = 1_048_576  # PutLogEvents: bytes per request, each event's message + 26
EVENT_OVERHEAD = 26
# HOSTMODE_LAMBDA_QUIET_WAITS=0: the batching threads wake for every item again (A/B of the
# change; lambda_metrics_batching reads it too)
QUIET_WAITS = os.environ.get("HOSTMODE_LAMBDA_QUIET_WAITS", "1") != "0"


def log_events(text: str, timestamp_ms: int) -> list[dict[str, Any]]:
    """An invocation's log as events, as upstream splits it: one per non-empty line."""
    lines = [line for line in text.split("\n") if line]
    return [{"timestamp": timestamp_ms, "message": line + "\n"} for line in lines]


def batches(items: list[tuple[Any, int]]) -> Iterator[tuple[str, str, list[dict[str, Any]]]]:
    """(group, stream, events) requests for queued (LogItem, timestamp ms) pairs: per group and
    stream in arrival order, split between items at CloudWatch's request limits."""
    by_target: dict[tuple[str, str], list[list[dict[str, Any]]]] = {}
    for item, timestamp_ms in items:
        events = log_events(item.logs, timestamp_ms)
        if events:
            by_target.setdefault((item.log_group, item.log_stream), []).append(events)
    for (group, stream), per_item in by_target.items():
        request: list[dict[str, Any]] = []
        size = 0
        last = 0
        for events in per_item:
            item_size = sum(len(e["message"].encode()) + EVENT_OVERHEAD for e in events)
            full = len(request) + len(events) > MAX_EVENTS or size + item_size > MAX_BYTES
            if request and full:
                yield group, stream, request
                request, size = [], 0
            for event in events:
                # the clock may step back between two invocations: keep the request in order
                last = event["timestamp"] = max(event["timestamp"], last)
            request += events
            size += item_size
        if request:
            yield group, stream, request


def _put(logs_client: Any, group: str, stream: str, events: list[dict[str, Any]]) -> None:
    """Upstream's PutLogEvents, creating the group and stream when they do not exist."""
    try:
        logs_client.put_log_events(logGroupName=group, logStreamName=stream, logEvents=events)
    except logs_client.exceptions.ResourceNotFoundException:
        try:
            logs_client.create_log_group(logGroupName=group)
        except logs_client.exceptions.ResourceAlreadyExistsException:
            pass
        logs_client.create_log_stream(logGroupName=group, logStreamName=stream)
        logs_client.put_log_events(logGroupName=group, logStreamName=stream, logEvents=events)


def _collect(log_queue: queue.Queue, first: Any, shutdown: Any,
             stopping: threading.Event | None = None) -> tuple[list, bool]:
    """``first`` and what else arrives within the window; True when a stop was among them.

    The thread sleeps out the window (on ``stopping``: LogHandler.stop() sets it before it
    queues its pill) and then takes what is queued: a get with a timeout woke it for every
    invocation's log, a wake-up and a GIL hand-off each (py-spy, perf sched at 32 concurrent
    GETs: ~1.5 context switches per request on this thread alone)."""
    if not QUIET_WAITS:
        return _collect_each(log_queue, first, shutdown)
    (stopping or threading.Event()).wait(BATCH_WINDOW_S)
    items = [first]
    while True:
        try:
            item = log_queue.get_nowait()
        except queue.Empty:
            return items, False
        if item is shutdown:
            return items, True
        items.append(item)


def _collect_each(log_queue: queue.Queue, first: Any, shutdown: Any) -> tuple[list, bool]:
    """_collect as before HOSTMODE_LAMBDA_QUIET_WAITS: a get per item within the window."""
    items = [first]
    deadline = time.monotonic() + BATCH_WINDOW_S
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return items, False
        try:
            item = log_queue.get(timeout=remaining)
        except queue.Empty:
            return items, False
        if item is shutdown:
            return items, True
        items.append(item)


def _add_logs(_add_logs_upstream: Any, self: Any, log_item: Any) -> None:
    from localstack.utils.bootstrap import is_api_enabled

    if is_api_enabled("logs"):
        self.log_queue.put((log_item, int(time.time() * 1000)))


def _logs_client(handler: Any) -> Any:
    """Upstream's client for the log thread: CloudWatch Logs as the function's role."""
    from localstack.aws.connect import connect_to
    from localstack.utils.aws.client_types import ServicePrincipal

    return connect_to.with_assumed_role(
        region_name=handler.region,
        role_arn=handler.role_arn,
        service_principal=ServicePrincipal.lambda_,
    ).logs


def _run_log_loop(_run_log_loop_upstream: Any, self: Any, *args: Any, **kwargs: Any) -> None:
    from localstack.services.lambda_.invocation import logs as upstream

    # made at the first shipment, not when the version starts (upstream): a deploy starts a
    # version per function, each an AssumeRole and two clients (~3% of LocalStack's CPU in a
    # full deploy) for a thread that ships nothing until the function is invoked
    logs_client = None
    stopping = False
    while not stopping:  # what was queued before a stop is still shipped
        first = self.log_queue.get()
        if first is upstream.QUEUE_SHUTDOWN:
            return
        items, stopping = _collect(self.log_queue, first, upstream.QUEUE_SHUTDOWN,
                                   self._shutdown_event)
        for group, stream, events in batches(items):
            try:
                logs_client = logs_client or _logs_client(self)
                _put(logs_client, group, stream, events)
            except Exception as e:
                LOG.warning("Error saving logs to group %s in region %s: %s", group,
                            self.region, e)


def apply() -> None:
    patch_function(_LOGS, "LogHandler.add_logs", _add_logs)
    patch_function(_LOGS, "LogHandler.run_log_loop", _run_log_loop)


PATCH = HostPatch(
    name="lambda_log_shipping",
    changes=(
        "Lambda logs are shipped to CloudWatch Logs in batches (one PutLogEvents per group and "
        f"stream every {BATCH_WINDOW_S} s at most), each invocation's events timestamped when it "
        "ended"
    ),
    why=(
        "one PutLogEvents per invocation through the gateway competed with the next request "
        "for the CPU and the GIL"
    ),
    verified_on=("4.14.0",),
    opt_out="HOSTMODE_LAMBDA_LOG_BATCHING",
    apply=apply,
)
