"""Unit-test fixtures for functions/: moto in-process, no network, no LocalStack.

`aws` starts moto and creates the data layer (same names and keys as init-aws.sh); `load`
imports a handler module afresh inside the mock, so its module-level settings and clients
(created at import, as in Lambda's init phase) see this test's environment.
"""

from __future__ import annotations

import importlib
import json
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import boto3
import pytest
from fnhelpers import FakeContext
from moto import mock_aws

APP_PACKAGES = ("common", "users", "orders", "images", "streams")
REGION = "us-east-1"
SENDER = "orders@example.com"


@pytest.fixture(autouse=True)
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    # Never let a developer's LocalStack endpoint or real credentials leak into unit tests.
    for name in list(__import__("os").environ):
        if name.startswith("AWS_ENDPOINT_URL") or name in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
            monkeypatch.delenv(name, raising=False)
    env = {
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_LAMBDA_FUNCTION_NAME": "unit-test-function",
        "POWERTOOLS_SERVICE_NAME": "unit-tests",
        "POWERTOOLS_LOG_LEVEL": "WARNING",
        "USERS_TABLE": "users",
        "ORDERS_TABLE": "orders",
        "INVENTORY_TABLE": "inventory",
        "IDEMPOTENCY_TABLE": "idempotency",
        "ARCHIVE_BUCKET": "stream-archive-bucket",
        "SENDER_EMAIL": SENDER,
        "INACTIVE_AFTER_DAYS": "30",
        "PAYMENT_LIMIT_CENTS": "100000",
        "THUMBNAIL_SIZE": "200",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)


@dataclass
class Aws:
    users: Any
    orders: Any
    inventory: Any
    idempotency: Any
    s3: Any
    sqs: Any
    ses: Any
    sfn: Any
    queue_url: str
    dlq_url: str

    def emails_sent(self) -> int:
        return int(self.ses.get_send_quota()["SentLast24Hours"])

    def queue_messages(self) -> list[dict[str, Any]]:
        out = self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10)
        return [json.loads(m["Body"]) for m in out.get("Messages", [])]


def _table(ddb: Any, name: str, key: str, **extra: Any) -> Any:
    ddb.create_table(
        TableName=name,
        AttributeDefinitions=[{"AttributeName": key, "AttributeType": "S"}]
        + extra.pop("attributes", []),
        KeySchema=[{"AttributeName": key, "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
        **extra,
    )
    return boto3.resource("dynamodb", region_name=REGION).Table(name)


@pytest.fixture
def aws(aws_env: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[Aws]:
    # Keep boto3's default session between tests: service models load once, not per test.
    with mock_aws(config={"core": {"reset_boto3_session": False}}):
        ddb = boto3.client("dynamodb", region_name=REGION)
        users = _table(
            ddb,
            "users",
            "user_id",
            attributes=[{"AttributeName": "email", "AttributeType": "S"}],
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
            GlobalSecondaryIndexes=[
                {
                    "IndexName": "email-index",
                    "KeySchema": [{"AttributeName": "email", "KeyType": "HASH"}],
                    "Projection": {"ProjectionType": "ALL"},
                }
            ],
        )
        orders = _table(ddb, "orders", "order_id")
        inventory = _table(ddb, "inventory", "sku")
        inventory.put_item(Item={"sku": "SKU-1", "stock": 100})
        inventory.put_item(Item={"sku": "SKU-OUT", "stock": 0})
        idempotency = _table(ddb, "idempotency", "id")
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket="images-bucket")
        s3.create_bucket(Bucket="stream-archive-bucket")
        sqs = boto3.client("sqs", region_name=REGION)
        dlq_url = sqs.create_queue(QueueName="orders-dlq")["QueueUrl"]
        dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        queue_url = sqs.create_queue(
            QueueName="orders-queue",
            Attributes={
                "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 3})
            },
        )["QueueUrl"]
        monkeypatch.setenv("ORDERS_QUEUE_URL", queue_url)
        ses = boto3.client("ses", region_name=REGION)
        ses.verify_email_identity(EmailAddress=SENDER)
        sfn = boto3.client("stepfunctions", region_name=REGION)
        yield Aws(users, orders, inventory, idempotency, s3, sqs, ses, sfn, queue_url, dlq_url)


@pytest.fixture
def load(aws: Aws) -> Callable[[str], ModuleType]:
    """Import `module` (e.g. "users.create_user") afresh, as a new Lambda environment would.

    common.aws (the process-wide client cache) is kept: its clients were created after moto was
    imported, so moto intercepts them in every test, and loading them once saves most of the
    per-test time.
    """

    def _load(module: str) -> ModuleType:
        for name in list(sys.modules):
            if name.split(".")[0] in APP_PACKAGES and name != "common.aws":
                del sys.modules[name]
        return importlib.import_module(module)

    return _load


@pytest.fixture
def context() -> FakeContext:
    return FakeContext()
