"""Saga compensation RefundPayment: refund the order's charge, if there is one.

Reached after PaymentError (nothing was charged: nothing to do) or InventoryError (the charge
is refunded). Idempotent: only a CHARGED payment moves to REFUNDED. Output at $.refund.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from common.aws import table
from common.clock import now_iso
from common.settings import SETTINGS
from orders import repository

logger = Logger()
orders_table = table(SETTINGS.orders_table)


def refund(order_id: str, orders: Any = orders_table) -> dict[str, bool]:
    refunded = repository.mark_refunded(orders, order_id, now_iso())
    logger.info("refund", extra={"refunded": refunded})
    return {"refunded": refunded}


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, bool]:
    logger.append_keys(
        order_id=event.get("order_id"), error=(event.get("error") or {}).get("Error")
    )
    return refund(str(event["order_id"]))
