"""orders-queue consumer: mark each order PROCESSING and email the customer (SES).

SQS event source mapping with ReportBatchItemFailures: powertools' BatchProcessor reports only
the failed messages, so a bad message never makes the good ones fail or repeat. A message that
keeps failing (unparseable body, unknown order, SES down) is received again until the queue's
maxReceiveCount (3) moves it to orders-dlq. Each order is processed once: powertools idempotency
on the order id (a redelivered message returns the stored result), and the status change is a
conditional PENDING -> PROCESSING update.

A message is a notification, not a source of truth: anyone who can send to the queue can forge
one. The consumer reads the order and acts only on what is stored (the email goes to the order's
own address); a message whose fields disagree with the stored order is rejected before any side
effect (and before the idempotency check, so it cannot pass as a repeat of a processed order)
and reported failed until SQS moves it to orders-dlq.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.idempotency import idempotent_function
from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.typing import LambdaContext

from common import idempotency
from common.aws import client, table
from common.email import send_email
from common.errors import DomainError
from common.settings import SETTINGS
from orders import repository
from orders.models import QueueMessage

logger = Logger()
# A fully failed batch is reported item by item too, instead of raising: same retry/DLQ
# outcome, and the invocation itself does not count as a function error.
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
orders_table = table(SETTINGS.orders_table)
ses = client("ses")
idempotency_config = idempotency.config("order_id")


class MessageMismatchError(DomainError):
    """A queue message that disagrees with the order it names: never acted on."""


@idempotent_function(
    data_keyword_argument="order",
    config=idempotency_config,
    persistence_store=idempotency.persistence_layer(),
)
def process_order(order: dict[str, str]) -> dict[str, Any]:
    """`order`: the stored order's id and email (never the message's)."""
    order_id = order["order_id"]
    moved = repository.mark_processing(orders_table, order_id)
    message_id = send_email(
        ses,
        SETTINGS.sender_email,
        order["customer_email"],
        f"Order {order_id} received",
        f"We have received your order {order_id} and are processing it.",
    )
    logger.info("order processing", extra={"order_id": order_id, "status_changed": moved})
    return {"order_id": order_id, "status": "PROCESSING", "email_message_id": message_id}


def process_message(message: QueueMessage, orders: Any = orders_table) -> dict[str, Any]:
    """Process the order `message` names, as stored; raise when the message disagrees with it."""
    stored = repository.require_order(orders, message.order_id)
    disagreeing = sorted(k for k, v in message.model_dump().items() if stored.get(k) != v)
    if disagreeing:
        # Field names only: the message's values may be a stranger's address.
        logger.warning(
            "queue message disagrees with the stored order; rejected",
            extra={"order_id": message.order_id, "fields": disagreeing},
        )
        raise MessageMismatchError(f"message disagrees with order on {', '.join(disagreeing)}")
    return process_order(
        order={"order_id": message.order_id, "customer_email": stored["customer_email"]}
    )


def record_handler(record: SQSRecord) -> dict[str, Any]:
    logger.append_keys(sqs_message_id=record.message_id)
    return process_message(parse(event=record.body, model=QueueMessage))  # raises on poison


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    idempotency_config.register_lambda_context(context)
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
