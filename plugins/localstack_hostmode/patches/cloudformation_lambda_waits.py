"""CloudFormation in host mode: Lambda functions deploy without LocalStack's one-second waits.

Why: LocalStack 4.14.0's resource provider for AWS::Lambda::Function
(services/lambda_/resource_providers/aws_lambda_function.py) waits for the function's real state
with delays sized for Docker, where a function takes seconds to become ready:

* create returns IN_PROGRESS while the function is Pending; the engine
  (ResourceProviderExecutor.deploy_loop in services/cloudformation/resource_provider.py) calls it
  again 5 times without a pause, then once a second;
* update calls UpdateFunctionCode and UpdateFunctionConfiguration, each followed by botocore's
  ``function_updated_v2`` waiter, which checks GetFunction and then sleeps 1 s between checks.

With the local-process executor a function is Active (or its update Successful) 30-150 ms later,
so nearly every function in a stack costs a whole second of sleep: a code change to the
17 functions of template.yaml took ~21 s to roll out, ~1.1 s per function.

What changes: only the polling interval of those two waits, for that one resource type. The
provider makes the same API calls and waits for the same states with the same outcomes (Failed is
still a failure, the 300 s limit still holds); it just looks again after POLL_MIN_S instead of 1 s:

* create: while the provider reports IN_PROGRESS it is asked again (its repeated invocation only
  calls GetFunction) after POLL_MIN_S, then every POLL_STEADY_S for STEADY_FOR_S, then with a
  back-off to POLL_MAX_S, for up to FAST_WAIT_S; a
  function still Pending after that goes back to the engine's own loop as before. With
  lambda_version_state_events applied, it is asked again as soon as the function's version
  state changed instead (or after that patch's fallback), not on a timer;
* update: the provider's Lambda client hands out ``function_updated_v2`` / ``function_active_v2``
  waiters that look again as soon as the function's version state changed
  (lambda_version_state_events: an update ends in one), else after POLL_MIN_S doubling to
  POLL_MAX_S, within botocore's overall timeout (without that patch: every POLL_MIN_S).

With the polls short, a second wait shows up, inside the Lambda service: every update rolls the
function over to a new version and stops the old one's event manager on LambdaService's task pool
(services/lambda_/invocation/lambda_service.py, a ThreadPoolExecutor of cpu_count + 4 = 6 threads
here). That stop joins the old poller thread, which sits in an internal SQS long poll for up to
2 s; two rollovers per function updated every ~0.1 s keep all 6 threads joining, and the next
function's version start (unzip, then Active) queues behind them for up to a second. The pool
gets LAMBDA_TASK_WORKERS threads instead: the same tasks, run as before, none of them waiting
for a thread that is only waiting itself. Threads are started on demand, so an idle LocalStack
has none of the extra ones.

Verified on localstack-core 4.14.0; on any other version the registry (registry.py) skips it
with a warning. Opt-out: ``HOSTMODE_CFN_FAST_WAITS=0`` in LocalStack's environment leaves
upstream's behaviour in place (for comparisons).
"""

from __future__ import annotations

import logging
import math
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from .lambda_version_state_events import CHANGES
from .registry import HostPatch, patch_function

LOG = logging.getLogger(__name__)

# First re-check after 20 ms (a function is typically ready 30-300 ms after the call), then
# every 50 ms for the first seconds (a doubling back-off overshot a function ready at 200 ms by
# ~100 ms, and a stack creates its functions one after another), then back off so a slow
# function costs a handful of GetFunction calls per second, not dozens.
POLL_MIN_S = 0.02
POLL_STEADY_S = 0.05
STEADY_FOR_S = 2.0
POLL_MAX_S = 0.25
# Longer than this, and the engine's own (1 s) loop takes over, exactly as without the patch.
FAST_WAIT_S = 10.0
# botocore waiters of the Lambda client that get the short delay.
FAST_WAITERS = frozenset({"function_updated_v2", "function_active_v2"})
# LambdaService's task pool: room for the rollovers' blocking stops and the starts behind them.
LAMBDA_TASK_WORKERS = 32


class _FastWaiter:
    """A botocore waiter that looks again POLL_MIN_S after each look, or as soon as the
    function's version state changed (lambda_version_state_events), with the same overall
    timeout."""

    def __init__(self, waiter: Any) -> None:
        self._waiter = waiter

    def wait(self, **kwargs: Any) -> None:
        config = dict(kwargs.pop("WaiterConfig", None) or {})
        if "Delay" in config:  # the caller chose its pace
            self._waiter.wait(WaiterConfig=config, **kwargs)
            return
        timeout = self._waiter.config.delay * config.get(
            "MaxAttempts", self._waiter.config.max_attempts
        )
        if not CHANGES.enabled:
            config["Delay"] = POLL_MIN_S
            config["MaxAttempts"] = max(1, math.ceil(timeout / POLL_MIN_S))
            self._waiter.wait(WaiterConfig=config, **kwargs)
            return
        wait_looking_on_changes(self._waiter, kwargs, timeout)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._waiter, name)


