"""patches/esm_sqs_long_polling.py against a fake SQS client and a poll with the shape of
LocalStack's ``SqsPoller.poll_events`` (no LocalStack): the long-poll wait, no wait after an
empty long poll or a batch, back-off after an empty poll that did not wait, a hand-back to the
worker after a poll that raised, and messages received after the mapping stopped go back
uninvoked."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from localstack_hostmode.patches import esm_sqs_long_polling as lp


class Empty(Exception):
    pass


class FakeSqs:
    """Answers ReceiveMessage from a script; an answer is messages, seconds waited, or an error."""

    def __init__(self, answers: list[Any], clock: list[float], stop: threading.Event,
                 stop_after: int | None = None) -> None:
        self.answers, self.clock, self.stop, self.stop_after = answers, clock, stop, stop_after
        self.receives: list[dict] = []
        self.released: list[dict] = []
        self.deleted: list[dict] = []

    def receive_message(self, **kwargs: Any) -> dict:
        self.receives.append(kwargs)
        if not self.answers:  # the script is over: the mapping stops
            self.stop.set()
            return {}
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        messages, waited = answer
        self.clock[0] += waited
        if self.stop_after is not None and len(self.receives) >= self.stop_after:
            self.stop.set()  # the mapping stopped while this poll was in flight
        return {"Messages": messages} if messages else {}

    def change_message_visibility_batch(self, **kwargs: Any) -> dict:
        self.released.append(kwargs)
        return {}

    def delete_message_batch(self, **kwargs: Any) -> dict:
        self.deleted.append(kwargs)
        return {}


class FakePoller:
    """The parts of SqsPoller that poll_events uses; ``poll_events`` has its 4.14.0 shape."""

    def __init__(self, sqs: FakeSqs, window: int = 0, batch_size: int = 10) -> None:
        self.source_client, self.queue_url = sqs, "http://sqs/q"
        self.maximum_batching_window, self.batch_size = window, batch_size
        self.handled: list[list[str]] = []

    def poll_events(self) -> None:
        response = self.source_client.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=min(self.batch_size, 10),
            WaitTimeSeconds=min(self.maximum_batching_window, 20),
            MessageAttributeNames=["All"],
            sqs_override_max_message_count=self.batch_size,
            sqs_override_wait_time_seconds=self.maximum_batching_window,
        )
        messages = response.get("Messages", [])
        if not messages:
            raise Empty()
        self.handled.append([m["MessageId"] for m in messages])
        self.source_client.delete_message_batch(QueueUrl=self.queue_url, Entries=messages)


def msg(mid: str) -> dict:
    return {"MessageId": mid, "ReceiptHandle": f"rh-{mid}", "Body": "{}"}


def run(answers: list[Any], stop_after: int | None = None, recovering: bool = False,
        **poller: Any) -> tuple[FakePoller, FakeSqs]:
    clock, stop = [0.0], threading.Event()
    sqs = FakeSqs(answers, clock, stop, stop_after)
    fake = FakePoller(sqs, **poller)
    fake.source_client = lp.LongPollClient(sqs, lambda: fake.maximum_batching_window, stop)
    lp.consume(fake.poll_events, stop, Empty, recovering=recovering, clock=lambda: clock[0])
    return fake, sqs


def test_a_mapping_without_window_long_polls_5_s_and_keeps_localstacks_other_parameters() -> None:
    _, sqs = run([([msg("1")], 0.0)], batch_size=100)
    call = sqs.receives[0]
    assert call["WaitTimeSeconds"] == 5
    assert call["MaxNumberOfMessages"] == 10 and call["sqs_override_max_message_count"] == 100
    assert call["QueueUrl"] == "http://sqs/q" and call["MessageAttributeNames"] == ["All"]
    assert call["sqs_override_wait_time_seconds"] == 0


def test_a_batching_window_keeps_localstacks_wait() -> None:
    _, sqs = run([([msg("1")], 0.0)], window=5)
    assert sqs.receives[0]["WaitTimeSeconds"] == 5
    _, sqs = run([([msg("1")], 0.0)], window=60)
    assert sqs.receives[0]["WaitTimeSeconds"] == 20  # the API's limit; the header asks for 60
    assert sqs.receives[0]["sqs_override_wait_time_seconds"] == 60


def test_no_wait_after_an_empty_long_poll_nor_after_a_batch() -> None:
    # an empty 5 s long poll, a batch, another empty one, a batch: four receives in a row,
    # nothing in between (the loop has no sleep: the fake stop event was never waited on)
    poller, sqs = run([([], 5.0), ([msg("1"), msg("2")], 0.01), ([], 5.0), ([msg("3")], 3.0)])
    assert poller.handled == [["1", "2"], ["3"]]
    assert len(sqs.receives) == 5  # the fifth found the script over and stopped the mapping
    assert len(sqs.deleted) == 2  # the client's other calls go through to SQS
    assert sqs.released == []


def test_an_empty_poll_that_did_not_wait_hands_back_to_the_workers_backoff() -> None:
    with pytest.raises(Empty):
        run([([msg("1")], 0.0), ([], 0.0)])


def test_an_error_goes_to_the_workers_backoff() -> None:
    with pytest.raises(ConnectionError):
        run([([msg("1")], 0.0), ConnectionError("queue gone")])


@pytest.mark.parametrize("first", [([msg("1")], 0.0), ([], 5.0)], ids=["batch", "empty-wait"])
def test_after_a_raise_the_first_poll_that_works_returns_so_the_worker_resets_its_backoffs(
        first: Any) -> None:
    poller, sqs = run([first, ([msg("2")], 0.0)], recovering=True)
    assert len(sqs.receives) == 1
    assert poller.handled == ([["1"]] if first[0] else [])


def test_messages_received_after_the_stop_go_back_to_the_queue_uninvoked() -> None:
    messages = [msg(str(i)) for i in range(12)]
    poller, sqs = run([([msg("a")], 0.0), (messages, 5.0)], stop_after=2)
    assert poller.handled == [["a"]]
    entries = [e for call in sqs.released for e in call["Entries"]]
    assert [len(call["Entries"]) for call in sqs.released] == [10, 2]
    assert {e["ReceiptHandle"] for e in entries} == {f"rh-{i}" for i in range(12)}
    assert {e["VisibilityTimeout"] for e in entries} == {0}
    assert {call["QueueUrl"] for call in sqs.released} == {"http://sqs/q"}


def test_a_stopped_mapping_does_not_poll() -> None:
    stop = threading.Event()
    stop.set()
    sqs = FakeSqs([([msg("1")], 0.0)], [0.0], stop)
    lp.consume(FakePoller(sqs).poll_events, stop, Empty)
    assert sqs.receives == []
