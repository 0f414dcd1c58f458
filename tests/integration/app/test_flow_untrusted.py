"""What the app receives but must not trust: odd ids in paths, forged queue messages.

- A path parameter arrives percent-encoded through LocalStack's API Gateway and decoded from AWS's
  or a direct invoke; an unknown or malformed id is a 404 either way, never a 500.
- A message on orders-queue names an order; the consumer acts only on the stored order. A forged
  message (another address) mails no one, leaves the order as it was, and ends in orders-dlq
  intact after maxReceiveCount receives.
"""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from boto3.dynamodb.types import TypeSerializer

from polling import wait_until
from stack import mails_to

pytestmark = pytest.mark.integration

EVENTS = Path(__file__).resolve().parents[2] / "events"

# logical id -> (sample event, method, path with {} for the id, path parameter)
ROUTES = {
    "GetUserFunction": ("api_get_user.json", "GET", "/users/{}", "user_id"),
    "GetOrderFunction": ("api_get_order.json", "GET", "/orders/{}", "order_id"),
    "CheckoutOrderFunction": ("api_checkout_order.json", "POST", "/orders/{}/checkout", "order_id"),
}
ENCODED_IDS = ("%E2%9C%93", "%F0%9F%92%A5", "%C3%A9", "a%2Fb", "%00", "%20")
DECODED_IDS = ("\u2713", "\U0001f4a5", "\u00e9", "a/b", "\x00", " ")

# Visibility timeout 10 s x maxReceiveCount 3 (init-aws.sh), plus slack for a loaded machine.
DLQ_DEADLINE_S = 90


def test_encoded_ids_through_api_gateway_are_404(app) -> None:
    answers = {}
    for _, method, path, _ in ROUTES.values():
        for encoded in ENCODED_IDS:
            status, body = app.http(method, path.format(encoded))
            answers[path.format(encoded)] = (status, isinstance(body, dict) and "message" in body)
    assert answers == {url: (404, True) for url in answers}


def test_decoded_ids_invoked_directly_are_404(app) -> None:
    lam = app.client("lambda")
    answers = {}
    for logical_id, (event_file, _, path, param) in ROUTES.items():
        for decoded in DECODED_IDS:
            event = json.loads((EVENTS / event_file).read_text(encoding="utf-8"))
            event["path"] = path.format(decoded)
            event["pathParameters"] = {param: decoded}
            response = lam.invoke(
                FunctionName=app.function(logical_id), Payload=json.dumps(event).encode()
            )
            result = json.loads(response["Payload"].read())
            answers[(logical_id, decoded)] = result.get("statusCode", result)
    assert answers == {key: 404 for key in answers}


def _pending_order(app, cleanup, email: str) -> str:
    """A stored PENDING order with no message of its own (POST /orders would queue one)."""
    ddb, orders = app.client("dynamodb"), app.name("ORDERS_TABLE")
    order_id = str(uuid.uuid4())
    now = time.strftime("%Y-%m-%dT%H:%M:%S.000000Z", time.gmtime())
    item = {
        "order_id": order_id,
        "status": "PENDING",
        "customer_email": email,
        "items": [{"sku": "SKU-1", "quantity": 1, "unit_price_cents": 100}],
        "card": "tok_visa",
        "amount_cents": 100,
        "created_at": now,
        "updated_at": now,
    }
    ddb.put_item(TableName=orders, Item=_ddb_item(item))
    cleanup(lambda: ddb.delete_item(TableName=orders, Key={"order_id": {"S": order_id}}))
    return order_id


def _ddb_item(item: dict[str, Any]) -> dict[str, Any]:
    return {k: TypeSerializer().serialize(v) for k, v in item.items()}


def _order_status(app, order_id: str) -> str:
    item = app.client("dynamodb").get_item(
        TableName=app.name("ORDERS_TABLE"), Key={"order_id": {"S": order_id}}, ConsistentRead=True
    )["Item"]
    return item["status"]["S"]


def _dead_letter(app, message_id: str) -> dict[str, Any]:
    """The message with this id once it is in orders-dlq; others' messages are released."""
    sqs, dlq = app.client("sqs"), app.queue_url("ORDERS_DLQ")
    batch = {"QueueUrl": dlq, "MaxNumberOfMessages": 10, "WaitTimeSeconds": 1}
    received = sqs.receive_message(**batch, AttributeNames=["All"]).get("Messages", [])
    mine = [m for m in received if m["MessageId"] == message_id]
    if others := [
        {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": 0}
        for i, m in enumerate(received)
        if m not in mine
    ]:  # another test's messages: visible to it again at once
        sqs.change_message_visibility_batch(QueueUrl=dlq, Entries=others)
    assert mine, f"message {message_id} not in orders-dlq yet"
    sqs.delete_message(QueueUrl=dlq, ReceiptHandle=mine[0]["ReceiptHandle"])
    return mine[0]


def test_forged_order_message_ends_in_dlq_and_mails_no_one(app, cleanup) -> None:
    # GIVEN a real PENDING order
    tag = uuid.uuid4().hex[:12]
    customer, stranger = f"customer-{tag}@example.com", f"stranger-{tag}@example.com"
    order_id = _pending_order(app, cleanup, customer)
    sqs, queue = app.client("sqs"), app.queue_url("ORDERS_QUEUE")

    # WHEN someone who can write to the queue sends a message for it with another address
    forged = json.dumps({"order_id": order_id, "customer_email": stranger})
    message_id = sqs.send_message(QueueUrl=queue, MessageBody=forged)["MessageId"]

    # THEN the message ends in orders-dlq unchanged, after maxReceiveCount receives
    dead = wait_until(
        lambda: _dead_letter(app, message_id),
        timeout=DLQ_DEADLINE_S,
        interval=1,
        what="forged message in orders-dlq",
    )
    assert dead["Body"] == forged
    assert int(dead["Attributes"]["ApproximateReceiveCount"]) >= 3
    # AND no mail went out, and the order is still PENDING
    assert mails_to(stranger) == [] and mails_to(customer) == []
    assert _order_status(app, order_id) == "PENDING"

    # AND the order's genuine message is still processed: one mail, to the stored address
    genuine = json.dumps({"order_id": order_id, "customer_email": customer})
    sqs.send_message(QueueUrl=queue, MessageBody=genuine)

    def processed() -> bool:
        assert _order_status(app, order_id) == "PROCESSING"
        assert len(mails_to(customer)) == 1
        return True

    wait_until(processed, timeout=30, what="genuine message processed")
    assert mails_to(stranger) == []