def wait_looking_on_changes(waiter: Any, kwargs: dict[str, Any], timeout: float) -> None:
    """botocore's wait, one look at a time: the next look when the function's version state
    changed (an update ends in one) or after POLL_MIN_S..POLL_MAX_S; a look every 20 ms
    for each of a stack's functions being updated was most of LocalStack's CPU in a
    code-change redeploy once the looks no longer went over HTTP."""
    from botocore.exceptions import WaiterError

    deadline = time.monotonic() + timeout
    delay = POLL_MIN_S
    while True:
        looked = CHANGES.mark()
        try:
            waiter.wait(WaiterConfig={"Delay": 0, "MaxAttempts": 1}, **kwargs)
            return
        except WaiterError as e:
            # botocore's reason when no acceptor ended the wait yet (optionally with the
            # retry state it saw); a failure state or an error has another and ends it
            pending = str(e.kwargs.get("reason", "")).startswith("Max attempts exceeded")
            if not pending or time.monotonic() >= deadline:
                raise
        CHANGES.wait(kwargs.get("FunctionName"), looked, delay, timeout=delay)
        delay = min(delay * 2, POLL_MAX_S)


class _FastWaiterClient:
    """A Lambda client whose state waiters poll every POLL_MIN_S; everything else passes through."""

    def __init__(self, client: Any) -> None:
        self._client = client

    def get_waiter(self, name: str) -> Any:
        waiter = self._client.get_waiter(name)
        return _FastWaiter(waiter) if name in FAST_WAITERS else waiter

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


class _FastWaiterClients:
    """The request's client factory, with the Lambda client wrapped in _FastWaiterClient."""

    def __init__(self, factory: Any) -> None:
        self._factory = factory

    @property
    def lambda_(self) -> _FastWaiterClient:
        return _FastWaiterClient(self._factory.lambda_)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._factory, name)


def _create_polling_fast(create: Any, self: Any, request: Any) -> Any:
    """Call the provider's create, and while it reports IN_PROGRESS ask again shortly."""
    from localstack.services.cloudformation.resource_provider import OperationStatus

    looked = CHANGES.mark()
    event = create(self, request)
    started = time.monotonic()
    delay = POLL_MIN_S
    while event.status == OperationStatus.IN_PROGRESS:
        if time.monotonic() - started + delay > FAST_WAIT_S:
            LOG.debug(
                "Lambda function %s still in progress after %.1fs: back to the engine's loop",
                request.logical_resource_id,
                time.monotonic() - started,
            )
            break
        # woken by the function's state change (lambda_version_state_events), else a sleep
        CHANGES.wait(event.resource_model.get("FunctionName"), looked, delay)
        steady = time.monotonic() - started < STEADY_FOR_S
        delay = min(delay * (1.5 if steady else 2), POLL_STEADY_S if steady else POLL_MAX_S)
        looked = CHANGES.mark()
        # the repeated invocation (custom_context carries the marker) only reads the state
        event = create(self, request)
    return event


def _update_with_fast_waiters(update: Any, self: Any, request: Any) -> Any:
    if not isinstance(request.aws_client_factory, _FastWaiterClients):
        request.aws_client_factory = _FastWaiterClients(request.aws_client_factory)
    return update(self, request)


def _init_with_roomier_pool(init: Any, self: Any, *args: Any, **kwargs: Any) -> None:
    init(self, *args, **kwargs)
    default = self.task_executor  # nothing was submitted to it yet
    self.task_executor = ThreadPoolExecutor(
        max_workers=LAMBDA_TASK_WORKERS, thread_name_prefix="lambda-service-task"
    )
    default.shutdown(wait=False)


def apply() -> None:
    provider = "localstack.services.lambda_.resource_providers.aws_lambda_function"
    patch_function(provider, "LambdaFunctionProvider.create", _create_polling_fast)
    patch_function(provider, "LambdaFunctionProvider.update", _update_with_fast_waiters)
    patch_function(
        "localstack.services.lambda_.invocation.lambda_service",
        "LambdaService.__init__",
        _init_with_roomier_pool,
    )
    LOG.debug(
        "CloudFormation AWS::Lambda::Function: state polled every %.0f-%.0f ms instead of 1 s; "
        "Lambda service task pool: %d threads",
        POLL_MIN_S * 1000,
        POLL_MAX_S * 1000,
        LAMBDA_TASK_WORKERS,
    )


PATCH = HostPatch(
    name="cloudformation_lambda_waits",
    changes=(
        "CloudFormation's AWS::Lambda::Function provider re-checks a function's state after "
        f"{POLL_MIN_S * 1000:.0f}-{POLL_MAX_S * 1000:.0f} ms instead of 1 s; LambdaService's "
        f"task pool has {LAMBDA_TASK_WORKERS} threads instead of cpu_count + 4"
    ),
    why=(
        "local-process functions are ready in 30-150 ms, so each function of a stack cost a "
        "whole second of sleep (a 17-function redeploy took ~21 s), and version rollovers "
        "filled the small task pool with blocking stops"
    ),
    verified_on=("4.14.0",),
    opt_out="HOSTMODE_CFN_FAST_WAITS",
    apply=apply,
)
