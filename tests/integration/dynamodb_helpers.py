"""Plain helpers of the DynamoDB integration tests (fixtures are in conftest.py)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def delete_quietly(ddb: Any, name: str) -> None:
    """Delete a table that a test may already have deleted."""
    try:
        ddb.delete_table(TableName=name)
    except ClientError as e:
        if e.response["Error"]["Code"] != "ResourceNotFoundException":
            raise


def error_code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return exc.value.response["Error"]["Code"]


def stream_records(streams: Any, stream_arn: str, count: int,
                   wait_until: Callable[..., Any]) -> list[dict]:
    """The first ``count`` records of the stream's first shard, polled against a deadline."""
    shard = streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"][0]
    iterator = streams.get_shard_iterator(StreamArn=stream_arn, ShardId=shard["ShardId"],
                                          ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    records: list[dict] = []

    def enough() -> bool:
        nonlocal iterator
        out = streams.get_records(ShardIterator=iterator)
        records.extend(out["Records"])
        iterator = out.get("NextShardIterator") or iterator
        return len(records) >= count

    wait_until(enough, timeout=15, message=f"{count} stream records")
    return records
