"""A bound on each function's execution environments, and idle ones reclaimed under memory
pressure (local-process executor only).

Why: LocalStack 4.14.0's ``AssignmentService.get_environment`` (services/lambda_/invocation/
assignment.py) starts a new environment for every invocation that finds none free, as AWS does.
On AWS each has its own machine; in host mode each is a process on the developer's two cores:
32 concurrent API requests started 32 runtimes importing boto3 and Powertools at once, and the
throughput fell below that of one client (p99 10 s) while RSS grew past 4 GB. Idle environments
then lived for LAMBDA_KEEPALIVE_MS (10 minutes).

What changes: on-demand invocations go through lambda_runtime/admission.py's Gate: a free
environment is reserved as before; a new one is started (in a thread of its own) only while the
function has fewer than HOSTMODE_LAMBDA_MAX_ENVIRONMENTS, and the invocations wait, in arrival
order, for the first environment free, a released one or a new one (a stall starts one beyond
the bound, so nothing deadlocks). Every start wakes
lambda_runtime/reclaim.py's Reclaimer, which stops the environments idle longest once their RSS
exceeds HOSTMODE_LAMBDA_MEMORY_BUDGET_MB or the machine runs short. Provisioned concurrency and
other executors (Docker) are untouched.

Verified on localstack-core 4.14.0. Opt-out: HOSTMODE_LAMBDA_ENVIRONMENT_BOUND=0 (or
HOSTMODE_LAMBDA_MAX_ENVIRONMENTS=0 / HOSTMODE_LAMBDA_MEMORY_BUDGET_MB=0 for one half).
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from datetime import datetime
from typing import Any

from .registry import HostPatch, patch_function

LOG = logging.getLogger(__name__)

ASSIGNMENT = "localstack.services.lambda_.invocation.assignment"
LOCAL_PROCESS = "local-process"

_STATE: dict[str, Any] = {}  # "gates", "reclaimer", "service": set by apply() / first use


def _local_process() -> bool:
    from localstack import config

    return config.LAMBDA_RUNTIME_EXECUTOR == LOCAL_PROCESS


def _on_demand(environment: Any) -> bool:
    from localstack.services.lambda_.invocation.lambda_models import InitializationType

    return environment.initialization_type == InitializationType.on_demand


def _try_reserve(service: Any, version_manager_id: str) -> Any:
    from localstack.services.lambda_.invocation.execution_environment import (
        InvalidStatusException,
    )

    for environment in list(service.environments[version_manager_id].values()):
        if not _on_demand(environment):
            continue
        try:
            environment.reserve()
            return environment
        except InvalidStatusException:
            pass
    return None


def _live(service: Any, version_manager_id: str) -> int:
    return sum(1 for e in list(service.environments[version_manager_id].values()) if _on_demand(e))


@contextlib.contextmanager
def _bounded_get_environment(
    get_environment: Any, self: Any, version_manager_id: str, function_version: Any,
    provisioning_type: Any,
) -> Any:
    from localstack.services.lambda_.invocation.execution_environment import (
        InvalidStatusException,
    )
    from localstack.services.lambda_.invocation.lambda_models import InitializationType

    gates = _STATE["gates"]
    on_demand = provisioning_type == InitializationType.on_demand
    if not on_demand or gates.limit <= 0 or not _local_process():
        with get_environment(self, version_manager_id, function_version, provisioning_type) as e:
            yield e
        return
    _STATE["service"] = self
    gate = gates.get(version_manager_id)
    environment = gate.acquire(
        lambda: _try_reserve(self, version_manager_id),
        lambda: _live(self, version_manager_id),
        lambda handle: _start_in_background(
            self, gate, handle, version_manager_id, function_version
        ),
    )
    try:
        yield environment
        environment.release()
    except InvalidStatusException as invalid_e:
        LOG.error("InvalidStatusException: %s", invalid_e)
    except Exception as e:
        LOG.error(
            "Failed invocation <%s>: %s", type(e), e, exc_info=LOG.isEnabledFor(logging.DEBUG)
        )
        self.stop_environment(environment)
        raise e
    finally:
        gate.released()


def _start_in_background(
    service: Any, gate: Any, handle: Any, version_manager_id: str, function_version: Any
) -> None:
    """Start an environment in a thread of its own and list it as free once ready: the first
    invocation in line takes it (LocalStack's own start runs in the invocation's thread)."""

    def run() -> None:
        from localstack import config

        error = None
        try:
            environment = service.start_environment(version_manager_id, function_version)
            # idle from now: LocalStack's keepalive (started on release) applies until reserved
            environment.last_returned = datetime.now()
            environment.keepalive_timer = threading.Timer(
                config.LAMBDA_KEEPALIVE_MS / 1000, environment.keepalive_passed
            )
            environment.keepalive_timer.start()
            service.environments[version_manager_id][environment.id] = environment
        except Exception as e:
            error = e
        finally:
            gate.started(handle, error)
        _STATE["reclaimer"].poke()

    threading.Thread(target=run, name="lambda-environment-start", daemon=True).start()


def _notify_on_timeout(on_timeout: Any, self: Any, version_manager_id: str, environment_id: str):
    try:
        return on_timeout(self, version_manager_id, environment_id)
    finally:
        _STATE["gates"].released(version_manager_id, gone=True)


def _notify_on_stop(stop_environment: Any, self: Any, environment: Any) -> Any:
    try:
        return stop_environment(self, environment)
    finally:
        _STATE["gates"].released(environment.version_manager_id, gone=True)


def _snapshot() -> list:
    """Every on-demand environment of the local-process executor: RSS, idle seconds."""
    from localstack.services.lambda_.invocation.execution_environment import RuntimeStatus

    from localstack_hostmode.lambda_runtime.reclaim import Environment

    service = _STATE.get("service")
    if service is None:
        return []
    now = datetime.now()
    found = []
    for function, environments in list(service.environments.items()):
        for environment in list(environments.values()):
            rss = getattr(environment.runtime_executor, "resident_kib", lambda: None)()
            if rss is None or not _on_demand(environment):
                continue
            idle = environment.status == RuntimeStatus.READY
            idle_s = (now - environment.last_returned).total_seconds() if idle else None
            found.append(Environment(environment, rss, idle_s, function))
    return found


def _reclaim(environment: Any) -> None:
    """LocalStack's own keepalive expiry: stops it only if still idle, and unlists it."""
    environment.keepalive_timer.cancel()
    environment.keepalive_passed()


