"""Lambda in host mode: a function version's state change (Pending -> Active or Failed) is
announced in-process, so CloudFormation's wait for a new function wakes when it happens instead
of polling GetFunction.

Why: LocalStack 4.14.0's AWS::Lambda::Function provider waits for a created function by calling
GetFunction until its State leaves Pending; cloudformation_lambda_waits re-asks every 20-50 ms.
A GetFunction is a whole HTTP request to LocalStack itself (gateway, handler chain, Code.Location
signing) and is answered on the same interpreter (one GIL) that unpacks the functions being
waited for. With the stack's functions created at the same time
(cloudformation_concurrent_resources), 17 waits polled together: hundreds of GetFunction
requests per deploy, each taking CPU from the work they waited for.

What changes: ``LambdaService.update_version_state`` (services/lambda_/invocation/
lambda_service.py), where a starting version becomes Active or Failed in the store, records the
change for the function's name and wakes the waiters (``CHANGES``). cloudformation_lambda_waits
then waits for a change of *its* function between two GetFunction calls (up to FALLBACK_S, then
asks anyway, so a missed or unrelated change only costs a late look). The provider's calls,
states and outcomes are upstream's; only when it looks again changes.

Verified on localstack-core 4.14.0; on any other version the registry (registry.py) skips it and
the waits poll as before. Opt-out: ``HOSTMODE_LAMBDA_STATE_EVENTS=0``.
"""

from __future__ import annotations

import itertools
import threading
import time
from typing import Any

from .registry import HostPatch, patch_function

# Without a notice, a waiter looks again after this long anyway.
FALLBACK_S = 0.5


class VersionStateChanges:
    """The last change (a sequence number) of each function's version state; waiters wait for
    a change newer than the number they read before they last looked."""

    def __init__(self) -> None:
        self.enabled = False  # set when the patch is applied; otherwise waits just sleep
        self._condition = threading.Condition()
        self._sequence = itertools.count(1)
        self._now = 0
        self._last: dict[str, int] = {}

    def mark(self) -> int:
        """The current sequence number: read it before looking at a function's state."""
        with self._condition:
            return self._now

    def changed(self, function_name: str) -> None:
        with self._condition:
            self._now = next(self._sequence)
            self._last[function_name] = self._now
            self._condition.notify_all()

    def wait(self, function_name: str | None, since: int, delay: float,
             timeout: float = FALLBACK_S) -> bool:
        """Wait until the function's state changed after ``since`` (True), for up to
        ``timeout``; without the patch (or a name), sleep ``delay`` (False)."""
        if not self.enabled or not function_name:
            time.sleep(delay)
            return False
        with self._condition:
            return self._condition.wait_for(
                lambda: self._last.get(function_name, 0) > since, timeout=timeout)


CHANGES = VersionStateChanges()


def _update_version_state(update: Any, self: Any, function_version: Any, new_state: Any) -> Any:
    try:
        return update(self, function_version=function_version, new_state=new_state)
    finally:
        CHANGES.changed(function_version.id.function_name)


def apply() -> None:
    patch_function(
        "localstack.services.lambda_.invocation.lambda_service",
        "LambdaService.update_version_state",
        _update_version_state,
    )
    CHANGES.enabled = True


PATCH = HostPatch(
    name="lambda_version_state_events",
    changes=(
        "a Lambda version's state change is announced in-process; CloudFormation's wait for a "
        "new function wakes on it instead of polling GetFunction every 20-50 ms"
    ),
    why=(
        "17 functions created at once meant hundreds of GetFunction requests, each on the one "
        "interpreter that was preparing those functions"
    ),
    verified_on=("4.14.0",),
    opt_out="HOSTMODE_LAMBDA_STATE_EVENTS",
    apply=apply,
)
