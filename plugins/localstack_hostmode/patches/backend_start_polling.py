"""A backend server LocalStack starts is found up within 20 ms, not up to 500 ms later.

Why: ``Server.wait_is_up`` (localstack/utils/serving.py) polls the server's health check with
``poll_condition``'s default interval of 0.5 s. The first DynamoDB request waits on it for the
moto server and the first Kinesis (or table stream) request for the Kinesis mock: on `make up`
the init script's first CreateTable waited for both, up to 1 s of sleeping on the critical path.
A health check is a port probe (moto's adds a process poll), cheap enough every 20 ms.

What changes: ``Server.wait_is_up`` polls every 20 ms; the timeout and the result are upstream's.

Verified on localstack-core 4.14.0; on any other version the registry (registry.py) skips it
with a warning. Opt-out: ``HOSTMODE_FAST_BACKEND_POLL=0``.
"""

from __future__ import annotations

from typing import Any

from .registry import HostPatch, patch_function

POLL_INTERVAL_S = 0.02


def _wait_is_up_polling_fast(_wait_is_up: Any, self: Any, timeout: float | None = None) -> bool:
    from localstack.utils.sync import poll_condition

    # upstream's body, with the interval
    self._started.wait(timeout=timeout)
    return poll_condition(self.is_up, timeout=timeout, interval=POLL_INTERVAL_S)


def apply() -> None:
    patch_function("localstack.utils.serving", "Server.wait_is_up", _wait_is_up_polling_fast)


PATCH = HostPatch(
    name="backend_start_polling",
    changes="a starting backend server (moto, the Kinesis mock) is polled every 20 ms, not 500 ms",
    why="the first DynamoDB/Kinesis request slept up to 0.5 s per backend after it was up",
    verified_on=("4.14.0",),
    opt_out="HOSTMODE_FAST_BACKEND_POLL",
    apply=apply,
)
