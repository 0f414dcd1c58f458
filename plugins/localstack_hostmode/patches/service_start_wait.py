"""A request for a service that another request is loading waits for it with 20 ms polls, not 0.5 s.

Why: LocalStack loads a service's provider on its first request. A second request for the same
service arriving meanwhile (``ServiceManager.require``) sees it STARTING and polls its state
with ``poll_condition``'s default interval, 0.5 s: it went on sleeping up to half a second
after the provider was up. `make up`'s init has two such requests per service by design (a
warm-up thread loads each service ahead of the boto3 calls, scripts/data_layer.py), and the
log showed "Execution of "require" took 500.15ms" for DynamoDB and SQS on one start; the
deploy's warm-up (IAM, STS, Step Functions, ...) races CloudFormation the same way.

What changes, in LocalStack 4.14.0's services/plugins.py: ``ServiceManager.require`` first waits
for a STARTING service with 20 ms polls (same 30 s limit), then runs upstream's code, which finds
it started. A state read every 20 ms is all the polling costs.

Verified on localstack-core 4.14.0; on any other version the registry (registry.py) skips it
with a warning. Opt-out: ``HOSTMODE_FAST_SERVICE_START_WAIT=0``.
"""

from __future__ import annotations

import time
from typing import Any

from .registry import HostPatch, patch_function

POLL_INTERVAL_S = 0.02
TIMEOUT_S = 30  # upstream's


def _starting(container: Any) -> bool:
    return getattr(container.state, "name", None) == "STARTING"  # ServiceState.STARTING


def wait_while_starting(container: Any, timeout: float = TIMEOUT_S,
                        interval: float = POLL_INTERVAL_S) -> None:
    """Return once ``container`` is no longer STARTING (or after ``timeout``: upstream's own
    wait then raises its TimeoutError)."""
    deadline = time.monotonic() + timeout
    while _starting(container) and time.monotonic() < deadline:
        time.sleep(interval)


def _require_polling_fast(require: Any, self: Any, name: str) -> Any:
    container = self.get_service_container(name)
    if container is not None:
        wait_while_starting(container)
    return require(self, name)


def apply() -> None:
    patch_function("localstack.services.plugins", "ServiceManager.require",
                   _require_polling_fast)


PATCH = HostPatch(
    name="service_start_wait",
    changes="a request for a service another request is starting polls its state every 20 ms, "
            "not every 0.5 s",
    why="the second request for a loading service slept up to 0.5 s after it was up (twice "
        "during one `make up`'s init)",
    verified_on=("4.14.0",),
    opt_out="HOSTMODE_FAST_SERVICE_START_WAIT",
    apply=apply,
)
