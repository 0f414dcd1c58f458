"""A stream mapping's ``MaximumRecordAgeInSeconds`` discards records when they reach that age,
and their on-failure record says why, as on AWS.

Why: LocalStack 4.14.0's ``StreamPoller.forward_events_to_target``
(services/lambda_/event_source_mapping/pollers/stream_poller.py) checks the age before its
retry backoff (0.5 s growing by 1.5x to 60 s), then sleeps and invokes anyway: a failing record
with a 60 s maximum age was retried past its age and reached the destination after 80 s (12
invocations; measured). The destination's message then had no ``requestContext`` (its
``EsmEventProcessor.generate_event_failure_context`` answers ``{}`` without an invocation
error), so nothing said ``RecordAgeExceeded``.

What changes, for a mapping with a maximum record age only:
- while one batch is forwarded, a backoff wait ends when the batch's oldest record reaches the
  age, and a record that is already that old is not invoked: LocalStack's own loop then
  discards it to the on-failure destination (the refused try counts as an attempt);
- the failure context of ``RecordAgeExceeded`` names the condition, the function and the
  attempts (``requestContext``), like the other conditions;
- a DynamoDB Streams record's age is its ``ApproximateCreationDateTime``: LocalStack took
  "now" for every record (so it never discarded one by age, and its on-failure record's
  ``approximateArrivalOf*`` times were the failure's).

Verified on localstack-core 4.14.0; on any other version the registry (registry.py) skips it.
Opt-out: ``HOSTMODE_ESM_RECORD_AGE=0``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from .registry import HostPatch, patch_function

ESM = "localstack.services.lambda_.event_source_mapping"
RECORD_AGE_EXCEEDED = "RecordAgeExceeded"
MIN_WAIT_S = 0.05


class AgeCappedShutdown:
    """Stands in for a poller's shutdown event while one batch is forwarded: a backoff wait
    ends by ``deadline`` (epoch seconds). ``set``/``is_set`` are the real event's."""

    def __init__(self, event: threading.Event, deadline: float,
                 clock: Callable[[], float] = time.time) -> None:
        self.event, self.deadline, self.clock = event, deadline, clock

    def is_set(self) -> bool:
        return self.event.is_set()

    def set(self) -> None:
        self.event.set()

    def wait(self, timeout: float | None = None) -> bool:
        if timeout is not None:  # a floor: never a busy retry loop
            timeout = min(timeout, max(self.deadline - self.clock(), MIN_WAIT_S))
        return self.event.wait(timeout)


def arrival(record: dict) -> float:
    """A GetRecords record's arrival (Kinesis) or creation (DynamoDB Streams), epoch seconds."""
    stamp = record.get("ApproximateArrivalTimestamp")
    if stamp is None:
        stamp = (record.get("dynamodb") or {}).get("ApproximateCreationDateTime")
    if stamp is None:  # optional in DynamoDB Streams: then the record is as old as its batch
        return time.time()
    return stamp.timestamp() if isinstance(stamp, datetime) else float(stamp)


def record_age_context(function_arn: str, attempts: int | None) -> dict:
    return {"requestContext": {"functionArn": function_arn, "condition": RECORD_AGE_EXCEEDED,
                               "approximateInvokeCount": attempts or 0}}


def _forward_within_record_age(forward: Any, self: Any, shard_id: str, records: list[dict]
                               ) -> None:
    max_age = self.stream_parameters.get("MaximumRecordAgeInSeconds") or -1
    if max_age <= 0 or not records:
        return forward(self, shard_id, records)
    from localstack.services.lambda_.event_source_mapping.event_processor import (
        BatchFailureError,
    )

    processor, shutdown = self.processor, self._is_shutdown
    real_process = processor.process_events_batch

    def process_unexpired(events: list[dict]) -> Any:
        _, expired = self.bisect_events_by_record_age(max_age, events)
        if expired:  # not invoked: the loop's age check discards them on its next turn
            raise BatchFailureError(error=None)
        return real_process(events)

    # the poller handles one shard at a time on its own thread: instance overrides are safe
    self._is_shutdown = AgeCappedShutdown(shutdown, min(map(arrival, records)) + max_age)
    processor.process_events_batch = process_unexpired
    try:
        return forward(self, shard_id, records)
    finally:
        self._is_shutdown = shutdown
        del processor.process_events_batch


def _dynamodb_creation_time(get_arrival: Any, self: Any, record: dict) -> float:
    created = record["dynamodb"].get("ApproximateCreationDateTime")
    if isinstance(created, int | float):  # what transform_into_events made of it
        return float(created)
    return get_arrival(self, record)


def _context_with_record_age(generate: Any, self: Any, abort_condition: str, **kwargs: Any
                             ) -> dict:
    context = generate(self, abort_condition=abort_condition, **kwargs)
    if context or abort_condition != RECORD_AGE_EXCEEDED:
        return context
    return record_age_context(self.sender.target_arn, kwargs.get("attempts_count"))


def apply() -> None:
    patch_function(f"{ESM}.pollers.stream_poller", "StreamPoller.forward_events_to_target",
                   _forward_within_record_age)
    patch_function(f"{ESM}.esm_event_processor", "EsmEventProcessor.generate_event_failure_context",
                   _context_with_record_age)
    patch_function(f"{ESM}.pollers.dynamodb_poller", "DynamoDBPoller.get_approximate_arrival_time",
                   _dynamodb_creation_time)


PATCH = HostPatch(
    name="esm_stream_record_age",
    changes=(
        "a stream mapping never invokes or backs off past MaximumRecordAgeInSeconds, and its "
        "RecordAgeExceeded on-failure record has a requestContext"
    ),
    why="expired records were retried up to ~30 s past their age; the record said no condition",
    verified_on=("4.14.0",),
    opt_out="HOSTMODE_ESM_RECORD_AGE",
    apply=apply,
)
