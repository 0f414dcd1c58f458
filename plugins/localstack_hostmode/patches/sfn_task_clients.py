"""Step Functions reuses its service-integration clients (one per service, region and role)
instead of assuming the role and building a new boto client for every Task state.

Why: LocalStack 4.14.0's ``boto_client_for``
(services/stepfunctions/asl/utils/boto_client.py), called by every Lambda and AWS SDK task
(state_task/lambda_eval_utils.py and the service integrations), makes an STS AssumeRole call
through the gateway and then a new botocore client (and connection pool) with the returned
credentials, every time: ~20 ms of client construction plus a gateway round trip per state on
this machine, ~45 ms of LocalStack overhead per Lambda state of the order saga beside the
functions' own time.

What changes: the client is kept for ``TTL_S`` (10 min; LocalStack's assumed-role credentials
last 1 h) per (service, region, role ARN) and shared by executions (botocore clients are
thread-safe); the integrations' client config gets a connection pool of ``POOL_SIZE`` so
parallel executions (Map/Parallel states, bursts) do not open and drop connections past
botocore's 10. A role's new credentials are fetched after the TTL, as before on every call.

Verified on localstack-core 4.14.0; on any other version the registry (registry.py) skips it.
Opt-out: ``HOSTMODE_SFN_TASK_CLIENTS=0``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from .registry import HostPatch, patch_function

MODULE = "localstack.services.stepfunctions.asl.utils.boto_client"
TTL_S = 600.0
POOL_SIZE = 64


class ClientCache:
    """Clients by key, each kept for ``ttl`` seconds after it was made."""

    def __init__(self, ttl: float = TTL_S, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl, self.clock = ttl, clock
        self.lock = threading.Lock()
        self.clients: dict[tuple, tuple[Any, float]] = {}

    def get(self, key: tuple, make: Callable[[], Any]) -> Any:
        now = self.clock()
        with self.lock:
            hit = self.clients.get(key)
            if hit is not None and hit[1] > now:
                return hit[0]
        client = make()  # outside the lock: an AssumeRole call; a race makes one extra client
        with self.lock:
            self.clients[key] = (client, now + self.ttl)
            for stale in [k for k, (_, until) in self.clients.items() if until <= now]:
                del self.clients[stale]
        return client


CACHE = ClientCache()


def _cached_client(boto_client_for: Any, service: str, region: str, state_credentials: Any
                   ) -> Any:
    key = (service, region, state_credentials.role_arn)
    return CACHE.get(key, lambda: boto_client_for(service, region, state_credentials))


def _with_pool(module: Any) -> None:
    from botocore.config import Config

    module._BOTO_CLIENT_CONFIG = module._BOTO_CLIENT_CONFIG.merge(
        Config(max_pool_connections=POOL_SIZE))


def apply() -> None:
    import wrapt

    wrapt.register_post_import_hook(_with_pool, MODULE)
    patch_function(MODULE, "boto_client_for", _cached_client)


PATCH = HostPatch(
    name="sfn_task_clients",
    changes=(
        "Step Functions keeps one client per service, region and role for 10 min instead of an "
        "AssumeRole call and a new boto client per Task state"
    ),
    why="every Task state paid an STS round trip and a client build (~30-45 ms per state)",
    verified_on=("4.14.0",),
    opt_out="HOSTMODE_SFN_TASK_CLIENTS",
    apply=apply,
)
