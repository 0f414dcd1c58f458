"""A table's stream records reach the stream in the order of the writes.

Why: LocalStack 4.14.0's DynamoDB provider (services/dynamodb/provider.py) hands each write's
stream records to ``EventForwarder``, a pool of 10 threads: two writes in quick succession
were forwarded by two threads, and the later one could reach the stream first. Seen with the
in-memory moto backend (faster writes): put, update, delete of one item read back from the
stream as INSERT, REMOVE, MODIFY (`tests/integration/test_dynamodb_paging_ttl_views.py`, one
run in three of the full suite). AWS keeps a key's changes in order within a shard.

What changes: ``EventForwarder``'s pool has one thread, so records are forwarded in the order
the writes submitted them (still off the write's response path).

Verified on localstack-core 4.14.0; on any other version the registry (registry.py) skips it.
Opt-out: ``HOSTMODE_DYNAMODB_STREAM_ORDER=0``.
"""

from __future__ import annotations

from typing import Any

from .registry import HostPatch, patch_function


def _one_forwarding_thread(init: Any, self: Any, num_thread: int = 10) -> None:
    init(self, num_thread=1)


def apply() -> None:
    patch_function("localstack.services.dynamodb.provider", "EventForwarder.__init__",
                   _one_forwarding_thread)


PATCH = HostPatch(
    name="dynamodb_stream_order",
    changes="DynamoDB stream records are forwarded by one thread, in the order of the writes",
    why="a pool of 10 forwarding threads let a later write's record reach the stream first",
    verified_on=("4.14.0",),
    opt_out="HOSTMODE_DYNAMODB_STREAM_ORDER",
    apply=apply,
)
