"""Saga step RecordFailure: write the outcome FAILED (reason + message) on the order.

Input: `{"order_id", "execution_id", "error"}`, `error` being the caught `{"Error", "Cause"}`.
The reason is the error name (ValidationError, PaymentError, InventoryError, ...). The message
is the errorMessage of one of our typed errors (common.errors; Cause is Lambda's error JSON),
truncated; for anything else (an unexpected exception, a timeout) it is a generic text, since
GET /orders shows it and a raw exception text must not reach callers. The
first final outcome wins: a COMPLETED or already FAILED order, or one that another execution
owns (see orders.validate), is left as it is. Output at $.failure.
"""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from common.aws import table
from common.errors import DomainError
from common.settings import SETTINGS
from orders import repository
from orders.models import DIRECT_INVOKE, is_order_id

logger = Logger()
orders_table = table(SETTINGS.orders_table)

MAX_MESSAGE_LENGTH = 500
GENERIC_MESSAGE = "the order could not be processed"


def _domain_error_names(cls: type[DomainError] = DomainError) -> set[str]:
    return {cls.__name__}.union(*(_domain_error_names(sub) for sub in cls.__subclasses__()))


# The errorType Lambda reports is the exception class name (see common.errors).
DOMAIN_ERRORS = frozenset(_domain_error_names())


def failure_message(reason: str, cause: Any) -> str:
    """The message our own typed error carried; a generic one for anything else."""
    if reason in DOMAIN_ERRORS and isinstance(cause, str):
        try:
            parsed = json.loads(cause)
        except ValueError:
            parsed = None
        if isinstance(parsed, dict) and isinstance(parsed.get("errorMessage"), str):
            return parsed["errorMessage"][:MAX_MESSAGE_LENGTH]
    return GENERIC_MESSAGE


def record(event: dict[str, Any], orders: Any = orders_table) -> dict[str, Any]:
    error = event.get("error") or {}
    reason = str(error.get("Error") or "Unknown")[:100]
    order_id = event.get("order_id")
    if not is_order_id(order_id):
        logger.warning("no order to record the failure on", extra={"reason": reason})
        return {"recorded": False, "reason": reason}
    recorded = repository.record_failure(
        orders,
        order_id,
        reason,
        failure_message(reason, error.get("Cause")),
        str(event.get("execution_id") or DIRECT_INVOKE),
    )
    logger.info("order failed", extra={"reason": reason, "recorded": recorded})
    return {"recorded": recorded, "reason": reason}


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    logger.append_keys(order_id=event.get("order_id"))
    return record(event)
