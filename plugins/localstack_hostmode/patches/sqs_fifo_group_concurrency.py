"""An SQS FIFO event source processes its message groups in parallel, as on AWS.

Why: LocalStack 4.14.0's ``SqsPoller.poll_events``
(services/lambda_/event_source_mapping/pollers/sqs_poller.py) splits a FIFO batch by message
group and hands each group to ``handle_messages`` one after the other, and polls again only
when the last has finished: a slow group held every other group back (two groups of a 1 s
handler took 2 s, and a poison group delayed all others by its retries).

What changes: for a FIFO queue, ``handle_messages`` runs each group's batch on its own
(daemon) thread, at most ``GROUP_CONCURRENCY`` at once per mapping, and returns. Order within
a group still holds: LocalStack's FIFO queue returns no message of a group while one of its
messages is in flight, so the group's next batch waits until this one is deleted or becomes
visible again. Standard queues are untouched.

Verified on localstack-core 4.14.0; on any other version the registry (registry.py) skips it.
Opt-out: ``HOSTMODE_SQS_FIFO_PARALLEL_GROUPS=0`` (groups one after the other, LocalStack's way).
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from .registry import HostPatch, patch_function

LOG = logging.getLogger(__name__)

# AWS scales a FIFO mapping up to one concurrent batch per active group; LocalStack's default
# account concurrency is far above this, the bound only stops a thread per group piling up.
GROUP_CONCURRENCY = 10
_SLOTS_ATTRIBUTE = "_hostmode_group_slots"
_slots_lock = threading.Lock()


def _slots(poller: Any) -> threading.BoundedSemaphore:
    with _slots_lock:
        slots = getattr(poller, _SLOTS_ATTRIBUTE, None)
        if slots is None:
            slots = threading.BoundedSemaphore(GROUP_CONCURRENCY)
            setattr(poller, _SLOTS_ATTRIBUTE, slots)
        return slots


def _handle_group(handle_messages: Any, poller: Any, messages: list[dict],
                  slots: threading.BoundedSemaphore) -> None:
    try:
        handle_messages(poller, messages)
    except Exception as e:  # what poll_events' own handler does for a group that failed
        LOG.warning("Polling or batch processing failed: %s", e,
                    exc_info=LOG.isEnabledFor(logging.DEBUG))
    finally:
        slots.release()


def _handle_fifo_groups_in_parallel(handle_messages: Any, self: Any, messages: list[dict]
                                    ) -> None:
    if not messages or not self.is_fifo_queue:
        return handle_messages(self, messages)
    slots = _slots(self)
    slots.acquire()  # blocks the poll loop only when GROUP_CONCURRENCY groups are in flight
    group = messages[0].get("Attributes", {}).get("MessageGroupId", "?")
    threading.Thread(
        target=_handle_group, args=(handle_messages, self, messages, slots), daemon=True,
        name=f"esm-fifo-group-{group[:32]}",
    ).start()


def apply() -> None:
    patch_function(
        "localstack.services.lambda_.event_source_mapping.pollers.sqs_poller",
        "SqsPoller.handle_messages",
        _handle_fifo_groups_in_parallel,
    )


PATCH = HostPatch(
    name="sqs_fifo_group_concurrency",
    changes=(
        "an SQS FIFO event source mapping invokes its function for different message groups "
        "concurrently (order within a group kept by the queue's in-flight groups)"
    ),
    why="groups were processed one after the other: one slow or failing group delayed all",
    verified_on=("4.14.0",),
    opt_out="HOSTMODE_SQS_FIFO_PARALLEL_GROUPS",
    apply=apply,
)
