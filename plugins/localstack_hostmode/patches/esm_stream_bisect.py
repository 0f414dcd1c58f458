"""A Kinesis or DynamoDB Streams mapping with ``BisectBatchOnFunctionError`` splits a failed
batch in two and retries each half, down to the single bad record, as on AWS.

Why: LocalStack 4.14.0 does not implement it (``StreamPoller.bisect_events`` says "not
implemented", services/lambda_/event_source_mapping/pollers/stream_poller.py): a batch with one
bad record was retried whole and then sent whole to the on-failure destination, so its good
records never reached the function in a batch that succeeded.

What changes: ``StreamPoller.forward_events_to_target`` of a mapping with the flag (carried to
the poller by esm_stream_parameters.py) first tries a batch of two or more records once; when
that try fails, it forwards each half the same way. A single record (or a batch of a mapping
without the flag) goes through LocalStack's own loop with the mapping's retries, record age
and on-failure destination. Splitting does not count against ``MaximumRetryAttempts`` (AWS
says the same). Records of a failed try that ``ReportBatchItemFailures`` reported as done are
not split again: only what LocalStack would have retried is.

Verified on localstack-core 4.14.0; on any other version the registry (registry.py) skips it.
Opt-out: ``HOSTMODE_ESM_BISECT=0``.
"""

from __future__ import annotations

import copy
from typing import Any

from .registry import HostPatch, patch_function

EXHAUSTED = "RetryAttemptsExhausted"


def _raw_sequence(record: dict) -> str:
    """A GetRecords record's sequence number (Kinesis, or DynamoDB Streams)."""
    return record.get("SequenceNumber") or record["dynamodb"]["SequenceNumber"]


def _try_once(forward: Any, poller: Any, shard_id: str, records: list[dict]) -> list[dict]:
    """Forward ``records`` with no retry; the raw records that failed (none: success), as
    they were before (DynamoDB's ``transform_into_events`` rewrites a record in place)."""
    untouched = copy.deepcopy(records)
    parameters = poller.stream_parameters
    processor = poller.processor
    conditions: list[str] = []
    failed: list[dict] = []
    real_context = processor.generate_event_failure_context
    real_send = poller.send_events_to_dlq

    def failure_context(abort_condition: str, **kwargs: Any) -> dict:
        conditions.append(abort_condition)
        return real_context(abort_condition=abort_condition, **kwargs)

    def send_events_to_dlq(shard: str, events: list[dict], context: dict) -> None:
        if conditions and conditions[-1] == EXHAUSTED:
            failed.extend(events)  # to be split, not given up yet
        else:  # e.g. RecordAgeExceeded: that is final
            real_send(shard, events, context)

    retries = parameters.get("MaximumRetryAttempts", -1)
    # the poller handles one shard at a time on its own thread: instance overrides are safe
    parameters["MaximumRetryAttempts"] = 0
    processor.generate_event_failure_context = failure_context
    poller.send_events_to_dlq = send_events_to_dlq
    try:
        forward(poller, shard_id, records)
    finally:
        parameters["MaximumRetryAttempts"] = retries
        del processor.generate_event_failure_context
        del poller.send_events_to_dlq
    failed_sequences = {poller.get_sequence_number(event) for event in failed}
    return [r for r in untouched if _raw_sequence(r) in failed_sequences]


def _forward_bisecting(forward: Any, self: Any, shard_id: str, records: list[dict]) -> None:
    if len(records) < 2 or not self.stream_parameters.get("BisectBatchOnFunctionError"):
        return forward(self, shard_id, records)
    failed = _try_once(forward, self, shard_id, records)
    if not failed:
        return None
    if len(failed) == 1:
        return _forward_bisecting(forward, self, shard_id, failed)
    middle = (len(failed) + 1) // 2
    for half in (failed[:middle], failed[middle:]):
        if self._is_shutdown.is_set():
            return None
        _forward_bisecting(forward, self, shard_id, half)
    return None


def apply() -> None:
    patch_function(
        "localstack.services.lambda_.event_source_mapping.pollers.stream_poller",
        "StreamPoller.forward_events_to_target",
        _forward_bisecting,
    )


PATCH = HostPatch(
    name="esm_stream_bisect",
    changes=(
        "a stream mapping with BisectBatchOnFunctionError splits a failed batch in halves and "
        "retries each, down to the bad record"
    ),
    why="LocalStack retried and gave up the whole batch: good records never succeeded",
    verified_on=("4.14.0",),
    opt_out="HOSTMODE_ESM_BISECT",
    apply=apply,
)
