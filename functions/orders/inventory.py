"""Saga step ReserveInventory. Input: the validated order; output at $.inventory.

All items are reserved in one DynamoDB transaction (all or nothing), so InventoryError (not
enough stock, e.g. SKU-OUT) leaves no partial reservation behind. The transaction also flags the
order, which makes a retried step a no-op instead of taking the stock twice.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from common.aws import client
from common.settings import SETTINGS
from orders import repository

logger = Logger()
dynamodb = client("dynamodb")


def reserve(order_id: str, items: list[dict[str, Any]], ddb: Any = dynamodb) -> dict[str, bool]:
    newly = repository.reserve_stock(
        ddb, SETTINGS.orders_table, SETTINGS.inventory_table, order_id, items
    )
    logger.info("inventory reserved", extra={"already_reserved": not newly})
    return {"reserved": True}


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, bool]:
    logger.append_keys(order_id=event.get("order_id"))
    return reserve(event["order_id"], event["items"])
