"""DynamoDB Streams -> Lambda (event source mapping), end to end in host mode.

Needs the host-mode Lambda executor (plugins/localstack_hostmode/executor*.py): the function is
a real Python process that forwards each record it receives to an SQS queue the test reads.
"""

from __future__ import annotations

import io
import json
import textwrap
import uuid
import zipfile
from collections.abc import Callable, Iterator
from typing import Any

import pytest

pytestmark = pytest.mark.integration

FORWARDER = textwrap.dedent('''
    import json, os
    import boto3

    sqs = boto3.client("sqs")  # created once per environment, as in the app
    QUEUE_URL = os.environ["SINK_QUEUE_URL"]

    def handler(event, context):
        for record in event["Records"]:
            sqs.send_message(QueueUrl=QUEUE_URL, MessageBody=json.dumps(record))
        return {"batchItemFailures": []}
''')


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def zip_source(source: str, name: str = "handler.py") -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(name, source)
    return buf.getvalue()


@pytest.fixture
def stream_pipeline(aws_client: Callable[..., Any],
                    wait_until: Callable[..., Any]) -> Iterator[dict[str, str]]:
    """A table with a NEW_AND_OLD_IMAGES stream -> ESM -> forwarder Lambda -> SQS sink."""
    ddb, lam, sqs, iam = (aws_client(s) for s in ("dynamodb", "lambda", "sqs", "iam"))
    table, function, role = unique("stream-src"), unique("stream-fn"), unique("stream-role")
    queue_url = sqs.create_queue(QueueName=unique("stream-sink"))["QueueUrl"]
    esm_uuid = None
    try:
        ddb.create_table(TableName=table, BillingMode="PAY_PER_REQUEST",
                         AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                         KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                         StreamSpecification={"StreamEnabled": True,
                                              "StreamViewType": "NEW_AND_OLD_IMAGES"})
        ddb.get_waiter("table_exists").wait(TableName=table,
                                            WaiterConfig={"Delay": 0.2, "MaxAttempts": 50})
        stream_arn = ddb.describe_table(TableName=table)["Table"]["LatestStreamArn"]
        role_arn = iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps({
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                           "Principal": {"Service": "lambda.amazonaws.com"}}],
        }))["Role"]["Arn"]
        lam.create_function(FunctionName=function, Runtime="python3.12", Role=role_arn,
                            Handler="handler.handler", Timeout=30,
                            Code={"ZipFile": zip_source(FORWARDER)},
                            Environment={"Variables": {"SINK_QUEUE_URL": queue_url}})
        lam.get_waiter("function_active_v2").wait(FunctionName=function,
                                                  WaiterConfig={"Delay": 0.5, "MaxAttempts": 60})
        esm_uuid = lam.create_event_source_mapping(
            EventSourceArn=stream_arn, FunctionName=function, StartingPosition="TRIM_HORIZON",
            BatchSize=10, MaximumBatchingWindowInSeconds=0)["UUID"]
        wait_until(lambda: lam.get_event_source_mapping(UUID=esm_uuid)["State"] == "Enabled",
                   timeout=30, message="event source mapping Enabled")
        yield {"table": table, "stream_arn": stream_arn, "queue_url": queue_url,
               "function": function}
    finally:
        if esm_uuid:
            lam.delete_event_source_mapping(UUID=esm_uuid)
        for cleanup in (lambda: lam.delete_function(FunctionName=function),
                        lambda: ddb.delete_table(TableName=table),
                        lambda: iam.delete_role(RoleName=role),
                        lambda: sqs.delete_queue(QueueUrl=queue_url)):
            try:
                cleanup()
            except Exception:  # best effort: the resource may not have been created
                pass


def test_stream_changes_reach_lambda_in_order(aws_client: Callable[..., Any],
                                              stream_pipeline: dict[str, str],
                                              wait_until: Callable[..., Any]) -> None:
    ddb, sqs = aws_client("dynamodb"), aws_client("sqs")
    table, queue_url = stream_pipeline["table"], stream_pipeline["queue_url"]
    key = {"id": {"S": "user-1"}}
    # WHEN an item is inserted, modified and removed
    ddb.put_item(TableName=table, Item={**key, "email": {"S": "a@example.com"}})
    ddb.update_item(TableName=table, Key=key, UpdateExpression="SET email = :e",
                    ExpressionAttributeValues={":e": {"S": "b@example.com"}})
    ddb.delete_item(TableName=table, Key=key)

    # THEN the function receives the three records, in order, with both images
    received: list[dict] = []

    def three_forwarded() -> bool:
        out = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        for message in out.get("Messages", []):
            received.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
        return len(received) >= 3

    wait_until(three_forwarded, timeout=60, interval=0, message="3 stream records at the Lambda")
    received.sort(key=lambda r: int(r["dynamodb"]["SequenceNumber"]))
    assert [r["eventName"] for r in received] == ["INSERT", "MODIFY", "REMOVE"]
    assert all(r["eventSource"] == "aws:dynamodb" for r in received)
    assert all(r["eventSourceARN"] == stream_pipeline["stream_arn"] for r in received)
    insert, modify, remove = (r["dynamodb"] for r in received)
    assert insert["Keys"] == key
    assert insert["NewImage"]["email"] == {"S": "a@example.com"}
    assert modify["OldImage"]["email"] == {"S": "a@example.com"}
    assert modify["NewImage"]["email"] == {"S": "b@example.com"}
    assert remove["OldImage"]["email"] == {"S": "b@example.com"}
    assert "NewImage" not in remove
