"""Kinesis events-stream -> stream processor -> batched JSON Lines objects in the archive bucket."""

from __future__ import annotations

import json

import pytest

from polling import wait_until

from .helpers import App, unique

pytestmark = pytest.mark.integration


def test_kinesis_records_archived_in_batches_once_each(app: App, cleanup) -> None:
    kinesis, s3 = app.client("kinesis"), app.client("s3")
    bucket = app.name("ARCHIVE_BUCKET")
    run = unique("evt")
    before = {o["Key"] for o in list_archive(s3, bucket)}

    # GIVEN six records in one PutRecords call: JSON, plain text and binary payloads
    payloads: list[bytes] = [json.dumps({"run": run, "n": n}).encode() for n in range(4)]
    payloads.append(f"{run} plain text".encode())
    payloads.append(run.encode() + b"\xff\xfe binary")
    resp = kinesis.put_records(
        StreamName=app.name("EVENTS_STREAM"),
        Records=[{"Data": p, "PartitionKey": run} for p in payloads],
    )
    assert resp["FailedRecordCount"] == 0, resp
    sequence_numbers = {r["SequenceNumber"] for r in resp["Records"]}

    # THEN every record lands in the archive exactly once, grouped into batch objects
    def archived() -> dict[str, list[dict]]:
        ours: dict[str, list[dict]] = {}
        for obj in list_archive(s3, bucket):
            if obj["Key"] in before:
                continue
            body = s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read().decode()
            lines = [json.loads(line) for line in body.splitlines() if line]
            mine = [ln for ln in lines if ln["sequence_number"] in sequence_numbers]
            if mine:
                ours[obj["Key"]] = mine
        got = [ln["sequence_number"] for lines in ours.values() for ln in lines]
        assert sorted(got) == sorted(sequence_numbers), f"{len(got)}/{len(payloads)} archived"
        return ours

    objects = wait_until(archived, timeout=45, interval=0.5, what="archive objects")
    for key in objects:
        cleanup(lambda k=key: s3.delete_object(Bucket=bucket, Key=k))

    lines = [ln for batch in objects.values() for ln in batch]
    assert len(objects) < len(payloads), "records were not batched"
    assert all(key.endswith(".jsonl") for key in objects)
    assert sorted(ln["data"]["n"] for ln in lines if "data" in ln) == [0, 1, 2, 3]
    assert [ln["text"] for ln in lines if "text" in ln] == [f"{run} plain text"]
    assert len([ln for ln in lines if "data_base64" in ln]) == 1
    assert all(ln["partition_key"] == run for ln in lines)


def list_archive(s3, bucket: str) -> list[dict]:
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="events/")
    return [o for page in pages for o in page.get("Contents", [])]
