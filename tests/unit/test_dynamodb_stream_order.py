"""patches/dynamodb_stream_order.py: LocalStack's stream-record forwarder gets one thread."""

from __future__ import annotations

from localstack_hostmode.patches.dynamodb_stream_order import PATCH, _one_forwarding_thread


def test_the_forwarder_pool_has_one_thread_whatever_it_asked_for() -> None:
    seen: list[int] = []
    _one_forwarding_thread(lambda self, num_thread: seen.append(num_thread), object())
    _one_forwarding_thread(lambda self, num_thread: seen.append(num_thread), object(), 10)
    assert seen == [1, 1]
    assert PATCH.opt_out == "HOSTMODE_DYNAMODB_STREAM_ORDER"
