"""patches/esm_sqs_long_polling.py's poll loop against a fake SQS client (no LocalStack): the
long-poll call shape, no wait after an empty long poll or a batch, back-off after an empty poll
that did not wait, and messages received after the mapping stopped go back uninvoked."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from localstack_hostmode.patches import esm_sqs_long_polling as lp


class Empty(Exception):
    pass


class FakeSqs:
    """Answers ReceiveMessage from a script; each answer may run a side effect first."""

    def __init__(self, answers: list[tuple[list[dict], float]], clock: list[float],
                 stop: threading.Event, stop_after: int | None = None) -> None:
        self.answers, self.clock, self.stop, self.stop_after = answers, clock, stop, stop_after
        self.receives: list[dict] = []
        self.released: list[dict] = []

    def receive_message(self, **kwargs: Any) -> dict:
        self.receives.append(kwargs)
        if not self.answers:  # the script is over: the mapping stops
            self.stop.set()
            return {}
        messages, waited = self.answers.pop(0)
        self.clock[0] += waited
        if self.stop_after is not None and len(self.receives) >= self.stop_after:
            self.stop.set()  # the mapping stopped while this poll was in flight
        return {"Messages": messages} if messages else {}

    def change_message_visibility_batch(self, **kwargs: Any) -> dict:
        self.released.append(kwargs)
        return {}


class FakePoller:
    def __init__(self, sqs: FakeSqs, window: int = 0, batch_size: int = 10,
                 fifo: bool = False) -> None:
        self.source_client, self.queue_url = sqs, "http://sqs/q"
        self.source_arn = "arn:aws:sqs:us-east-1:000000000000:q"
        self.maximum_batching_window, self.batch_size = window, batch_size
        self.is_fifo_queue = fifo
        self.handled: list[list[str]] = []

    def handle_messages(self, messages: list[dict]) -> None:
        self.handled.append([m["MessageId"] for m in messages])


def msg(mid: str, group: str = "g") -> dict:
    return {"MessageId": mid, "ReceiptHandle": f"rh-{mid}", "Body": "{}",
            "Attributes": {"MessageGroupId": group}}


def run(answers: list[tuple[list[dict], float]], stop_after: int | None = None,
        **poller: Any) -> tuple[FakePoller, FakeSqs]:
    clock, stop = [0.0], threading.Event()
    sqs = FakeSqs(answers, clock, stop, stop_after)
    fake = FakePoller(sqs, **poller)
    lp.consume(fake, stop, Empty, clock=lambda: clock[0])
    return fake, sqs


def test_a_mapping_without_window_long_polls_5_s_for_up_to_10_messages() -> None:
    _, sqs = run([([msg("1")], 0.0)])
    call = sqs.receives[0]
    assert call["WaitTimeSeconds"] == 5 and call["MaxNumberOfMessages"] == 10
    assert call["QueueUrl"] == "http://sqs/q"
    assert call["MessageAttributeNames"] == ["All"]
    assert call["MessageSystemAttributeNames"] == ["All"]
    assert call["sqs_override_max_message_count"] == 10


def test_a_batching_window_keeps_localstacks_wait() -> None:
    _, sqs = run([([msg("1")], 0.0)], window=5, batch_size=100)
    assert sqs.receives[0]["WaitTimeSeconds"] == 5
    assert sqs.receives[0]["MaxNumberOfMessages"] == 10
    assert sqs.receives[0]["sqs_override_max_message_count"] == 100
    _, sqs = run([([msg("1")], 0.0)], window=60)
    assert sqs.receives[0]["WaitTimeSeconds"] == 20  # the API's limit; the header asks for 60
    assert sqs.receives[0]["sqs_override_wait_time_seconds"] == 60


def test_no_wait_after_an_empty_long_poll_nor_after_a_batch() -> None:
    # an empty 5 s long poll, a batch, another empty one, a batch: four receives in a row,
    # nothing in between (the loop has no sleep: the fake stop event was never waited on)
    poller, sqs = run([([], 5.0), ([msg("1"), msg("2")], 0.01), ([], 5.0), ([msg("3")], 3.0)])
    assert poller.handled == [["1", "2"], ["3"]]
    assert len(sqs.receives) == 5  # the fifth found the script over and stopped the mapping
    assert sqs.released == []


def test_an_empty_poll_that_did_not_wait_hands_back_to_the_workers_backoff() -> None:
    with pytest.raises(Empty):
        run([([msg("1")], 0.0), ([], 0.0)])


def test_messages_received_after_the_stop_go_back_to_the_queue_uninvoked() -> None:
    messages = [msg(str(i)) for i in range(12)]
    poller, sqs = run([([msg("a")], 0.0), (messages, 5.0)], stop_after=2)
    assert poller.handled == [["a"]]
    entries = [e for call in sqs.released for e in call["Entries"]]
    assert [len(call["Entries"]) for call in sqs.released] == [10, 2]
    assert {e["ReceiptHandle"] for e in entries} == {f"rh-{i}" for i in range(12)}
    assert {e["VisibilityTimeout"] for e in entries} == {0}


def test_a_fifo_batch_is_handled_group_by_group() -> None:
    batch = [msg("1", "a"), msg("2", "b"), msg("3", "a")]
    poller, _ = run([(batch, 0.0)], fifo=True)
    assert poller.handled == [["1", "3"], ["2"]]


def test_a_failing_batch_is_logged_and_polling_goes_on() -> None:
    clock, stop = [0.0], threading.Event()
    sqs = FakeSqs([([msg("1")], 0.0), ([msg("2")], 0.0)], clock, stop)
    fake = FakePoller(sqs)
    calls: list[str] = []

    def failing(messages: list[dict]) -> None:
        calls.append(messages[0]["MessageId"])
        raise RuntimeError("invoke failed")

    fake.handle_messages = failing  # type: ignore[method-assign]
    lp.consume(fake, stop, Empty, clock=lambda: clock[0])
    assert calls == ["1", "2"]


def test_a_stopped_mapping_does_not_poll() -> None:
    stop = threading.Event()
    stop.set()
    sqs = FakeSqs([([msg("1")], 0.0)], [0.0], stop)
    lp.consume(FakePoller(sqs), stop, Empty)
    assert sqs.receives == []
