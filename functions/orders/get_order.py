"""GET /orders/{order_id}: 200 with the order (status, payment, failure reason), or 404."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from common.aws import table
from common.errors import NotFoundError
from common.http import json_response, make_resolver
from common.settings import SETTINGS
from orders import repository
from orders.models import is_order_id, public_view

logger = Logger()
app = make_resolver()
orders_table = table(SETTINGS.orders_table)


def get_order(order_id: str, orders: Any = orders_table) -> dict[str, Any]:
    item = repository.get_order(orders, order_id) if is_order_id(order_id) else None
    if item is None:
        raise NotFoundError("order not found")
    return public_view(item)


@app.get("/orders/<order_id>")
def get_order_route(order_id: str) -> Response:
    return json_response(200, get_order(order_id))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
