"""The runtime sees its gateway listening within 20 ms, not up to 0.3 s later.

Why: LocalStack marks itself ready (and only then runs the ready.d init scripts: on `make up`,
init-aws.sh's data layer) from a monitor thread that polls the gateway's port with
``poll_condition(..., interval=0.3)``. The port was open up to 0.3 s (0.15 s on average) before
the init started, on the critical path of every `make up`.

What changes, in LocalStack 4.14.0's runtime/runtime.py: ``LocalstackRuntime._wait_for_gateway``
polls the port every 20 ms (a refused connect on loopback costs microseconds), with upstream's
15 s limit; when that runs out, upstream's own wait runs and raises its error.

Verified on localstack-core 4.14.0; on any other version the registry (registry.py) skips it
with a warning. Opt-out: ``HOSTMODE_FAST_READY_POLL=0``.
"""

from __future__ import annotations

from typing import Any

from .registry import HostPatch, patch_function

POLL_INTERVAL_S = 0.02
TIMEOUT_S = 15.0  # upstream's


def _wait_for_gateway_fast(wait_for_gateway: Any, self: Any) -> None:
    from localstack.utils.net import is_port_open
    from localstack.utils.sync import poll_condition

    port = self.config.GATEWAY_LISTEN[0].port
    if not poll_condition(lambda: is_port_open(port), timeout=TIMEOUT_S,
                          interval=POLL_INTERVAL_S):
        wait_for_gateway(self)  # upstream's wait: its log lines and its TimeoutError


def apply() -> None:
    patch_function("localstack.runtime.runtime", "LocalstackRuntime._wait_for_gateway",
                   _wait_for_gateway_fast)


PATCH = HostPatch(
    name="runtime_ready_poll",
    changes="the runtime's ready monitor polls the gateway port every 20 ms, not every 0.3 s",
    why="the ready.d init (init-aws.sh's data layer) started up to 0.3 s after the gateway "
        "listened, on every `make up`",
    verified_on=("4.14.0",),
    opt_out="HOSTMODE_FAST_READY_POLL",
    apply=apply,
)
