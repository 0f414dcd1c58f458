"""GET /users/{user_id}: 200 with the user, 404 when there is none."""

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
from users import repository

logger = Logger()
app = make_resolver()
users_table = table(SETTINGS.users_table)

MAX_USER_ID_LENGTH = 64


def get_user(user_id: str, users: Any = users_table) -> dict[str, Any]:
    # Over-long ids cannot exist (ids are UUIDs); don't send them to DynamoDB (1 KB key limit).
    item = repository.get_user(users, user_id) if len(user_id) <= MAX_USER_ID_LENGTH else None
    if item is None:
        raise NotFoundError("user not found")
    return item


@app.get("/users/<user_id>")
def get_user_route(user_id: str) -> Response:
    return json_response(200, get_user(user_id))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
