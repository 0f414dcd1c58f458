"""init-aws.sh: creates the data layer as specified, and a second run changes nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import data_layer

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "init-aws.sh"
SPEC = data_layer.load_spec()
# deploy.py passes the spec's names to the template: init-aws.sh must create exactly them
DEFAULT_NAMES = data_layer.names(SPEC, environ={})
SEEDED = {"SKU-1": "100", "SKU-OUT": "0"}
VISIBILITY_TIMEOUT = 10  # orders-queue (spec); tests/unit/test_deploy_data_layer.py pins it


def run_init(endpoint: str, names: dict[str, str]) -> subprocess.CompletedProcess[str]:
    # the python with boto3 comes from the test venv (LocalStack's venv when `make up` runs it)
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    env = dict(os.environ, AWS_ENDPOINT_URL=endpoint, PATH=path, **names)
    result = subprocess.run([str(SCRIPT)], env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, f"init-aws.sh failed:\n{result.stderr}"
    return result


def snapshot(aws_client: Callable[..., Any], names: dict[str, str]) -> dict[str, Any]:
    """Everything init-aws.sh defines, minus counters that move on their own."""
    ddb, sqs, s3 = aws_client("dynamodb"), aws_client("sqs"), aws_client("s3")
    ses, kinesis = aws_client("ses"), aws_client("kinesis")
    snap: dict[str, Any] = {}
    for var in ("USERS_TABLE", "ORDERS_TABLE", "IDEMPOTENCY_TABLE", "INVENTORY_TABLE"):
        table = ddb.describe_table(TableName=names[var])["Table"]
        for volatile in ("ItemCount", "TableSizeBytes"):
            table.pop(volatile, None)
        for index in table.get("GlobalSecondaryIndexes", []):
            index.pop("ItemCount", None)
            index.pop("IndexSizeBytes", None)
        snap[var] = table
        snap[var + ":ttl"] = ddb.describe_time_to_live(
            TableName=names[var])["TimeToLiveDescription"]
    snap["seed"] = {
        sku: ddb.get_item(TableName=names["INVENTORY_TABLE"], Key={"sku": {"S": sku}},
                          ConsistentRead=True).get("Item")
        for sku in SEEDED
    }
    for var in ("ORDERS_QUEUE", "ORDERS_DLQ"):
        url = sqs.get_queue_url(QueueName=names[var])["QueueUrl"]
        attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        snap[var] = {k: v for k, v in attrs.items() if not k.startswith("ApproximateNumber")}
    buckets = {b["Name"]: b["CreationDate"] for b in s3.list_buckets()["Buckets"]}
    snap["buckets"] = {names[v]: buckets.get(names[v]) for v in ("IMAGES_BUCKET",
                                                                  "ARCHIVE_BUCKET")}
    snap["ses"] = ses.get_identity_verification_attributes(
        Identities=[names["SES_SENDER"]])["VerificationAttributes"]
    snap["stream"] = kinesis.describe_stream_summary(
        StreamName=names["EVENTS_STREAM"])["StreamDescriptionSummary"]
    return snap


@pytest.fixture
def unique_names(aws_client: Callable[..., Any]) -> Iterator[dict[str, str]]:
    """A private set of resource names (env overrides), deleted after the test."""
    suffix = uuid.uuid4().hex[:8]
    names = {var: f"it-{suffix}-{default}" for var, default in DEFAULT_NAMES.items()}
    names["SES_SENDER"] = f"init-{suffix}@example.com"
    yield names
    ddb, sqs, s3 = aws_client("dynamodb"), aws_client("sqs"), aws_client("s3")
    for var in ("USERS_TABLE", "ORDERS_TABLE", "IDEMPOTENCY_TABLE", "INVENTORY_TABLE"):
        _quietly(lambda var=var: ddb.delete_table(TableName=names[var]))
    for var in ("ORDERS_QUEUE", "ORDERS_DLQ"):
        _quietly(lambda var=var: sqs.delete_queue(
            QueueUrl=sqs.get_queue_url(QueueName=names[var])["QueueUrl"]))
    for var in ("IMAGES_BUCKET", "ARCHIVE_BUCKET"):
        _quietly(lambda var=var: s3.delete_bucket(Bucket=names[var]))
    _quietly(lambda: aws_client("ses").delete_identity(Identity=names["SES_SENDER"]))
    _quietly(lambda: aws_client("kinesis").delete_stream(StreamName=names["EVENTS_STREAM"],
                                                         EnforceConsumerDeletion=True))


def _quietly(fn: Callable[[], Any]) -> None:
    try:
        fn()
    except Exception:  # cleanup of something the test may not have created
        pass


def test_creates_the_data_layer_as_specified(localstack: str, aws_client: Callable[..., Any],
                                             unique_names: dict[str, str]) -> None:
    # WHEN init-aws.sh runs with overridden names
    run_init(localstack, unique_names)
    snap = snapshot(aws_client, unique_names)
    # THEN users has its key, the unique-email GSI and a NEW_AND_OLD_IMAGES stream
    users = snap["USERS_TABLE"]
    assert users["KeySchema"] == [{"AttributeName": "user_id", "KeyType": "HASH"}]
    (gsi,) = users["GlobalSecondaryIndexes"]
    assert gsi["IndexName"] == "email-index"
    assert gsi["KeySchema"] == [{"AttributeName": "email", "KeyType": "HASH"}]
    assert users["StreamSpecification"] == {"StreamEnabled": True,
                                            "StreamViewType": "NEW_AND_OLD_IMAGES"}
    assert snap["ORDERS_TABLE"]["KeySchema"] == [{"AttributeName": "order_id", "KeyType": "HASH"}]
    # the idempotency table matches powertools' DynamoDBPersistenceLayer defaults
    assert snap["IDEMPOTENCY_TABLE"]["KeySchema"] == [{"AttributeName": "id", "KeyType": "HASH"}]
    assert snap["IDEMPOTENCY_TABLE:ttl"] == {"TimeToLiveStatus": "ENABLED",
                                             "AttributeName": "expiration"}
    assert snap["INVENTORY_TABLE"]["KeySchema"] == [{"AttributeName": "sku", "KeyType": "HASH"}]
    assert {sku: item["stock"]["N"] for sku, item in snap["seed"].items()} == SEEDED
    for var in ("USERS_TABLE", "ORDERS_TABLE", "IDEMPOTENCY_TABLE", "INVENTORY_TABLE"):
        assert snap[var]["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    # the queue redrives to the DLQ after 3 receives, 10 s apart (>= the consumer's timeout)
    assert_queues_as_specified(snap)
    assert all(snap["buckets"].values()), snap["buckets"]
    assert snap["ses"][unique_names["SES_SENDER"]]["VerificationStatus"] == "Success"
    assert snap["stream"]["OpenShardCount"] == 1


def assert_queues_as_specified(snap: dict[str, Any]) -> None:
    queue = snap["ORDERS_QUEUE"]
    assert queue["VisibilityTimeout"] == str(VISIBILITY_TIMEOUT)
    redrive = json.loads(queue["RedrivePolicy"])
    assert redrive["deadLetterTargetArn"] == snap["ORDERS_DLQ"]["QueueArn"]
    assert int(redrive["maxReceiveCount"]) == 3
    assert snap["ORDERS_DLQ"]["MessageRetentionPeriod"] == "1209600"


def test_second_run_changes_nothing(localstack: str, aws_client: Callable[..., Any],
                                    unique_names: dict[str, str]) -> None:
    run_init(localstack, unique_names)
    before = snapshot(aws_client, unique_names)
    # GIVEN live data in a seeded item (the saga took stock)
    ddb = aws_client("dynamodb")
    ddb.update_item(TableName=unique_names["INVENTORY_TABLE"], Key={"sku": {"S": "SKU-1"}},
                    UpdateExpression="ADD stock :m", ExpressionAttributeValues={":m": {"N": "-7"}})
    before["seed"]["SKU-1"]["stock"] = {"N": "93"}
    # WHEN it runs again THEN it succeeds and every resource is as it was (not recreated)
    second = run_init(localstack, unique_names)
    assert "exists" in second.stderr
    assert snapshot(aws_client, unique_names) == before


def test_existing_queues_with_other_attributes_converge(
    localstack: str, aws_client: Callable[..., Any], unique_names: dict[str, str]
) -> None:
    # GIVEN queues an older init-aws.sh left behind: a 30 s visibility timeout, no redrive,
    # default retention (create-queue refuses to return a queue whose attributes differ)
    sqs = aws_client("sqs")
    sqs.create_queue(QueueName=unique_names["ORDERS_DLQ"])
    sqs.create_queue(QueueName=unique_names["ORDERS_QUEUE"],
                     Attributes={"VisibilityTimeout": "30"})
    # WHEN init-aws.sh runs THEN it succeeds and the queues are as specified
    run_init(localstack, unique_names)
    converged = snapshot(aws_client, unique_names)
    assert_queues_as_specified(converged)
    # AND a further run changes nothing
    run_init(localstack, unique_names)
    assert snapshot(aws_client, unique_names) == converged


def test_rerun_against_the_running_stack_is_a_no_op(localstack: str,
                                                    aws_client: Callable[..., Any]) -> None:
    """`make up` already ran it with the default names; once more changes nothing."""
    before = snapshot(aws_client, DEFAULT_NAMES)
    run_init(localstack, DEFAULT_NAMES)
    assert snapshot(aws_client, DEFAULT_NAMES) == before
