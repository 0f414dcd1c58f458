"""patches/esm_stream_idle_wait.py's IdleWait (no LocalStack): an idle stream mapping's wait
grows once every shard was polled empty; records, a write or a failed poll return it to the
poll interval; records pending in a batcher keep it there."""

from __future__ import annotations

from localstack_hostmode.patches.esm_stream_idle_wait import IDLE_MAX_S, IdleWait


def _idle(shards: int = 1, pending: list[bool] | None = None) -> IdleWait:
    pending = pending if pending is not None else [False]
    return IdleWait(1.0, lambda: shards, lambda: pending[0])


def test_the_wait_doubles_after_empty_polls_up_to_the_cap() -> None:
    idle = _idle()
    assert idle.wait_s() == 1.0  # nothing polled yet
    waits = []
    for _ in range(8):
        idle.polled(False)
        waits.append(idle.wait_s())
    assert waits == [2.0, 4.0, 8.0, 16.0, IDLE_MAX_S, IDLE_MAX_S, IDLE_MAX_S, IDLE_MAX_S]
    assert IDLE_MAX_S < 300  # a shard iterator lives 5 minutes


def test_records_a_write_or_a_failed_poll_return_to_the_interval() -> None:
    idle = _idle()
    for _ in range(5):
        idle.polled(False)
    idle.polled(True)
    assert idle.wait_s() == 1.0
    for _ in range(5):
        idle.polled(False)
    idle.woken()
    assert idle.wait_s() == 1.0


def test_every_shard_is_polled_at_the_interval_before_the_wait_grows() -> None:
    idle = _idle(shards=3)
    idle.polled(False)
    idle.polled(False)
    assert idle.wait_s() == 1.0  # one shard not polled yet since the last activity
    idle.polled(False)
    assert idle.wait_s() == 2.0


def test_records_pending_in_a_batching_window_keep_the_interval() -> None:
    pending = [True]
    idle = _idle(pending=pending)
    for _ in range(5):
        idle.polled(False)
    assert idle.wait_s() == 1.0
    pending[0] = False
    assert idle.wait_s() == IDLE_MAX_S
