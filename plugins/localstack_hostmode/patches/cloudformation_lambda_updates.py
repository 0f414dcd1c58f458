"""CloudFormation in host mode: a Lambda function update calls only the APIs for what changed.

Why: LocalStack 4.14.0's resource provider for AWS::Lambda::Function
(services/lambda_/resource_providers/aws_lambda_function.py, ``LambdaFunctionProvider.update``)
calls UpdateFunctionCode *and* UpdateFunctionConfiguration on every update, whatever changed,
each followed by a wait for LastUpdateStatus=Successful. Each call rolls the function over to a
new version (the code is copied out of S3 and unzipped again, the old version's event manager is
stopped). A handler edit changes only the Code of every function of template.yaml (one CodeUri),
so half of those rollovers did nothing: 17 functions, 34 rollovers, where AWS makes 17.

What changes: the provider's previous and desired properties are compared first.

* Code unchanged: no UpdateFunctionCode (nor its wait);
* configuration (the keys upstream passes to UpdateFunctionConfiguration) unchanged: no
  UpdateFunctionConfiguration (nor its wait);
* both changed, a rename (replacement), or no previous properties: upstream's update, as before.

The calls that are made are upstream's own, with the same arguments and waits (the
cloudformation_lambda_waits patch, applied after this one, still shortens those waits). The
resource model returned is upstream's: the previous properties updated with the desired ones.

Verified on localstack-core 4.14.0; on any other version the registry (registry.py) skips it
with a warning. Opt-out: ``HOSTMODE_CFN_LAMBDA_PARTIAL_UPDATES=0`` in LocalStack's environment.
"""

from __future__ import annotations

import logging
from typing import Any

from .registry import HostPatch, patch_function

LOG = logging.getLogger(__name__)

PROVIDER = "localstack.services.lambda_.resource_providers.aws_lambda_function"
# The keys upstream's update passes to UpdateFunctionConfiguration (4.14.0).
CONFIG_KEYS = (
    "Description",
    "DeadLetterConfig",
    "Environment",
    "Handler",
    "ImageConfig",
    "Layers",
    "MemorySize",
    "Role",
    "Runtime",
    "Timeout",
    "TracingConfig",
    "VpcConfig",
    "LoggingConfig",
    "CapacityProviderConfig",
)


def _config(properties: dict[str, Any]) -> dict[str, Any]:
    return {k: properties[k] for k in CONFIG_KEYS if k in properties}


def changed_parts(previous: dict[str, Any] | None, desired: dict[str, Any]) -> set[str] | None:
    """{"code", "config"} minus what did not change; None: let upstream's update handle it."""
    if not previous or "FunctionName" not in previous:
        return None
    if desired.get("FunctionName") not in (None, previous["FunctionName"]):
        return None  # a rename: upstream deletes and creates
    parts = set()
    if desired.get("Code") != previous.get("Code"):
        parts.add("code")
    if _config(desired) != _config(previous):
        parts.add("config")
    return parts


def _update_code(module: Any, client: Any, name: str, desired: dict[str, Any]) -> None:
    code = module._get_lambda_code_param(desired, _include_arch=True)
    client.update_function_code(FunctionName=name, **code)
    client.get_waiter("function_updated_v2").wait(FunctionName=name)


def _update_config(client: Any, name: str, desired: dict[str, Any]) -> None:
    props = _config(desired)
    props["FunctionName"] = name
    if "Timeout" in props:
        props["Timeout"] = int(props["Timeout"])
    if "MemorySize" in props:
        props["MemorySize"] = int(props["MemorySize"])
    if "Environment" in props:
        variables = props["Environment"].get("Variables", {})
        props["Environment"] = {**props["Environment"],
                                "Variables": {k: str(v) for k, v in variables.items()}}
    client.update_function_configuration(**props)
    client.get_waiter("function_updated_v2").wait(FunctionName=name)


def _update_changed_parts(update: Any, self: Any, request: Any) -> Any:
    import importlib

    from localstack.services.cloudformation.resource_provider import (
        OperationStatus,
        ProgressEvent,
    )

    previous, desired = request.previous_state, request.desired_state
    parts = changed_parts(previous, desired)
    if parts is None or parts == {"code", "config"}:
        return update(self, request)
    name = previous["FunctionName"]
    client = request.aws_client_factory.lambda_
    if "code" in parts and "Code" in desired:
        _update_code(importlib.import_module(PROVIDER), client, name, desired)
    if "config" in parts:
        _update_config(client, name, desired)
    LOG.debug("Lambda function %s: updated %s only", name, ", ".join(sorted(parts)) or "nothing")
    return ProgressEvent(
        status=OperationStatus.SUCCESS, resource_model={**previous, **desired}
    )


def apply() -> None:
    patch_function(PROVIDER, "LambdaFunctionProvider.update", _update_changed_parts)


PATCH = HostPatch(
    name="cloudformation_lambda_updates",
    changes=(
        "CloudFormation's AWS::Lambda::Function update calls UpdateFunctionCode only when the "
        "Code changed and UpdateFunctionConfiguration only when the configuration changed"
    ),
    why=(
        "every update called both, each a version rollover (copy, unzip, stop the old one), "
        "so a handler edit rolled each function of the stack over twice"
    ),
    verified_on=("4.14.0",),
    opt_out="HOSTMODE_CFN_LAMBDA_PARTIAL_UPDATES",
    apply=apply,
)
