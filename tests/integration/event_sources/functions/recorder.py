"""Event-source test function: tells a sink queue about each invocation, fails on request.

Each record's payload (an SQS body, Kinesis data, or a DynamoDB NewImage's `payload` string) is
JSON: {"id": ..., "fail": "item" | "batch", "sleep": seconds}. "item" reports the record in
batchItemFailures, "batch" raises after reporting (the whole batch fails).
"""

import base64
import json
import os
import time

import boto3

sqs = boto3.client("sqs")
SINK = os.environ["SINK_QUEUE_URL"]


def _payload_and_id(record):
    if "body" in record:
        return json.loads(record["body"]), record["messageId"]
    if "kinesis" in record:
        data = base64.b64decode(record["kinesis"]["data"])
        return json.loads(data), record["kinesis"]["sequenceNumber"]
    image = record["dynamodb"].get("NewImage") or {}
    payload = json.loads(image["payload"]["S"]) if "payload" in image else {}
    return payload, record["dynamodb"]["SequenceNumber"]


def handler(event, context):
    started = time.time()
    records = event.get("Records", [])
    parsed = [_payload_and_id(r) for r in records]
    time.sleep(max([p.get("sleep", 0) for p, _ in parsed] or [0]))
    sqs.send_message(QueueUrl=SINK, MessageBody=json.dumps({
        "ids": [p.get("id") for p, _ in parsed],
        "item_ids": [i for _, i in parsed],
        "group": records[0].get("attributes", {}).get("MessageGroupId") if records else None,
        "started": started,
        "ended": time.time(),
        "request_id": context.aws_request_id,
        "function": context.function_name,
    }))
    if any(p.get("fail") == "batch" for p, _ in parsed):
        raise RuntimeError("batch failed on purpose")
    return {"batchItemFailures": [{"itemIdentifier": i} for p, i in parsed
                                  if p.get("fail") == "item"]}
