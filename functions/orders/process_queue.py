"""orders-queue consumer: mark each order PROCESSING and email the customer (SES).

SQS event source mapping with ReportBatchItemFailures: powertools' BatchProcessor reports only
the failed messages, so a bad message never makes the good ones fail or repeat. A message that
keeps failing (unparseable body, unknown order, SES down) is received again until the queue's
maxReceiveCount (3) moves it to orders-dlq. Each order is processed once: powertools idempotency
on the order id (a redelivered message returns the stored result), and the status change is a
conditional PENDING -> PROCESSING update.
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


@idempotent_function(
    data_keyword_argument="message",
    config=idempotency_config,
    persistence_store=idempotency.persistence_layer(),
)
def process_order(message: dict[str, str]) -> dict[str, Any]:
    order_id = message["order_id"]
    moved = repository.mark_processing(orders_table, order_id)
    message_id = send_email(
        ses,
        SETTINGS.sender_email,
        message["customer_email"],
        f"Order {order_id} received",
        f"We have received your order {order_id} and are processing it.",
    )
    logger.info("order processing", extra={"order_id": order_id, "status_changed": moved})
    return {"order_id": order_id, "status": "PROCESSING", "email_message_id": message_id}


def record_handler(record: SQSRecord) -> dict[str, Any]:
    message = parse(event=record.body, model=QueueMessage)  # raises on poison messages
    return process_order(message=message.model_dump())


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    idempotency_config.register_lambda_context(context)
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
