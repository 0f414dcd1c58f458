"""POST /orders/{order_id}/checkout: start the order saga (Step Functions) for a stored order.

The execution is named after the order id, so a repeated checkout cannot start a second saga:
while the first execution runs, StartExecution with the same name and input returns it again
(202 both times); once it has finished the answer is 409. The saga input is only
`{"order_id": ...}`: ValidateOrder reads the order itself, so callers cannot tamper with amounts.
Answers: 202 {"order_id", "execution_arn"}, 404 unknown order, 409 already checked out.
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
from common.dynamo import error_code
from common.errors import ConflictError, NotFoundError
from common.http import json_response, make_resolver
from common.settings import SETTINGS
from orders import repository
from orders.models import is_order_id

logger = Logger()
app = make_resolver()
orders_table = table(SETTINGS.orders_table)
sfn = client("stepfunctions")


def start_checkout(order_id: str, orders: Any = orders_table, states: Any = sfn) -> dict[str, str]:
    if not is_order_id(order_id) or repository.get_order(orders, order_id) is None:
        raise NotFoundError("order not found")
    try:
        response = states.start_execution(
            stateMachineArn=SETTINGS.state_machine_arn,
            name=order_id,
            input=json.dumps({"order_id": order_id}),
        )
    except ClientError as e:
        if error_code(e) == "ExecutionAlreadyExists":
            raise ConflictError("checkout has already run for this order") from e
        raise
    logger.info(
        "checkout started", extra={"order_id": order_id, "execution_arn": response["executionArn"]}
    )
    return {"order_id": order_id, "execution_arn": response["executionArn"]}


@app.post("/orders/<order_id>/checkout")
def checkout_route(order_id: str) -> Response:
    return json_response(202, start_checkout(order_id))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
