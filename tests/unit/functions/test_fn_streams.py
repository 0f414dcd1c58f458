"""streams.archive_events: one JSON Lines object per Kinesis batch."""

from __future__ import annotations

import copy
import json

from fnhelpers import event

FIRST = "49590338271490256608559692538361571095921575989136588801"
LAST = "49590338271490256608559692538361571095921575989136588803"
KEY = f"events/2026/11/28/shardId-000000000000/{FIRST}-{LAST}.jsonl"


def _objects(aws) -> list[str]:
    out = aws.s3.list_objects_v2(Bucket="stream-archive-bucket")
    return [o["Key"] for o in out.get("Contents", [])]


def test_batch_becomes_one_object_with_every_record(load, context, aws):
    result = load("streams.archive_events").handler(event("kinesis_events_batch.json"), context)
    assert result == {"batchItemFailures": []}
    assert _objects(aws) == [KEY]
    body = aws.s3.get_object(Bucket="stream-archive-bucket", Key=KEY)["Body"].read().decode()
    lines = [json.loads(line) for line in body.splitlines()]
    assert [line["sequence_number"] for line in lines] == [FIRST, FIRST[:-1] + "2", LAST]
    assert lines[0]["data"] == {"type": "page_view", "page": "/"}
    assert lines[1]["text"] == "plain text event"
    assert lines[2]["data_base64"] == "//4gYmluYXJ5"
    assert lines[0]["partition_key"] == "user-1"


def test_retried_batch_overwrites_instead_of_duplicating(load, context, aws):
    module = load("streams.archive_events")
    module.handler(event("kinesis_events_batch.json"), context)
    module.handler(copy.deepcopy(event("kinesis_events_batch.json")), context)
    assert _objects(aws) == [KEY]


def test_write_failure_reports_the_batch_for_retry(load, context, aws, monkeypatch):
    monkeypatch.setenv("ARCHIVE_BUCKET", "no-such-bucket")
    result = load("streams.archive_events").handler(event("kinesis_events_batch.json"), context)
    assert result == {"batchItemFailures": [{"itemIdentifier": FIRST}]}
    assert _objects(aws) == []


def test_empty_batch(load, context, aws):
    assert load("streams.archive_events").handler({"Records": []}, context) == {
        "batchItemFailures": []
    }
