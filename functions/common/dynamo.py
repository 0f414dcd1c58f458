"""Small DynamoDB helpers: error codes, conditional writes and DynamoDB-number conversion."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from botocore.exceptions import ClientError


def error_code(exc: ClientError) -> str:
    return exc.response.get("Error", {}).get("Code", "")


def is_conditional_failure(exc: ClientError) -> bool:
    return error_code(exc) == "ConditionalCheckFailedException"


def conditional_write(write: Callable[..., Any], **kwargs: Any) -> bool:
    """Run a conditional write (put/update/delete_item); False when its condition did not hold.

    For state transitions where "already moved on" is an answer, not an error. Any other
    ClientError propagates.
    """
    try:
        write(**kwargs)
    except ClientError as e:
        if is_conditional_failure(e):
            return False
        raise
    return True


def cancellation_codes(exc: ClientError) -> list[str]:
    """Per-item reason codes of a TransactionCanceledException ('None' when an item was fine)."""
    reasons = exc.response.get("CancellationReasons") or []
    return [str(r.get("Code") or "None") for r in reasons]


def plain(value: Any) -> Any:
    """DynamoDB returns every number as Decimal; JSON and Step Functions want ints."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else str(value)
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [plain(v) for v in value]
    return value
