"""Saga step ProcessPayment. Input: the validated order; output: the payment (at $.payment).

A fake payment provider that refuses the test card token "declined" and any amount above
PAYMENT_LIMIT_CENTS with PaymentError. Charging is idempotent on the order id: powertools
idempotency returns the first result to a retried or repeated execution, and the charge is
stored on the order with a conditional write, so an order is charged at most once.
"""

from __future__ import annotations

import uuid
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.idempotency import idempotent_function
from aws_lambda_powertools.utilities.typing import LambdaContext

from common import idempotency
from common.aws import table
from common.clock import now_iso
from common.dynamo import plain
from common.errors import PaymentError
from common.settings import SETTINGS
from orders import repository

logger = Logger()
orders_table = table(SETTINGS.orders_table)
idempotency_config = idempotency.config("order_id")

DECLINED_CARD = "declined"


def authorize(amount_cents: int, card: str, limit_cents: int) -> str:
    """The fake provider: a payment id, or PaymentError."""
    if card == DECLINED_CARD:
        raise PaymentError("card declined")
    if amount_cents > limit_cents:
        raise PaymentError(
            f"amount {amount_cents} exceeds the payment limit of {limit_cents} cents"
        )
    return f"pay_{uuid.uuid4().hex}"


@idempotent_function(
    data_keyword_argument="order",
    config=idempotency_config,
    persistence_store=idempotency.persistence_layer(),
)
def charge_order(order: dict[str, Any]) -> dict[str, Any]:
    existing = (repository.get_order(orders_table, order["order_id"]) or {}).get("payment")
    if existing and existing.get("status") == "CHARGED":
        return plain(existing)  # charged by an earlier execution: never charge twice
    payment = {
        "payment_id": authorize(
            int(order["amount_cents"]), str(order["card"]), SETTINGS.payment_limit_cents
        ),
        "amount_cents": int(order["amount_cents"]),
        "status": "CHARGED",
        "charged_at": now_iso(),
    }
    stored = repository.record_payment(orders_table, order["order_id"], payment)
    logger.info("payment charged", extra={"payment_id": stored["payment_id"]})
    return plain(stored)


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    logger.append_keys(order_id=event.get("order_id"))
    idempotency_config.register_lambda_context(context)
    return charge_order(order={k: event.get(k) for k in ("order_id", "amount_cents", "card")})
