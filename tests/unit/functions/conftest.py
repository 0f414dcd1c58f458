"""Unit-test fixtures for functions/: moto in-process, no network, no LocalStack.

`aws` starts moto and creates the data layer from its spec (functions/common/data_layer.json)
with the code init-aws.sh runs (scripts/data_layer.py), so names and keys cannot drift; `load`
imports a handler module afresh inside the mock, so its module-level settings and clients
(created at import, as in Lambda's init phase) see this test's environment.
"""

from __future__ import annotations

import functools
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

import data_layer

APP_PACKAGES = ("common", "users", "orders", "images", "streams")
REGION = "us-east-1"
SPEC = data_layer.load_spec()
NAMES = data_layer.names(SPEC, environ={})  # the spec's own names, whatever the shell says
SENDER = NAMES["SES_SENDER"]


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
        **NAMES,
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


# The test-side clients and DynamoDB resource, kept across tests like common.aws's: created
# after moto was imported, moto answers them inside each test's fresh mock (a client holds no
# AWS state). Creating them per test was half of this fixture's CPU (~65 of ~120 ms).
@functools.cache
def _client(service: str) -> Any:
    return boto3.client(service, region_name=REGION)


@functools.cache
def _dynamodb_resource() -> Any:
    return boto3.resource("dynamodb", region_name=REGION)


@pytest.fixture
def aws(aws_env: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[Aws]:
    # Keep boto3's default session between tests: service models load once, not per test.
    with mock_aws(config={"core": {"reset_boto3_session": False}}):
        applier = data_layer.Applier(SPEC, _client, environ={})
        assert applier.apply() == 0, "the data layer could not be created in moto"
        ddb = _dynamodb_resource()
        users, orders, inventory, idempotency = (
            ddb.Table(NAMES[var])
            for var in ("USERS_TABLE", "ORDERS_TABLE", "INVENTORY_TABLE", "IDEMPOTENCY_TABLE")
        )
        queue_url = applier.queue_urls["ORDERS_QUEUE"]
        monkeypatch.setenv("ORDERS_QUEUE_URL", queue_url)
        yield Aws(users, orders, inventory, idempotency, _client("s3"), _client("sqs"),
                  _client("ses"), _client("stepfunctions"), queue_url,
                  applier.queue_urls["ORDERS_DLQ"])


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
