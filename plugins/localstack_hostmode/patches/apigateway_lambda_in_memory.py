"""API Gateway invokes a Lambda proxy integration through the gateway in memory, not over HTTP.

Why: LocalStack 4.14.0's ``RestApiAwsProxyIntegration.call_lambda`` (services/apigateway/next_gen/
execute_api/integrations/aws.py) calls ``lambda:Invoke`` with an internal boto3 client that
sends the request over HTTP to LocalStack's own gateway: every API request pays a second trip
through urllib3, hypercorn's event loop (h11 parsing, the ASGI-to-WSGI bridge and its thread
hand-offs) and back. A GIL-sampling profile (py-spy --gil) of ``GET /users/{id}`` at concurrency
1 put hypercorn's event loop at ~25% of LocalStack's busy time, for the three HTTP requests each
API call made to it (the client's, API Gateway's Invoke, the function's DynamoDB call).

What changes: the integration calls the Lambda provider's own ``invoke`` in memory, with the
request context the gateway's handler chain would have built for that Invoke (the function's
account and region, a new request id and X-Ray root, API Gateway as the calling principal), so
the invocation itself (environment, executor, logs, errors) is unchanged. Service errors reach
the integration as the ClientError the client raised (same code and message: its 502, 500 for
AccessDeniedException, 413 for a request Lambda rejects as too large). Going through the
gateway in memory instead (LocalStack's ``GatewayShortCircuit``, what ``IN_MEMORY_CLIENT=1``
does) still serialised, signed and parsed a botocore request and ran the gateway's handler
chain: py-spy --gil at concurrency 32 put that at ~20% of LocalStack's GIL time per GET
/users/{id} (the provider's own work ~8%). It remains the path for an integration with
``credentials`` (an assumed role) and with ``HOSTMODE_APIGW_LAMBDA_DIRECT=0``. Other internal
clients keep HTTP.

Verified on localstack-core 4.14.0; on any other version the registry (registry.py) skips it
with a warning. Opt-out: ``HOSTMODE_APIGW_LAMBDA_IN_MEMORY=0`` (the Invoke goes over HTTP);
``HOSTMODE_APIGW_LAMBDA_DIRECT=0`` keeps it in memory through the gateway.
"""

from __future__ import annotations

import functools
import io
import os
import threading
from typing import Any

from .registry import HostPatch, on_import

_INTEGRATIONS = "localstack.services.apigateway.next_gen.execute_api.integrations.aws"
_lock = threading.Lock()
# the provider called directly (no botocore request); =0: through the gateway in memory
DIRECT = os.environ.get("HOSTMODE_APIGW_LAMBDA_DIRECT", "1") != "0"
_USER_AGENT = "hostmode-apigw-in-memory"
_provider: Any = None
_config: Any = None


def _client_config() -> Any:
    """One Config object for these clients: LocalStack caches clients by their arguments, so
    the in-memory ones are never the HTTP clients other services share."""
    global _config
    with _lock:
        if _config is None:
            from botocore.config import Config

            _config = Config(user_agent_extra="hostmode-apigw-in-memory")
        return _config


@functools.lru_cache(maxsize=64)
def _lambda_client(region_name: str, role_arn: str | None) -> Any:
    """Upstream's client (get_service_factory: the integration role's session, if any), made to
    call the gateway in memory."""
    from localstack.aws.client import GatewayShortCircuit
    from localstack.aws.connect import connect_to
    from localstack.runtime import get_current_runtime
    from localstack.utils.aws.client_types import ServicePrincipal

    if role_arn:
        factory = connect_to.with_assumed_role(
            role_arn=role_arn,
            region_name=region_name,
            service_principal=ServicePrincipal.apigateway,
            session_name="BackplaneAssumeRoleSession",
            config=_client_config(),
        )
    else:
        factory = connect_to(region_name=region_name, config=_client_config())
    injector = factory.lambda_
    GatewayShortCircuit.modify_client(injector._client, get_current_runtime().components.gateway)
    return injector


