"""Saga step RecordFailure: write the outcome FAILED (reason + message) on the order.

Input: `{"order_id", "execution_id", "error"}`, `error` being the caught `{"Error", "Cause"}`.
The reason is the error name (ValidationError, PaymentError, InventoryError, ...); the message
is the errorMessage our own function raised (Cause is Lambda's error JSON), truncated. The
first final outcome wins: a COMPLETED or already FAILED order, or one that another execution
owns (see orders.validate), is left as it is. Output at $.failure.
"""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from common.aws import table
from common.settings import SETTINGS
from orders import repository

logger = Logger()
orders_table = table(SETTINGS.orders_table)

MAX_MESSAGE_LENGTH = 500
DIRECT_INVOKE = "direct-invoke"  # the owner orders.validate records for a direct invocation


def failure_message(cause: Any) -> str:
    if not isinstance(cause, str):
        return ""
    try:
        parsed = json.loads(cause)
    except ValueError:
        return cause[:MAX_MESSAGE_LENGTH]
    if isinstance(parsed, dict) and isinstance(parsed.get("errorMessage"), str):
        return parsed["errorMessage"][:MAX_MESSAGE_LENGTH]
    return cause[:MAX_MESSAGE_LENGTH]


def record(event: dict[str, Any], orders: Any = orders_table) -> dict[str, Any]:
    error = event.get("error") or {}
    reason = str(error.get("Error") or "Unknown")[:100]
    order_id = event.get("order_id")
    if not isinstance(order_id, str) or not 0 < len(order_id) <= 64:
        logger.warning("no order to record the failure on", extra={"reason": reason})
        return {"recorded": False, "reason": reason}
    recorded = repository.record_failure(
        orders,
        order_id,
        reason,
        failure_message(error.get("Cause")),
        str(event.get("execution_id") or DIRECT_INVOKE),
    )
    logger.info("order failed", extra={"reason": reason, "recorded": recorded})
    return {"recorded": recorded, "reason": reason}


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    logger.append_keys(order_id=event.get("order_id"))
    return record(event)
