"""Step Functions invokes Lambda through the gateway in memory, not over HTTP to itself.

Why: LocalStack 4.14.0's Lambda task (services/stepfunctions/asl/component/state/
state_execution/state_task/lambda_eval_utils.py) calls ``lambda:Invoke`` with a client from
``boto_client_for`` (asl/utils/boto_client.py) that sends the request over HTTP to LocalStack's
own gateway: each Lambda state of the order saga paid a trip through urllib3, hypercorn's event
loop and the ASGI-to-WSGI bridge and back (the hop apigateway_lambda_in_memory removed for API
Gateway, where hypercorn was ~25% of LocalStack's busy time).

What changes: a Lambda client ``boto_client_for`` hands out (sfn_task_clients keeps one per
role) is made to call the gateway in memory with LocalStack's ``GatewayShortCircuit`` (what
``IN_MEMORY_CLIENT=1`` does for every internal client): the same botocore request, credentials
and parameters go through the gateway's handler chain, skipping only the socket. Other services'
task clients keep HTTP.

Verified on localstack-core 4.14.0; on any other version the registry (registry.py) skips it.
Opt-out: ``HOSTMODE_SFN_LAMBDA_IN_MEMORY=0`` (the Invoke goes over HTTP).
"""

from __future__ import annotations

import threading
from typing import Any

from .registry import HostPatch, patch_function

MODULE = "localstack.services.stepfunctions.asl.utils.boto_client"
_MARK = "_hostmode_in_memory"
_lock = threading.Lock()


def short_circuit_once(client: Any, modify: Any) -> Any:
    """``modify(client)`` the first time a client is seen (a cached client comes back)."""
    with _lock:
        if not getattr(client, _MARK, False):
            modify(client)
            setattr(client, _MARK, True)
    return client


def _modify(client: Any) -> None:
    from localstack.aws.client import GatewayShortCircuit
    from localstack.runtime import get_current_runtime

    GatewayShortCircuit.modify_client(client, get_current_runtime().components.gateway)


def _lambda_in_memory(boto_client_for: Any, service: str, region: str, state_credentials: Any
                      ) -> Any:
    client = boto_client_for(service, region, state_credentials)
    if service != "lambda":
        return client
    return short_circuit_once(client, _modify)


def apply() -> None:
    # botocore's requests carry their parameters and operation model, which the short circuit
    # hands to the gateway (what LocalStack applies at start with IN_MEMORY_CLIENT=1)
    from localstack.aws.client import botocore_in_memory_endpoint_patch

    botocore_in_memory_endpoint_patch.apply()
    patch_function(MODULE, "boto_client_for", _lambda_in_memory)


PATCH = HostPatch(
    name="sfn_lambda_in_memory",
    changes="Step Functions' Lambda tasks invoke through the gateway in memory "
    "(LocalStack's GatewayShortCircuit) instead of over HTTP",
    why="each Lambda state made an HTTP round trip through hypercorn to LocalStack itself",
    verified_on=("4.14.0",),
    opt_out="HOSTMODE_SFN_LAMBDA_IN_MEMORY",
    apply=apply,
)
