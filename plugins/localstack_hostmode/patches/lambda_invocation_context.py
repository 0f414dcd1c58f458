"""The local-process executor sees the `Invocation` it serves.

Why: LocalStack 4.14.0's ``ExecutionEnvironment.invoke`` (services/lambda_/invocation/
execution_environment.py) builds the executor's payload from the Invocation and drops its
ClientContext and invocation type: its Docker init has no use for them. The executor needs both:
the ClientContext for the handler's ``context.client_context``, the type for the 6 MB request
limit (RequestResponse only).

What changes: ``invoke`` records the Invocation in a context variable for the duration of the
(synchronous) executor call; ``current_invocation()`` reads it. Nothing else about the call.

Verified on localstack-core 4.14.0; on any other version the registry (registry.py) skips it
with a warning, and handlers then see no client context. No opt-out: it only adds information.
"""

from __future__ import annotations

import contextvars
from typing import Any

from .registry import HostPatch, patch_function

_CURRENT: contextvars.ContextVar[Any] = contextvars.ContextVar(
    "hostmode_lambda_invocation", default=None
)


def current_invocation() -> Any:
    """The `Invocation` whose executor call is running in this thread, or None."""
    return _CURRENT.get()


def _invoke_recording_invocation(invoke: Any, self: Any, invocation: Any) -> Any:
    token = _CURRENT.set(invocation)
    try:
        return invoke(self, invocation)
    finally:
        _CURRENT.reset(token)


def apply() -> None:
    patch_function(
        "localstack.services.lambda_.invocation.execution_environment",
        "ExecutionEnvironment.invoke",
        _invoke_recording_invocation,
    )


PATCH = HostPatch(
    name="lambda_invocation_context",
    changes="ExecutionEnvironment.invoke records the Invocation in a context variable",
    why="the executor's payload lacks ClientContext and invocation type; the executor needs "
    "them for the handler's context and the RequestResponse-only 6 MB request limit",
    verified_on=("4.14.0",),
    opt_out=None,
    apply=apply,
)
