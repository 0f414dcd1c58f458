"""events-stream (Kinesis) consumer: each batch becomes one JSON Lines object in the archive.

Key: `events/YYYY/MM/DD/<shard>/<first-seq>-<last-seq>.jsonl` (date of the first record's arrival),
deterministic per batch, so a retried batch overwrites its object instead of duplicating it.
Each line holds the record's sequence number, partition key, arrival time and its data: parsed
JSON when the payload is JSON, else the text, else base64 — every record can be archived, so
only the S3 write can fail, and then the whole batch is reported as failed (partial batch
response) and retried from its first record.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes import KinesisStreamEvent
from aws_lambda_powertools.utilities.data_classes.kinesis_stream_event import KinesisStreamRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import ClientError

from common.aws import client
from common.settings import SETTINGS

logger = Logger()
s3 = client("s3")

PREFIX = "events"


def archive_line(record: KinesisStreamRecord) -> dict[str, Any]:
    raw = record.kinesis.data_as_bytes()
    line: dict[str, Any] = {
        "sequence_number": record.kinesis.sequence_number,
        "partition_key": record.kinesis.partition_key,
        "arrival": record.kinesis.approximate_arrival_timestamp,
    }
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        line["data_base64"] = base64.b64encode(raw).decode()
        return line
    try:
        line["data"] = json.loads(text)
    except ValueError:
        line["text"] = text
    return line


def batch_key(records: list[KinesisStreamRecord]) -> str:
    first, last = records[0], records[-1]
    day = datetime.fromtimestamp(first.kinesis.approximate_arrival_timestamp, UTC).strftime(
        "%Y/%m/%d"
    )
    shard = (first.event_id or "shard").split(":")[0]
    span = f"{first.kinesis.sequence_number}-{last.kinesis.sequence_number}"
    return f"{PREFIX}/{day}/{shard}/{span}.jsonl"


def archive_batch(records: list[KinesisStreamRecord], bucket: str) -> str | None:
    if not records:
        return None
    body = "".join(json.dumps(archive_line(r), ensure_ascii=False) + "\n" for r in records)
    key = batch_key(records)
    s3.put_object(
        Bucket=bucket, Key=key, Body=body.encode("utf-8"), ContentType="application/x-ndjson"
    )
    logger.info("batch archived", extra={"key": key, "records": len(records)})
    return key


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    records = list(KinesisStreamEvent(event).records)
    try:
        archive_batch(records, SETTINGS.archive_bucket)
    except ClientError:
        logger.exception(
            "archive write failed; the batch will be retried", extra={"records": len(records)}
        )
        # Reporting the first record checkpoints before it: Lambda retries the whole batch.
        return {"batchItemFailures": [{"itemIdentifier": records[0].kinesis.sequence_number}]}
    return {"batchItemFailures": []}