def _lambda_provider() -> Any:
    """The running Lambda provider (loaded on first use, as a request to the service would)."""
    global _provider
    if _provider is None:
        from localstack.services.plugins import SERVICE_PLUGINS

        _provider = getattr(SERVICE_PLUGINS.require("lambda"), "_provider", None)
    return _provider


@functools.cache
def _lambda_service_model() -> Any:
    from localstack.aws.spec import load_service

    return load_service("lambda")


def _invoke_direct(provider: Any, function_arn: str, event: bytes, source_arn: str) -> bytes:
    """The Lambda provider's own Invoke, with the request context the gateway's handler chain
    would have built for the in-memory client's request (account and region of the function,
    a new request id and X-Ray root, API Gateway as the calling principal). Service errors reach
    the integration as the ClientError the client raised, code and message unchanged (its 502,
    500 for AccessDeniedException, 413 for a request Lambda rejects as too large)."""
    from botocore.exceptions import ClientError
    from localstack.aws.api import RequestContext, ServiceException
    from localstack.http import Request
    from localstack.utils.aws.arns import extract_account_id_from_arn, extract_region_from_arn
    from localstack.utils.xray.trace_header import TraceHeader

    context = RequestContext(Request("POST", headers={"User-Agent": _USER_AGENT}))
    context.service = _lambda_service_model()
    context.operation = context.service.operation_model("Invoke")
    context.account_id = extract_account_id_from_arn(function_arn)
    context.region = extract_region_from_arn(function_arn)
    context.trace_context["aws_trace_header"] = TraceHeader().ensure_root_exists()
    context.internal_request_params = {
        "service_principal": "apigateway", "source_arn": source_arn}
    try:
        result = provider.invoke(context, function_arn, invocation_type="RequestResponse",
                                 payload=io.BytesIO(event))
    except ServiceException as e:
        raise ClientError({
            "Error": {"Code": e.code, "Message": e.message},
            "ResponseMetadata": {"HTTPStatusCode": e.status_code},
        }, "Invoke") from e
    return result.get("Payload") or b""


def _call_lambda_in_memory(
    function_arn: str,
    event: bytes,
    source_arn: str,
    credentials: str | None = None,
) -> bytes:
    from localstack.utils.aws.arns import extract_region_from_arn
    from localstack.utils.aws.client_types import ServicePrincipal

    if not credentials and DIRECT and (provider := _lambda_provider()) is not None:
        return _invoke_direct(provider, function_arn, event, source_arn)
    lambda_client = _lambda_client(extract_region_from_arn(function_arn), credentials)
    result = lambda_client.request_metadata(
        service_principal=ServicePrincipal.apigateway,
        source_arn=source_arn,
    ).invoke(FunctionName=function_arn, Payload=event, InvocationType="RequestResponse")
    if payload := result.get("Payload"):
        return payload.read()
    return b""


def _patch_integration(module: Any) -> None:
    from localstack.utils.patch import Patch

    # upstream's is a staticmethod with the same signature: it stays one
    Patch(module.RestApiAwsProxyIntegration, "call_lambda",
          staticmethod(_call_lambda_in_memory)).apply()


def apply() -> None:
    # botocore's requests carry their parameters and operation model, which the short circuit
    # hands to the gateway (what LocalStack applies at start with IN_MEMORY_CLIENT=1)
    from localstack.aws.client import botocore_in_memory_endpoint_patch

    botocore_in_memory_endpoint_patch.apply()
    # when API Gateway's integrations are first imported (importing them here, at start-up,
    # also loaded the service catalog: ~4% of LocalStack's boot, for a service not yet used)
    on_import(_INTEGRATIONS, _patch_integration)


PATCH = HostPatch(
    name="apigateway_lambda_in_memory",
    changes="API Gateway's Lambda proxy integration calls the Lambda provider's Invoke in memory "
    "instead of over HTTP",
    why="each API request made a second HTTP round trip through hypercorn to LocalStack itself, "
    "and a botocore request through the handler chain even in memory",
    verified_on=("4.14.0",),
    opt_out="HOSTMODE_APIGW_LAMBDA_IN_MEMORY",
    apply=apply,
)
