"""POST /orders -> orders table (PENDING) + orders-queue -> consumer -> PROCESSING + SES mail,
and the consumer's partial batch failures (a poison message ends in the DLQ, alone)."""

from __future__ import annotations

import json

import pytest

from polling import wait_until
from stack import mails_to

from .helpers import App, PoisonBatch, unique

pytestmark = pytest.mark.integration


def new_order_body(email: str, sku: str = "SKU-1", quantity: int = 1, **extra) -> dict:
    return {
        "customer_email": email,
        "items": [{"sku": sku, "quantity": quantity, "unit_price_cents": 1250}],
        **extra,
    }


def order_status(app: App, order_id: str) -> str | None:
    item = app.client("dynamodb").get_item(
        TableName=app.name("ORDERS_TABLE"), Key={"order_id": {"S": order_id}}, ConsistentRead=True
    )
    return item.get("Item", {}).get("status", {}).get("S")


def test_order_goes_pending_then_processing_with_email(app: App, cleanup) -> None:
    email = f"{unique('buyer')}@example.com"
    # WHEN an order is posted
    status, order = app.http("POST", "/orders", new_order_body(email, quantity=2))
    assert status == 201, order
    order_id = order["order_id"]
    cleanup(
        lambda: app.client("dynamodb").delete_item(
            TableName=app.name("ORDERS_TABLE"), Key={"order_id": {"S": order_id}}
        )
    )
    # THEN it was stored PENDING, with the total and without the payment token
    assert order["status"] == "PENDING"
    assert order["amount_cents"] == 2500
    assert "card" not in order

    # AND the queue consumer moves it to PROCESSING and emails the customer once
    def processed():
        assert order_status(app, order_id) == "PROCESSING"
        mails = mails_to(email)
        assert len(mails) == 1, mails
        return mails[0]

    mail = wait_until(processed, timeout=30, what="order processed")
    assert order_id in mail["Subject"]

    # AND the API shows the same state
    status, got = app.http("GET", f"/orders/{order_id}")
    assert status == 200, got
    assert got["status"] == "PROCESSING"
    assert "card" not in got


GOOD_ITEM = {"sku": "SKU-1", "quantity": 1, "unit_price_cents": 1}
EMAIL = "{email}"  # replaced by a unique address per case


@pytest.mark.parametrize(
    ("body", "why"),
    [
        ({"items": [GOOD_ITEM]}, "no email"),
        ({"customer_email": EMAIL, "items": []}, "no items"),
        ({"customer_email": EMAIL, "items": [{**GOOD_ITEM, "quantity": 0}]}, "zero quantity"),
        ({"customer_email": EMAIL, "items": [{**GOOD_ITEM, "unit_price_cents": 1.5}]}, "float"),
        ({"customer_email": EMAIL, "items": [{**GOOD_ITEM, "sku": "SKU 1"}]}, "bad sku"),
        ({"customer_email": EMAIL, "items": [GOOD_ITEM, GOOD_ITEM]}, "sku twice"),
        ({"customer_email": EMAIL, "items": [GOOD_ITEM], "admin": True}, "unknown field"),
        ({"customer_email": "nope", "items": [GOOD_ITEM]}, "bad email"),
        ('{"customer_email": "' + EMAIL + '", "items": [', "malformed JSON"),
    ],
)
def test_bad_order_is_400_and_stores_nothing(app: App, body, why: str) -> None:
    email = f"{unique('bad-order')}@example.com"
    text = body if isinstance(body, str) else json.dumps(body)
    status, answer = app.http("POST", "/orders", raw=text.replace(EMAIL, email).encode())
    # THEN a 400 with a message, and no order for this customer was stored (create_order
    # stores before it queues, so anything stored would be there by now)
    assert status == 400, f"{why}: {status} {answer}"
    assert isinstance(answer, dict) and answer.get("message"), answer
    assert orders_of(app, email) == [], why


def orders_of(app: App, email: str) -> list[dict]:
    pages = app.client("dynamodb").get_paginator("scan").paginate(
        TableName=app.name("ORDERS_TABLE"),
        FilterExpression="customer_email = :e",
        ExpressionAttributeValues={":e": {"S": email}},
        ConsistentRead=True,
    )
    return [item for page in pages for item in page["Items"]]


def test_unknown_order_is_404(app: App) -> None:
    status, body = app.http("GET", f"/orders/{unique('missing')}")
    assert status == 404, body


def test_partial_batch_failure_poison_to_dlq(app: App, poison_batch: PoisonBatch) -> None:
    # GIVEN (started at the beginning of the session, see conftest.poison_batch) one batch of
    # good order messages with one poison message among them
    sqs = app.client("sqs")

    # THEN every good order is processed, each exactly once (one email each)
    def good_processed():
        for order_id, email in poison_batch.good.items():
            assert order_status(app, order_id) == "PROCESSING", order_id
            assert len(mails_to(email)) == 1, email
        return True

    wait_until(good_processed, timeout=30, what="good orders processed")

    # AND the poison message ends in the DLQ after maxReceiveCount receives
    dlq = app.queue_url("ORDERS_DLQ")

    def poison_in_dlq():
        msgs = sqs.receive_message(
            QueueUrl=dlq,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=1,
            VisibilityTimeout=5,
            AttributeNames=["ApproximateReceiveCount"],
        ).get("Messages", [])
        ours = [m for m in msgs if poison_batch.marker in m["Body"]]
        for m in msgs:
            if m not in ours:  # someone else's: make it visible again at once
                sqs.change_message_visibility(
                    QueueUrl=dlq, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=0
                )
        assert ours, "poison message not in the DLQ yet"
        return ours

    remaining = max(5.0, poison_batch.deadline - poison_batch.clock())
    ours = wait_until(poison_in_dlq, timeout=remaining, interval=0.5, what="poison in DLQ")
    assert len(ours) == 1
    assert int(ours[0]["Attributes"]["ApproximateReceiveCount"]) >= 3
    sqs.delete_message(QueueUrl=dlq, ReceiptHandle=ours[0]["ReceiptHandle"])

    # AND nothing was lost or duplicated: messages in = processed + dead-lettered
    processed = sum(order_status(app, oid) == "PROCESSING" for oid in poison_batch.good)
    assert processed + len(ours) == poison_batch.sent
    # the good orders' mails were not repeated by the poison message's redeliveries
    assert all(len(mails_to(email)) == 1 for email in poison_batch.good.values())
