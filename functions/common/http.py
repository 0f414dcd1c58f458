"""The one HTTP response helper, and the API Gateway resolver every route function uses.

Every API function builds its resolver with `make_resolver()` so they all answer the same way:
JSON bodies, CORS headers, and `{"message": ...}` errors mapped from typed exceptions. Bad input
is always a 4xx; anything unexpected is logged with its stack trace and answered with a generic
500 that does not leak the exception text.
"""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import (
    APIGatewayRestResolver,
    CORSConfig,
    Response,
    content_types,
)
from aws_lambda_powertools.event_handler.exceptions import ServiceError
from aws_lambda_powertools.utilities.parser import parse
from pydantic import BaseModel
from pydantic import ValidationError as PydanticValidationError

from common.dynamo import plain
from common.errors import DomainError, InvalidRequestError

# Largest request body any route accepts, in bytes of the decoded body. API Gateway's own limit
# is 10 MB; our payloads are small JSON documents, so anything larger is a client error.
MAX_BODY_BYTES = 16 * 1024

logger = Logger()


def json_response(status: int, body: Any) -> Response:
    """A JSON response; DynamoDB numbers (Decimal) become plain ints/strings."""
    return Response(
        status_code=status,
        content_type=content_types.APPLICATION_JSON,
        body=json.dumps(plain(body), separators=(",", ":"), ensure_ascii=False),
    )


def error_response(
    status: int, message: str, errors: list[dict[str, str]] | None = None
) -> Response:
    body: dict[str, Any] = {"message": message}
    if errors:
        body["errors"] = errors
    return json_response(status, body)


def _field_errors(exc: PydanticValidationError) -> list[dict[str, str]]:
    # loc + msg only: pydantic's `input` would echo the caller's data back (and into logs).
    return [
        {"field": ".".join(str(part) for part in err["loc"]) or "body", "message": err["msg"]}
        for err in exc.errors(include_url=False, include_input=False)
    ]


def parse_body[M: BaseModel](app: APIGatewayRestResolver, model: type[M]) -> M:
    """Validate the request body against `model`; raise InvalidRequestError (400) otherwise."""
    try:
        body = app.current_event.decoded_body or ""
    except ValueError as e:  # bad base64 or not UTF-8 (binascii.Error, UnicodeDecodeError)
        raise InvalidRequestError("request body must be UTF-8 JSON") from e
    size = len(body.encode("utf-8"))
    if size > MAX_BODY_BYTES:
        raise InvalidRequestError(f"request body is {size} bytes; the limit is {MAX_BODY_BYTES}")
    if not body.strip():
        raise InvalidRequestError("request body must be a JSON object")
    try:
        return parse(event=body, model=model)
    except PydanticValidationError as e:
        # pydantic's error *type* (a stable code), never its message text, tells the cases apart
        malformed = any(err["type"] == "json_invalid" for err in e.errors(include_input=False))
        raise InvalidBodyError(
            "malformed JSON body" if malformed else "invalid request body", _field_errors(e)
        ) from e


class InvalidBodyError(InvalidRequestError):
    """400 with the per-field errors (`errors`) alongside the message."""

    def __init__(self, message: str, errors: list[dict[str, str]]) -> None:
        super().__init__(message)
        self.errors = errors


def make_resolver() -> APIGatewayRestResolver:
    """A REST API resolver with CORS and the shared error mapping registered."""
    app = APIGatewayRestResolver(cors=CORSConfig(allow_origin="*", max_age=300))

    @app.exception_handler(DomainError)
    def _domain_error(exc: DomainError) -> Response:
        _log_rejected(exc, exc.http_status)
        return error_response(exc.http_status, exc.message, getattr(exc, "errors", None))

    # Powertools' own HTTP errors, above all its NotFoundError for a path that no route pattern
    # matches (an id with a character the pattern does not take: "✓", "/", a control character).
    # Powertools looks handlers up along the exception's MRO, so without this one the catch-all
    # below would answer those with a 500.
    @app.exception_handler(ServiceError)
    def _service_error(exc: ServiceError) -> Response:
        status = HTTPStatus(exc.status_code)
        _log_rejected(exc, status)
        return error_response(status.value, status.phrase.lower())

    @app.exception_handler(Exception)
    def _unexpected(exc: Exception) -> Response:
        # exc_info from the argument: powertools may pass an exception that was never raised
        logger.exception("unhandled error", exc_info=exc)
        return error_response(HTTPStatus.INTERNAL_SERVER_ERROR, "internal server error")

    return app


def _log_rejected(exc: Exception, status: int) -> None:
    logger.info("request rejected", extra={"error": type(exc).__name__, "status": int(status)})
