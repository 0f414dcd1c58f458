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


def _message_event(body: dict, message_id: str = "m-1") -> dict:
    ev = event("sqs_orders_batch.json")
    record = ev["Records"][0]
    record["messageId"] = message_id
    record["body"] = json.dumps(body)
    ev["Records"] = [record]
    return ev


def _recipients() -> list[list[str]]:
    from moto.ses.models import ses_backends

    backend = ses_backends["123456789012"]["us-east-1"]
    return [message.destinations["ToAddresses"] for message in backend.sent_messages]


def test_forged_email_is_rejected_and_the_order_untouched(load, context, aws):
    # GIVEN a real PENDING order of ada@example.com
    _pending(aws)
    module = load("orders.process_queue")
    forged = _message_event({"order_id": ORDER_ID, "customer_email": "someone@else.example"})
    # WHEN a forged message names it with another address
    result = module.handler(forged, context)
    # THEN the message is reported failed (SQS retries it, then moves it to orders-dlq), no
    # mail went out and the order is still PENDING
    assert result == {"batchItemFailures": [{"itemIdentifier": "m-1"}]}
    assert _recipients() == []
    assert _status(aws) == "PENDING"
    # AND the genuine message is still processed afterwards (the rejection left no record behind)
    genuine = _message_event({"order_id": ORDER_ID, "customer_email": "ada@example.com"}, "m-2")
    assert module.handler(genuine, context) == {"batchItemFailures": []}
    assert _recipients() == [["ada@example.com"]]
    assert _status(aws) == "PROCESSING"


def test_forged_message_for_a_processed_order_is_rejected_too(load, context, aws):
    # GIVEN an order that its genuine message has already processed (an idempotency record)
    _pending(aws)
    module = load("orders.process_queue")
    genuine = _message_event({"order_id": ORDER_ID, "customer_email": "ada@example.com"})
    assert module.handler(genuine, context) == {"batchItemFailures": []}
    # THEN a forged message is still rejected, not answered from the idempotency record
    forged = _message_event({"order_id": ORDER_ID, "customer_email": "x@else.example"}, "m-2")
    assert module.handler(forged, context) == {"batchItemFailures": [{"itemIdentifier": "m-2"}]}
    assert _recipients() == [["ada@example.com"]]


def test_mail_goes_to_the_stored_address(load, context, aws):
    # the same address in another case is the same address (both are stored lowercased)
    _pending(aws)
    same = _message_event({"order_id": ORDER_ID, "customer_email": "ADA@Example.com"})
    assert load("orders.process_queue").handler(same, context) == {"batchItemFailures": []}
    assert _recipients() == [["ada@example.com"]]


def test_order_without_a_stored_email_is_never_mailed(load, context, aws):
    aws.orders.put_item(Item={"order_id": ORDER_ID, "status": "PENDING"})
    message = _message_event({"order_id": ORDER_ID, "customer_email": "ada@example.com"})
    result = load("orders.process_queue").handler(message, context)
    assert result == {"batchItemFailures": [{"itemIdentifier": "m-1"}]}
    assert _recipients() == []
    assert _status(aws) == "PENDING"


def test_rejection_is_logged_with_the_reason(load, context, aws, caplog):
    _pending(aws)
    forged = _message_event({"order_id": ORDER_ID, "customer_email": "someone@else.example"})
    load("orders.process_queue").handler(forged, context)
    (rejection,) = [r for r in caplog.records if r.levelname == "WARNING"]
    assert "disagrees with the stored order" in rejection.getMessage()
    assert rejection.fields == ["customer_email"] and rejection.order_id == ORDER_ID
    assert all("someone@else" not in str(vars(record)) for record in caplog.records)
