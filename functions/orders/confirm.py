"""Saga step SendConfirmation: mark the order COMPLETED and email the customer.

The status is written first (payment and stock are done, so the order *is* complete); a failing
email makes the step fail and the state machine retry it, which re-runs the idempotent status
write and sends the email then.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from common.aws import client, table
from common.email import send_email
from common.settings import SETTINGS
from orders import repository

logger = Logger()
orders_table = table(SETTINGS.orders_table)
ses = client("ses")


def confirm(order: dict[str, Any], orders: Any = orders_table, mail: Any = ses) -> dict[str, str]:
    order_id = order["order_id"]
    repository.mark_completed(orders, order_id)
    message_id = send_email(
        mail,
        SETTINGS.sender_email,
        order["customer_email"],
        f"Order {order_id} confirmed",
        f"Your order {order_id} has been confirmed. Total: {int(order['amount_cents']) / 100:.2f}.",
    )
    logger.info("order completed", extra={"email_message_id": message_id})
    return {"status": "COMPLETED", "email_message_id": message_id}


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, str]:
    logger.append_keys(order_id=event.get("order_id"))
    return confirm(event)
