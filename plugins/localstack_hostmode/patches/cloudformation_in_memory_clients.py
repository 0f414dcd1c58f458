"""CloudFormation's resource providers and Lambda's code storage call LocalStack's services
through the gateway in memory, not over HTTP to LocalStack itself.

Why: in LocalStack 4.14.0 every call a CloudFormation resource provider makes (CreateRole,
PutRolePolicy, CreateFunction, GetFunction, CreateEventSourceMapping, PutMethod ...) is a
request from an internal boto client (``_cfn_resource_client_factory`` in
services/cloudformation/resource_provider.py) over loopback HTTP to LocalStack's own gateway:
urllib3, hypercorn's event loop and the ASGI-to-WSGI bridge, twice per call. Inside each
CreateFunction the Lambda service adds more of them (services/lambda_/invocation/
lambda_service.py: STS AssumeRole for the role check, S3 GetObject, CreateBucket and PutObject
to copy the code; lambda_models.py: S3 HeadObject and GetObject when the version unpacks it).
A full deploy of template.yaml made a few hundred of these hops, on the two cores the engine
deploying the stack needs.

What changes: the clients those three modules get are made to call the gateway in memory with
LocalStack's ``GatewayShortCircuit`` (what ``IN_MEMORY_CLIENT=1`` does for every internal
client, as apigateway_lambda_in_memory and sfn_lambda_in_memory do for their Lambda calls): the
same botocore request, credentials and parameters go through the gateway's handler chain,
skipping only the socket. They come from factories of their own (``_cfn_resource_client_factory``
and the two modules' ``connect_to`` are replaced), so no client another service shares changes.
Requests, responses, errors and the events of the stack are upstream's.

Verified on localstack-core 4.14.0; on any other version the registry (registry.py) skips it.
Opt-out: ``HOSTMODE_CFN_IN_MEMORY=0`` (the calls go over HTTP).
"""

from __future__ import annotations

import logging
from typing import Any

from .registry import HostPatch, on_import

LOG = logging.getLogger(__name__)

RESOURCE_PROVIDER = "localstack.services.cloudformation.resource_provider"
# modules whose module-level ``connect_to`` gets the in-memory factory
LAMBDA_CODE_MODULES = (
    "localstack.services.lambda_.invocation.lambda_service",
    "localstack.services.lambda_.invocation.lambda_models",
)


def _short_circuit(client: Any) -> Any:
    from localstack.aws.client import GatewayShortCircuit
    from localstack.runtime import get_current_runtime

    GatewayShortCircuit.modify_client(client, get_current_runtime().components.gateway)
    return client


def in_memory_factory_class(base: type) -> type:
    """A subclass of LocalStack's client factory ``base`` whose clients call the gateway in
    memory (its cache of clients is its own: the factory is part of the cache key)."""

    class InMemory(base):  # type: ignore[misc, valid-type]
        def _get_client_post_hook(self, client: Any) -> Any:
            return _short_circuit(super()._get_client_post_hook(client))

    InMemory.__name__ = InMemory.__qualname__ = f"InMemory{base.__name__}"
    return InMemory


def _patch_resource_provider(module: Any) -> None:
    from localstack import config

    factory = in_memory_factory_class(module.ConvertingInternalClientFactory)
    module._cfn_resource_client_factory = factory(use_ssl=config.DISTRIBUTED_MODE)


def _patch_connect_to(module: Any) -> None:
    from localstack import config
    from localstack.aws.connect import InternalClientFactory

    module.connect_to = in_memory_factory_class(InternalClientFactory)(
        use_ssl=config.DISTRIBUTED_MODE)


def apply() -> None:
    # botocore's requests carry their parameters and operation model, which the short circuit
    # hands to the gateway (what LocalStack applies at start with IN_MEMORY_CLIENT=1)
    from localstack.aws.client import botocore_in_memory_endpoint_patch

    botocore_in_memory_endpoint_patch.apply()
    on_import(RESOURCE_PROVIDER, _patch_resource_provider)
    for module in LAMBDA_CODE_MODULES:
        on_import(module, _patch_connect_to)


PATCH = HostPatch(
    name="cloudformation_in_memory_clients",
    changes="CloudFormation's resource providers and Lambda's code storage (role check, code "
    "copy and unpack) call LocalStack's services through the gateway in memory "
    "(GatewayShortCircuit) instead of over HTTP",
    why="a full deploy made a few hundred HTTP round trips through hypercorn to LocalStack "
    "itself, on the CPU the stack's deployment needs",
    verified_on=("4.14.0",),
    opt_out="HOSTMODE_CFN_IN_MEMORY",
    apply=apply,
)
