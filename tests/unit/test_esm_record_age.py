"""The pure parts of patches/esm_stream_record_age.py (the patch itself is covered against a
real LocalStack by hand: a 60 s record age cannot be tested fast)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

from localstack_hostmode.patches.esm_stream_record_age import (
    AgeCappedShutdown,
    arrival,
    record_age_context,
)


def test_a_backoff_wait_ends_at_the_record_age_deadline() -> None:
    event = threading.Event()
    now = [100.0]
    capped = AgeCappedShutdown(event, deadline=100.02, clock=lambda: now[0])
    started = datetime.now(UTC)
    assert capped.wait(30) is False  # would have slept 30 s; the deadline is 20 ms away
    assert (datetime.now(UTC) - started).total_seconds() < 5
    now[0] = 200.0
    started = datetime.now(UTC)
    assert capped.wait(30) is False  # past the deadline: the shortest wait, never a busy loop
    assert (datetime.now(UTC) - started).total_seconds() < 5


def test_shutdown_goes_through_to_the_real_event() -> None:
    event = threading.Event()
    capped = AgeCappedShutdown(event, deadline=0)
    capped.set()
    assert event.is_set() and capped.is_set() and capped.wait(None)


def test_arrival_of_kinesis_and_dynamodb_records() -> None:
    stamp = datetime(2026, 1, 1, tzinfo=UTC)
    assert arrival({"ApproximateArrivalTimestamp": stamp}) == stamp.timestamp()
    assert arrival({"dynamodb": {"ApproximateCreationDateTime": stamp}}) == stamp.timestamp()
    assert arrival({"dynamodb": {"ApproximateCreationDateTime": 12.5}}) == 12.5
    assert arrival({"dynamodb": {}}) > stamp.timestamp()  # optional: taken as now


def test_record_age_context_names_the_condition() -> None:
    assert record_age_context("arn:fn", 3) == {"requestContext": {
        "functionArn": "arn:fn", "condition": "RecordAgeExceeded", "approximateInvokeCount": 3}}
