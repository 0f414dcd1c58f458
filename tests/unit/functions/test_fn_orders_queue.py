"""orders.process_queue: SQS batch -> PROCESSING + email, partial failures, idempotency."""

from __future__ import annotations

import copy
import json

from fnhelpers import event

ORDER_ID = "0b6f5a0e-8a4e-4f57-9a1b-3c2d1e0f9a88"  # the id in tests/events/sqs_orders_batch.json
POISON_ID = "2e1424d4-f796-459a-8184-9c92662be6da"


def _pending(aws, order_id: str = ORDER_ID) -> None:
    aws.orders.put_item(
        Item={"order_id": order_id, "status": "PENDING", "customer_email": "ada@example.com"}
    )


def _status(aws, order_id: str = ORDER_ID) -> str:
    return aws.orders.get_item(Key={"order_id": order_id})["Item"]["status"]


def test_good_message_processed_poison_reported(load, context, aws):
    _pending(aws)
    # WHEN a batch with one good and one unparseable message arrives
    result = load("orders.process_queue").handler(event("sqs_orders_batch.json"), context)
    # THEN only the poison message is reported failed; the good one is done and emailed
    assert result == {"batchItemFailures": [{"itemIdentifier": POISON_ID}]}
    assert _status(aws) == "PROCESSING"
    assert aws.emails_sent() == 1


def test_redelivered_message_is_not_processed_twice(load, context, aws):
    _pending(aws)
    module = load("orders.process_queue")
    ev = event("sqs_orders_batch.json")
    ev["Records"] = ev["Records"][:1]
    assert module.handler(ev, context) == {"batchItemFailures": []}
    redelivered = copy.deepcopy(ev)
    redelivered["Records"][0]["attributes"]["ApproximateReceiveCount"] = "2"
    assert module.handler(redelivered, context) == {"batchItemFailures": []}
    assert aws.emails_sent() == 1


def test_unknown_order_fails_only_that_message(load, context, aws):
    _pending(aws)
    ev = event("sqs_orders_batch.json")
    unknown = copy.deepcopy(ev["Records"][0])
    unknown["messageId"] = "unknown-order-message"
    unknown["body"] = json.dumps({"order_id": "nope", "customer_email": "x@example.com"})
    ev["Records"] = [unknown, ev["Records"][0]]
    result = load("orders.process_queue").handler(ev, context)
    assert result == {"batchItemFailures": [{"itemIdentifier": "unknown-order-message"}]}
    assert _status(aws) == "PROCESSING"
    assert aws.orders.get_item(Key={"order_id": "nope"}).get("Item") is None


def test_email_failure_is_retried_and_then_succeeds(load, context, aws):
    _pending(aws)
    aws.ses.delete_identity(Identity="orders@example.com")
    module = load("orders.process_queue")
    ev = event("sqs_orders_batch.json")
    ev["Records"] = ev["Records"][:1]
    # first delivery: status moves, email fails -> the message is reported and will come back
    assert module.handler(ev, context) == {
        "batchItemFailures": [{"itemIdentifier": ev["Records"][0]["messageId"]}]
    }
    # second delivery after SES recovers: the email goes out (idempotency record was released)
    aws.ses.verify_email_identity(EmailAddress="orders@example.com")
    assert module.handler(copy.deepcopy(ev), context) == {"batchItemFailures": []}
    assert _status(aws) == "PROCESSING"
    assert aws.emails_sent() == 1


def test_order_already_past_pending_is_left_alone(load, context, aws):
    aws.orders.put_item(
        Item={"order_id": ORDER_ID, "status": "COMPLETED", "customer_email": "ada@example.com"}
    )
    ev = event("sqs_orders_batch.json")
    ev["Records"] = ev["Records"][:1]
    assert load("orders.process_queue").handler(ev, context) == {"batchItemFailures": []}
    assert _status(aws) == "COMPLETED"
