"""POST /orders: validate, store the order as PENDING, queue it for asynchronous processing.

201 with the order (without the payment token). The request returns as soon as the order is
stored and queued: processing happens in orders.process_queue (the seed's "async over queues").
If the queue cannot take the message the order is removed again and the caller gets a 503, so
no order is left PENDING without a message. Limits: see orders.models and common.http.
"""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import ClientError

from common.aws import client, table
from common.errors import ServiceUnavailableError
from common.http import json_response, make_resolver, parse_body
from common.settings import SETTINGS
from orders import repository
from orders.models import NewOrder, new_order_item, public_view

logger = Logger()
app = make_resolver()
orders_table = table(SETTINGS.orders_table)
sqs = client("sqs")


def create_order(
    new_order: NewOrder, orders: Any = orders_table, queue: Any = sqs
) -> dict[str, Any]:
    item = new_order_item(new_order)
    repository.put_new_order(orders, item)
    message = {"order_id": item["order_id"], "customer_email": item["customer_email"]}
    try:
        queue.send_message(QueueUrl=SETTINGS.orders_queue_url, MessageBody=json.dumps(message))
    except ClientError as e:
        logger.exception("could not queue order; removing it", extra={"order_id": item["order_id"]})
        repository.delete_order(orders, item["order_id"])
        raise ServiceUnavailableError("order could not be queued; please retry") from e
    logger.info(
        "order created", extra={"order_id": item["order_id"], "amount_cents": item["amount_cents"]}
    )
    return public_view(item)


@app.post("/orders")
def post_order() -> Response:
    return json_response(201, create_order(parse_body(app, NewOrder)))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
