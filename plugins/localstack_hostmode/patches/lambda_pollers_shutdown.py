"""At LocalStack shutdown, a function's async-invoke poller stops at once.

Why: shutdown (SIGTERM) took 5-7 s after a deploy. ``Poller.stop`` (LocalStack 4.14.0's
services/lambda_/invocation/event_manager.py) only sets a flag; the poller notices after its
current 2 s long poll of an internal SQS queue, and ``LambdaService.stop`` joins the pollers six
at a time (its thread pool), which with a dozen functions is most of the 5 s ``down`` grants.

What changes: ``Poller.stop`` does what it did, then, only once the runtime is stopping
(``events.infra_stopping``), shuts the poller's internal queue down, which wakes the receive.
A function update also stops its poller but keeps the queue: untouched.

Verified on localstack-core 4.14.0; on any other version the registry (registry.py) skips it
with a warning. No opt-out: it changes nothing before shutdown.
"""

from __future__ import annotations

import logging
from typing import Any

from .registry import HostPatch, patch_function

LOG = logging.getLogger(__name__)


def _stop_interrupting_at_shutdown(stop: Any, self: Any) -> None:
    from localstack.runtime import events
    from localstack.services.lambda_.invocation import event_manager

    stop(self)
    if not events.infra_stopping.is_set():
        return
    try:
        client = event_manager.get_sqs_client(self.version_manager.function_version)
        client.queue_manager.get_queue(self.event_queue_url).shutdown()
    except Exception as e:  # the queue may be gone already
        LOG.debug("could not interrupt poller queue %s: %s", self.event_queue_url, e)


def apply() -> None:
    patch_function(
        "localstack.services.lambda_.invocation.event_manager",
        "Poller.stop",
        _stop_interrupting_at_shutdown,
    )


PATCH = HostPatch(
    name="lambda_pollers_shutdown",
    changes=(
        "at runtime shutdown, stopping a Lambda async-invoke poller also shuts its internal "
        "queue down, waking its 2 s long poll"
    ),
    why="the pollers were joined a few at a time, each after its 2 s poll: shutdown took 5-7 s",
    verified_on=("4.14.0",),
    opt_out=None,
    apply=apply,
)
