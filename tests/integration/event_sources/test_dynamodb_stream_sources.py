"""DynamoDB Streams -> Lambda mappings: bisecting a failed batch and the on-failure destination,
filter criteria on the new image. (The plain stream -> Lambda path is in
tests/integration/test_dynamodb_streams.py.) Real LocalStack over HTTP."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from .helpers import Sink, drain

pytestmark = pytest.mark.integration


@pytest.fixture
def streamed_table(aws_client: Callable[..., Any], make_table: Callable[..., str]
                   ) -> tuple[str, str]:
    """(name, stream ARN) of a table with a NEW_IMAGE stream."""
    name = make_table(AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                      KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                      StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"})
    return name, aws_client("dynamodb").describe_table(TableName=name)["Table"]["LatestStreamArn"]


def put(ddb: Any, table: str, payload: dict) -> None:
    ddb.put_item(TableName=table, Item={"id": {"S": payload["id"]},
                                        "kind": {"S": payload.get("kind", "-")},
                                        "payload": {"S": json.dumps(payload)}})


def test_bisect_isolates_the_bad_record_and_gives_it_up(
        ddb: Any, sqs: Any, streamed_table: tuple[str, str],
        make_queue: Callable[..., tuple[str, str]], make_mapping: Callable[..., str],
        sink: Sink, wait_until: Callable[..., Any]) -> None:
    table, stream = streamed_table
    dest_url, dest_arn = make_queue()
    for payload in ({"id": "ok-1"}, {"id": "bad", "fail": "batch"}, {"id": "ok-2"}):
        put(ddb, table, payload)
    make_mapping(EventSourceArn=stream, StartingPosition="TRIM_HORIZON", BatchSize=10,
                 MaximumBatchingWindowInSeconds=0, MaximumRetryAttempts=0,
                 BisectBatchOnFunctionError=True,
                 DestinationConfig={"OnFailure": {"Destination": dest_arn}})

    found: list[dict] = []
    wait_until(lambda: found.extend(drain(sqs, dest_url)) or found, timeout=30,
               message="an on-failure record at the destination")
    calls = sink.quiet(0.5)
    succeeded = {i for c in calls if "bad" not in c["ids"] for i in c["ids"]}
    assert succeeded == {"ok-1", "ok-2"}, calls
    [failure] = found
    assert failure["requestContext"]["condition"] == "RetryAttemptsExhausted"
    info = failure["DDBStreamBatchInfo"]
    assert info["batchSize"] == 1 and info["streamArn"] == stream


def test_filter_criteria_on_the_new_image(
        ddb: Any, streamed_table: tuple[str, str], make_mapping: Callable[..., str],
        sink: Sink) -> None:
    table, stream = streamed_table
    make_mapping(EventSourceArn=stream, StartingPosition="TRIM_HORIZON", BatchSize=10,
                 MaximumBatchingWindowInSeconds=0, FilterCriteria={"Filters": [{"Pattern": (
                     json.dumps({"dynamodb": {"NewImage": {"kind": {"S": ["keep"]}}}}))}]})
    put(ddb, table, {"id": "dropped", "kind": "drop"})
    put(ddb, table, {"id": "kept", "kind": "keep"})
    sink.wait_for(sink.seen("kept"), "the matching record at the function")
    assert not sink.calls_with("dropped"), sink.invocations
