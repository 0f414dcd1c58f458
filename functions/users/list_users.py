"""GET /users?limit=N&next=TOKEN: one page of users.

`limit` is 1..100 (default 20); `next` is the opaque token from the previous page. Each call
reads at most `limit` items (a bounded Scan page), never the whole table.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from common.aws import table
from common.errors import InvalidRequestError
from common.http import json_response, make_resolver
from common.pagination import decode_token, encode_token
from common.settings import SETTINGS
from users import repository

logger = Logger()
app = make_resolver()
users_table = table(SETTINGS.users_table)

DEFAULT_LIMIT = 20
MAX_LIMIT = 100


def parse_limit(raw: str | None) -> int:
    if raw is None:
        return DEFAULT_LIMIT
    # isdigit() alone accepts digits int() refuses (e.g. '²'): ASCII only
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= MAX_LIMIT:
        raise InvalidRequestError(f"limit must be an integer from 1 to {MAX_LIMIT}")
    return int(raw)


def list_users(limit: int, token: str | None, users: Any = users_table) -> dict[str, Any]:
    items, last_key = repository.list_page(users, limit, decode_token(token, ("user_id",)))
    return {"users": items, "count": len(items), "next": encode_token(last_key)}


@app.get("/users")
def list_users_route() -> Response:
    params = app.current_event.query_string_parameters or {}
    return json_response(200, list_users(parse_limit(params.get("limit")), params.get("next")))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
