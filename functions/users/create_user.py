"""POST /users: create a user; 201 with the stored user.

400 for a malformed/oversized body or invalid fields (see common.http.MAX_BODY_BYTES,
users.models), 409 when the email is already registered (conditional put, never an overwrite).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from common.aws import table
from common.http import json_response, make_resolver, parse_body
from common.settings import SETTINGS
from users import repository
from users.models import NewUser, new_user_item

logger = Logger()
app = make_resolver()
users_table = table(SETTINGS.users_table)


def create_user(new_user: NewUser, users: Any = users_table) -> dict[str, Any]:
    item = new_user_item(new_user)
    repository.create_user(users, item)
    logger.info("user created", extra={"user_id": item["user_id"]})
    return item


@app.post("/users")
def post_user() -> Response:
    return json_response(201, create_user(parse_body(app, NewUser)))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
