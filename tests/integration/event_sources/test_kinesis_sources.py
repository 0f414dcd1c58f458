"""Kinesis -> Lambda event source mappings as users rely on them: partial batch failures,
retries and the on-failure destination (SQS), bisecting a failed batch, and the starting
positions. Real LocalStack over HTTP; the function is functions/recorder.py."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from .helpers import Sink, drain, put_records

pytestmark = pytest.mark.integration

FAST = {"BatchSize": 10, "MaximumBatchingWindowInSeconds": 0}


def failure_records(sqs: Any, url: str, wait_until: Callable[..., Any]) -> list[dict]:
    found: list[dict] = []
    wait_until(lambda: found.extend(drain(sqs, url)) or found, timeout=30,
               message="an on-failure record at the destination")
    return found


def last_result(lam: Any, esm: str) -> str:
    return lam.get_event_source_mapping(UUID=esm)["LastProcessingResult"]


def test_partial_batch_failure_retries_from_the_failed_record(
        sqs: Any, kinesis: Any, make_stream: Callable[[], str],
        make_queue: Callable[..., tuple[str, str]], make_mapping: Callable[..., str],
        sink: Sink, wait_until: Callable[..., Any]) -> None:
    stream = make_stream()
    dest_url, dest_arn = make_queue()
    seqs = put_records(kinesis, stream, [{"id": "r1"}, {"id": "r2", "fail": "item"},
                                         {"id": "r3"}])
    make_mapping(EventSourceArn=stream, StartingPosition="TRIM_HORIZON", **FAST,
                 MaximumRetryAttempts=1, FunctionResponseTypes=["ReportBatchItemFailures"],
                 DestinationConfig={"OnFailure": {"Destination": dest_arn}})

    # THEN the retry starts at the failed record, and the records it could not process go to
    # the on-failure destination once the retries are used up
    [failure] = failure_records(sqs, dest_url, wait_until)
    calls = sink.quiet(0.5)
    assert [c["ids"] for c in calls] == [["r1", "r2", "r3"], ["r2", "r3"]]
    assert failure["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert failure["requestContext"]["approximateInvokeCount"] == 2
    info = failure["KinesisBatchInfo"]
    assert (info["startSequenceNumber"], info["endSequenceNumber"]) == (seqs[1], seqs[2])
    assert info["batchSize"] == 2 and info["streamArn"] == stream


def test_function_error_retries_then_on_failure_destination(
        lam: Any, sqs: Any, kinesis: Any, make_stream: Callable[[], str],
        make_queue: Callable[..., tuple[str, str]], make_mapping: Callable[..., str],
        sink: Sink, wait_until: Callable[..., Any]) -> None:
    stream = make_stream()
    dest_url, dest_arn = make_queue()
    seqs = put_records(kinesis, stream, [{"id": "bad", "fail": "batch"}])
    esm = make_mapping(EventSourceArn=stream, StartingPosition="TRIM_HORIZON", **FAST,
                 MaximumRetryAttempts=2,
                 DestinationConfig={"OnFailure": {"Destination": dest_arn}})

    [failure] = failure_records(sqs, dest_url, wait_until)
    # the first attempt and MaximumRetryAttempts retries
    assert len(sink.quiet(0.5)) == 3
    assert failure["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert failure["requestContext"]["approximateInvokeCount"] == 3
    function = sink.invocations[0]["function"]
    assert failure["requestContext"]["functionArn"].endswith(f":function:{function}")
    info = failure["KinesisBatchInfo"]
    assert info["startSequenceNumber"] == info["endSequenceNumber"] == seqs[0]
    assert last_result(lam, esm) == "PROBLEM: Function call failed"
    # the stream moves on past the discarded batch
    put_records(kinesis, stream, [{"id": "after"}])
    sink.wait_for(sink.seen("after"), "the next record after the discarded batch")
    wait_until(lambda: last_result(lam, esm) == "OK", timeout=5, message="LastProcessingResult OK")


def test_bisect_batch_on_function_error_isolates_the_bad_record(
        sqs: Any, kinesis: Any, make_stream: Callable[[], str],
        make_queue: Callable[..., tuple[str, str]], make_mapping: Callable[..., str],
        sink: Sink, wait_until: Callable[..., Any]) -> None:
    stream = make_stream()
    dest_url, dest_arn = make_queue()
    put_records(kinesis, stream, [{"id": "ok-1"}, {"id": "bad", "fail": "batch"},
                                  {"id": "ok-2"}, {"id": "ok-3"}])
    make_mapping(EventSourceArn=stream, StartingPosition="TRIM_HORIZON", **FAST,
                 MaximumRetryAttempts=0, BisectBatchOnFunctionError=True,
                 DestinationConfig={"OnFailure": {"Destination": dest_arn}})

    [failure] = failure_records(sqs, dest_url, wait_until)
    calls = sink.quiet(0.5)
    # every good record ends in a batch that succeeded; only the bad one is given up
    succeeded = {i for c in calls if "bad" not in c["ids"] for i in c["ids"]}
    assert succeeded == {"ok-1", "ok-2", "ok-3"}, calls
    assert failure["KinesisBatchInfo"]["batchSize"] == 1


def test_trim_horizon_reads_records_put_before_the_mapping(
        lam: Any, kinesis: Any, make_stream: Callable[[], str],
        make_mapping: Callable[..., str], sink: Sink, wait_until: Callable[..., Any]) -> None:
    stream = make_stream()
    put_records(kinesis, stream, [{"id": "old-1"}, {"id": "old-2"}])
    esm = make_mapping(EventSourceArn=stream, StartingPosition="TRIM_HORIZON", **FAST)
    assert last_result(lam, esm) == "No records processed"
    sink.wait_for(sink.seen("old-1", "old-2"), "the records put before the mapping")
    wait_until(lambda: last_result(lam, esm) == "OK", timeout=5, message="LastProcessingResult OK")


def test_latest_skips_records_put_before_the_mapping(
        kinesis: Any, make_stream: Callable[[], str], make_mapping: Callable[..., str],
        sink: Sink) -> None:
    stream = make_stream()
    put_records(kinesis, stream, [{"id": "before"}])
    make_mapping(EventSourceArn=stream, StartingPosition="LATEST", **FAST)
    # LATEST starts where the stream is when the mapping first reads it: keep putting until a
    # record arrives, then no record from before the mapping may have come with it
    sent = 0

    def arrived(calls: list[dict]) -> bool:
        nonlocal sent
        if not calls:
            sent += 1
            put_records(kinesis, stream, [{"id": f"after-{sent}"}])
        return bool(calls)

    calls = sink.wait_for(arrived, "a record put after the mapping")
    assert not sink.calls_with("before"), calls


def test_at_timestamp_starts_at_the_given_time(
        kinesis: Any, make_stream: Callable[[], str], make_mapping: Callable[..., str],
        sink: Sink) -> None:
    stream = make_stream()
    put_records(kinesis, stream, [{"id": "before"}])
    time.sleep(1.1)  # arrival timestamps have 1 ms resolution; keep well apart
    start = datetime.now(UTC)
    time.sleep(0.1)
    put_records(kinesis, stream, [{"id": "after"}])
    make_mapping(EventSourceArn=stream, StartingPosition="AT_TIMESTAMP",
                 StartingPositionTimestamp=start, **FAST)
    sink.wait_for(sink.seen("after"), "the record put after the timestamp")
    assert not sink.calls_with("before"), sink.invocations
