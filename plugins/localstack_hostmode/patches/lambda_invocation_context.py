"""Make the `Invocation` being served visible to the local-process executor.

LocalStack's ExecutionEnvironment.invoke builds the executor's payload from the Invocation and
drops its ClientContext and invocation type (its Docker init has no use for them). The executor
needs both: the ClientContext for the handler's context, the type for the 6 MB request limit
(RequestResponse only). The patched invoke records the Invocation in a context variable for the
duration of the (synchronous) executor call; `current_invocation()` reads it.
"""

from __future__ import annotations

import contextvars

from localstack_hostmode.patches.registry import HostPatch

_CURRENT: contextvars.ContextVar = contextvars.ContextVar(
    "hostmode_lambda_invocation", default=None
)


def current_invocation():
    """The `Invocation` whose executor call is running in this thread, or None."""
    return _CURRENT.get()


def _invoke_recording_invocation(invoke, self, invocation):
    token = _CURRENT.set(invocation)
    try:
        return invoke(self, invocation)
    finally:
        _CURRENT.reset(token)


def _apply() -> None:
    from localstack.services.lambda_.invocation.execution_environment import (
        ExecutionEnvironment,
    )
    from localstack.utils.patch import Patch

    if getattr(ExecutionEnvironment.invoke, "__subject__", None) is _invoke_recording_invocation:
        return  # applied already
    Patch.function(ExecutionEnvironment.invoke, _invoke_recording_invocation).apply()


PATCH = HostPatch(
    name="lambda-invocation-context",
    changes="ExecutionEnvironment.invoke records the Invocation in a context variable",
    why="the executor's payload lacks ClientContext and invocation type; the executor needs "
    "them for the handler's context and the RequestResponse-only 6 MB request limit",
    verified_on=("4.14.0",),
    opt_out=None,
    apply=_apply,
)
