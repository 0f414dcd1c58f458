"""Saga step ValidateOrder. Input `{"order_id", "execution_id"}`; output: the validated order.

Reads the stored order (the source of truth, not the execution input) and raises ValidationError
when it does not exist, is already COMPLETED/FAILED, breaks the order rules (orders.models: no
items, quantity < 1, ...) or names a SKU the inventory does not know.

A valid order is then claimed for this execution (`saga_execution`, a conditional write): a
second execution for the same order (started by hand, concurrently) fails validation instead
of racing the first one through payment and compensation. The state machine passes
`$$.Execution.Id`; a direct invocation without it claims as "direct-invoke".
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError as PydanticValidationError

from common.aws import table
from common.dynamo import plain
from common.errors import ValidationError
from common.settings import SETTINGS
from orders import repository
from orders.models import (
    DIRECT_INVOKE,
    FINAL_STATUSES,
    MAX_ORDER_ID_LENGTH,
    Order,
    is_order_id,
    total_cents,
)

logger = Logger()
orders_table = table(SETTINGS.orders_table)
inventory_table = table(SETTINGS.inventory_table)


def validate_order(
    order_id: Any,
    execution_id: str = DIRECT_INVOKE,
    orders: Any = orders_table,
    inventory: Any = inventory_table,
) -> dict[str, Any]:
    if not is_order_id(order_id):
        raise ValidationError(
            f"order_id must be a non-empty string of at most {MAX_ORDER_ID_LENGTH} characters"
        )
    item = repository.get_order(orders, order_id)
    if item is None:
        raise ValidationError(f"order {order_id} does not exist")
    if item.get("status") in FINAL_STATUSES:
        raise ValidationError(f"order {order_id} is already {item['status']}")
    if item.get("saga_execution") not in (None, execution_id):
        raise ValidationError(f"order {order_id} is being checked out by another execution")
    try:
        order = Order.model_validate(plain(item))
    except PydanticValidationError as e:
        fields = sorted(
            {".".join(str(p) for p in err["loc"]) for err in e.errors(include_input=False)}
        )
        raise ValidationError(f"order {order_id} is invalid: {', '.join(fields)}") from e
    unknown = [i.sku for i in order.items if not repository.sku_exists(inventory, i.sku)]
    if unknown:
        raise ValidationError(f"unknown sku: {', '.join(unknown)}")
    if order.amount_cents != total_cents(order.items):
        raise ValidationError(f"order {order_id} amount does not match its items")
    if not repository.claim_for_saga(orders, order_id, execution_id):
        raise ValidationError(f"order {order_id} is being checked out by another execution")
    return order.model_dump(include={"order_id", "customer_email", "items", "card", "amount_cents"})


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    logger.append_keys(order_id=event.get("order_id"))
    order = validate_order(event.get("order_id"), str(event.get("execution_id") or DIRECT_INVOKE))
    logger.info("order valid", extra={"amount_cents": order["amount_cents"]})
    return order
