"""The gateway's event loop is stopped thread-safely at shutdown.

Why: ``HypercornRuntimeServer.shutdown`` (LocalStack 4.14.0's runtime/server/hypercorn.py) runs
in the shutdown thread and calls ``loop.stop()`` directly, which only sets a flag: when the loop
has already handled the wake-ups queued just before, it sleeps on in ``select()`` until a timer
fires, and under load ``down`` hit its 5 s grace and SIGKILL (a thread dump showed the main
thread in ``select`` and nothing else left running).

What changes: after upstream's shutdown, ``loop.stop`` is queued once more with
``call_soon_threadsafe``; through the loop's self-pipe it wakes the loop.

Verified on localstack-core 4.14.0; on any other version the registry (registry.py) skips it
with a warning. No opt-out: it changes nothing before shutdown.
"""

from __future__ import annotations

from typing import Any

from .registry import HostPatch, patch_function


def _shutdown_waking_the_loop(shutdown: Any, self: Any) -> None:
    shutdown(self)
    self.loop.call_soon_threadsafe(self.loop.stop)


def apply() -> None:
    patch_function(
        "localstack.runtime.server.hypercorn",
        "HypercornRuntimeServer.shutdown",
        _shutdown_waking_the_loop,
    )


PATCH = HostPatch(
    name="gateway_loop_stop",
    changes="the gateway's event loop is also stopped with call_soon_threadsafe at shutdown",
    why=(
        "loop.stop() from the shutdown thread could leave the loop asleep in select() until SIGKILL"
    ),
    verified_on=("4.14.0",),
    opt_out=None,
    apply=apply,
)
