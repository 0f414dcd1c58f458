"""A REST API request body too large for API Gateway or for Lambda answers 413, as on AWS.

Why: LocalStack 4.14.0's ``RestApiAwsProxyIntegration.invoke`` (services/apigateway/next_gen/
execute_api/integrations/aws.py) turns every failed Lambda invoke into a 502 "Internal server
error", the Lambda service's "request too large" (over 6 MB) included; and it has no 10 MB limit
on the body. AWS answers both with 413: ``HTTP content length exceeded 10485760 bytes.`` above
API Gateway's 10 MB, and ``{"message": "Request Too Long"}`` (the REQUEST_TOO_LARGE gateway
response) for a body Lambda's 6 MB invoke limit rejects.

What changes: the request parser raises REQUEST_TOO_LARGE for a body over 10 MB; a Lambda proxy
invoke that Lambda rejects as too large raises REQUEST_TOO_LARGE instead of a 502. Both render
as gateway responses (a user's REQUEST_TOO_LARGE or DEFAULT_4XX response applies).

Verified on localstack-core 4.14.0; on any other version the registry (registry.py) skips it
with a warning. Opt out with HOSTMODE_APIGW_REQUEST_LIMITS=0.
"""

from __future__ import annotations

from typing import Any

from .registry import HostPatch, patch_function

API_GATEWAY_MAX_BODY = 10 * 1024 * 1024  # REST API payload quota
OVER_API_GATEWAY_LIMIT = f"HTTP content length exceeded {API_GATEWAY_MAX_BODY} bytes."
OVER_LAMBDA_LIMIT = "Request Too Long"
# what the Lambda service answers to an invoke over its 6 MB request limit
LAMBDA_TOO_LARGE_CODES = frozenset({"RequestEntityTooLargeException", "RequestTooLargeException"})

_EXECUTE_API = "localstack.services.apigateway.next_gen.execute_api"


def _too_large_error(message: str) -> Exception:
    from localstack.services.apigateway.next_gen.execute_api.gateway_response import (
        RequestTooLargeError,
    )

    return RequestTooLargeError(message)


def _parse_with_body_limit(parse_and_enrich: Any, self: Any, context: Any) -> None:
    parse_and_enrich(self, context)
    if len(context.invocation_request.get("body") or b"") > API_GATEWAY_MAX_BODY:
        raise _too_large_error(OVER_API_GATEWAY_LIMIT)


def lambda_rejected_as_too_large(error: BaseException | None) -> bool:
    """Whether ``error`` is the Lambda service's answer to an over-large invoke request."""
    response = getattr(error, "response", None)
    code = (response or {}).get("Error", {}).get("Code") if isinstance(response, dict) else None
    return code in LAMBDA_TOO_LARGE_CODES


def _invoke_with_lambda_limit(invoke: Any, self: Any, context: Any) -> Any:
    try:
        return invoke(self, context)
    except Exception as error:
        if lambda_rejected_as_too_large(error.__cause__):
            raise _too_large_error(OVER_LAMBDA_LIMIT) from error
        raise


def apply() -> None:
    patch_function(f"{_EXECUTE_API}.handlers.parse", "InvocationRequestParser.parse_and_enrich",
                   _parse_with_body_limit)
    patch_function(f"{_EXECUTE_API}.integrations.aws", "RestApiAwsProxyIntegration.invoke",
                   _invoke_with_lambda_limit)


PATCH = HostPatch(
    name="apigateway_request_too_large",
    changes="REST API bodies over 10 MB, or over Lambda's 6 MB for a proxy integration, get 413",
    why="LocalStack answers 502 for a body Lambda rejects as too large and has no 10 MB limit",
    verified_on=("4.14.0",),
    opt_out="HOSTMODE_APIGW_REQUEST_LIMITS",
    apply=apply,
)
