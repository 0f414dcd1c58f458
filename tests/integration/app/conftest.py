"""End-to-end fixtures: deploy the stack once per package and expose what the tests drive.

The session fixture `localstack` (tests/conftest.py) provides a running LocalStack and its URL;
`app` deploys template.yaml through scripts/deploy.py (a no-op when nothing changed) and hands
out the stack outputs, the data-layer names and boto3 clients for that endpoint.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

import deploy
import stack as st

from .helpers import App, PoisonBatch, unique


@pytest.fixture(scope="session")
def deployed(localstack: str) -> dict[str, str]:
    """Deploy template.yaml once per session (a no-op in ~1 s when the stack is current)."""
    os.environ["AWS_ENDPOINT_URL"] = localstack
    try:
        outputs = deploy.deploy()
    except deploy.DeployError as e:
        pytest.fail(f"deploy-local failed: {e}", pytrace=False)
    return {k: v for k, v in outputs.items() if not k.startswith("_")}


@pytest.fixture(scope="session", autouse=True)
def idempotency_records_removed(localstack: str, deployed: dict[str, str]) -> Iterator[None]:
    """The functions' idempotency records (powertools) that the tests caused are deleted at the
    end; records that were there before the session are kept."""
    app = App(endpoint=localstack, outputs=deployed)
    ddb, table = app.client("dynamodb"), app.name("IDEMPOTENCY_TABLE")

    def keys() -> set[str]:
        pages = ddb.get_paginator("scan").paginate(TableName=table, ProjectionExpression="id")
        return {item["id"]["S"] for page in pages for item in page["Items"]}

    before = keys()
    yield
    for key in keys() - before:
        ddb.delete_item(TableName=table, Key={"id": {"S": key}})


@pytest.fixture(scope="package")
def app(localstack: str, deployed: dict[str, str]) -> App:
    """The deployed stack's outputs, data-layer names and clients for the app's tests."""
    return App(endpoint=localstack, outputs=deployed, functions=st.stack_functions())


# Runs last in the session: its wait for the DLQ then overlaps every other test.
LAST = "test_flow_orders.py::test_partial_batch_failure_poison_to_dlq"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    last = [item for item in items if item.nodeid.endswith(LAST)]
    for item in last:
        items.remove(item)
    items.extend(last)


@pytest.fixture
def cleanup() -> Iterator[Callable[[Callable[[], Any]], None]]:
    """Register undo actions; they run after the test, last registered first, all of them."""
    actions: list[Callable[[], Any]] = []
    yield actions.append
    errors = []
    for undo in reversed(actions):
        try:
            undo()
        except Exception as e:  # keep undoing the rest; report at the end
            errors.append(e)
    if errors:
        raise errors[0]


# With VisibilityTimeout 10 s and maxReceiveCount 3 (init-aws.sh), a poison message needs about
# 3 visibility periods (~30 s) to reach the DLQ; this fixture starts that clock with the first
# app test, so the wait overlaps the other tests instead of adding to the run.
POISON_DEADLINE_S = 75


@pytest.fixture(scope="session", autouse=True)
def poison_batch(
    request: pytest.FixtureRequest, localstack: str, deployed: dict[str, str]
) -> Iterator[PoisonBatch | None]:
    """One SQS batch to orders-queue: three good order messages and one poison message.

    Session-scoped and autouse here, so it is sent when the first app test starts, and the test
    that checks it runs last (see LAST): the DLQ wait overlaps the rest of the session.
    """
    if not any(item.nodeid.endswith(LAST) for item in request.session.items):
        yield None  # the DLQ test is not selected: send nothing
        return
    app = App(endpoint=localstack, outputs=deployed)
    ddb, sqs = app.client("dynamodb"), app.client("sqs")
    orders = app.name("ORDERS_TABLE")
    marker = unique("poison")
    good: dict[str, str] = {}
    now = time.strftime("%Y-%m-%dT%H:%M:%S.000000Z", time.gmtime())
    # The good orders are written directly (POST /orders would queue a message of its own), so
    # that all four messages go out in one SendMessageBatch and reach the consumer together.
    for _ in range(3):
        order_id = str(uuid.uuid4())
        email = f"{unique('batch')}@example.com"
        ddb.put_item(
            TableName=orders,
            Item={
                "order_id": {"S": order_id},
                "status": {"S": "PENDING"},
                "customer_email": {"S": email},
                "items": {
                    "L": [
                        {
                            "M": {
                                "sku": {"S": "SKU-1"},
                                "quantity": {"N": "1"},
                                "unit_price_cents": {"N": "100"},
                            }
                        }
                    ]
                },
                "card": {"S": "tok_visa"},
                "amount_cents": {"N": "100"},
                "created_at": {"S": now},
                "updated_at": {"S": now},
            },
        )
        good[order_id] = email
    entries = [
        {"Id": f"good{i}", "MessageBody": json.dumps({"order_id": oid, "customer_email": email})}
        for i, (oid, email) in enumerate(good.items())
    ]
    entries.insert(1, {"Id": "poison", "MessageBody": f"{{not json {marker}"})
    resp = sqs.send_message_batch(QueueUrl=app.queue_url("ORDERS_QUEUE"), Entries=entries)
    assert not resp.get("Failed"), resp
    yield PoisonBatch(good, marker, len(entries), time.monotonic() + POISON_DEADLINE_S)
    for order_id in good:
        ddb.delete_item(TableName=orders, Key={"order_id": {"S": order_id}})