def _hold_spares(tight: bool) -> None:
    from localstack_hostmode.lambda_runtime.executor import SPARES

    SPARES.hold(tight)


def apply() -> None:
    from localstack_hostmode.lambda_runtime.admission import Gates, limit_from_env, stall_from_env
    from localstack_hostmode.lambda_runtime.reclaim import (
        Reclaimer,
        budget_kib_from_env,
        extra_min_idle_from_env,
    )

    _STATE["gates"] = Gates(limit_from_env(), stall_from_env())
    _STATE["reclaimer"] = Reclaimer(
        budget_kib_from_env(dict(os.environ)), _snapshot, _reclaim,
        extra_min_idle_s=extra_min_idle_from_env(dict(os.environ)), tight=_hold_spares)
    patch_function(ASSIGNMENT, "AssignmentService.get_environment", _bounded_get_environment)
    patch_function(ASSIGNMENT, "AssignmentService.on_timeout", _notify_on_timeout)
    patch_function(ASSIGNMENT, "AssignmentService.stop_environment", _notify_on_stop)


PATCH = HostPatch(
    name="lambda_environment_bound",
    changes="AssignmentService.get_environment starts at most HOSTMODE_LAMBDA_MAX_ENVIRONMENTS "
    "per function (others wait for a free one); idle environments are stopped when their RSS "
    "exceeds HOSTMODE_LAMBDA_MEMORY_BUDGET_MB",
    why="one new runtime process per concurrent invocation thrashed two cores (throughput fell "
    "with concurrency, p99 10 s) and kept gigabytes of idle processes for 10 minutes",
    verified_on=("4.14.0",),
    opt_out="HOSTMODE_LAMBDA_ENVIRONMENT_BOUND",
    apply=apply,
)
