"""A function's ``LoggingConfig.LogGroup`` is where its logs go.

Why: LocalStack 4.14.0 stores ``LoggingConfig.LogGroup`` but always writes the function's logs
to, and tells the function (``AWS_LAMBDA_LOG_GROUP_NAME``), ``/aws/lambda/<name>``
(``ExecutionEnvironment.get_log_group_name`` in services/lambda_/invocation/
execution_environment.py). On AWS the logs land in the configured group.

What changes: ``get_log_group_name`` returns the configured group when there is one, else
upstream's default.

Verified on localstack-core 4.14.0; on any other version the registry (registry.py) skips it
with a warning. No opt-out: a function without a custom log group sees no difference.
"""

from __future__ import annotations

from typing import Any

from .registry import HostPatch, patch_function


def _configured_log_group(get_log_group_name: Any, self: Any) -> str:
    custom = (self.function_version.config.logging_config or {}).get("LogGroup")
    return custom or get_log_group_name(self)


def apply() -> None:
    patch_function(
        "localstack.services.lambda_.invocation.execution_environment",
        "ExecutionEnvironment.get_log_group_name",
        _configured_log_group,
    )


PATCH = HostPatch(
    name="lambda_log_group",
    changes="a function's logs go to its LoggingConfig.LogGroup when it has one",
    why="LocalStack stores LoggingConfig.LogGroup but always writes to /aws/lambda/<name>",
    verified_on=("4.14.0",),
    opt_out=None,
    apply=apply,
)
