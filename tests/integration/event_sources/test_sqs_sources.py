"""SQS -> Lambda event source mappings as users rely on them: partial batch failures with a
redrive to a DLQ, filter criteria, and FIFO message groups (parallel across groups, in order
within one). Real LocalStack over HTTP; the function is functions/recorder.py."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from .helpers import Sink, drain

pytestmark = pytest.mark.integration


def send(sqs: Any, url: str, *payloads: dict, group: str | None = None) -> None:
    entries = [{"Id": str(i), "MessageBody": json.dumps(p)} for i, p in enumerate(payloads)]
    if group:
        for entry in entries:
            entry["MessageGroupId"] = group
    out = sqs.send_message_batch(QueueUrl=url, Entries=entries)
    assert not out.get("Failed"), out


def queue_empty(sqs: Any, url: str) -> bool:
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=[
        "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
    return all(v == "0" for v in attributes.values())


def test_report_batch_item_failures_redelivers_only_the_failed_message(
        sqs: Any, make_queue: Callable[..., tuple[str, str]], make_mapping: Callable[..., str],
        sink: Sink, wait_until: Callable[..., Any]) -> None:
    dlq_url, dlq_arn = make_queue()
    url, arn = make_queue(VisibilityTimeout="1", RedrivePolicy=json.dumps(
        {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 2}))
    make_mapping(EventSourceArn=arn, BatchSize=10,
                 FunctionResponseTypes=["ReportBatchItemFailures"])
    # WHEN one message of a batch is reported as failed, every time
    send(sqs, url, {"id": "ok-1"}, {"id": "bad", "fail": "item"}, {"id": "ok-2"})

    # THEN it alone is redelivered, and after maxReceiveCount receives it is in the DLQ
    dead: list[dict] = []
    wait_until(lambda: dead.extend(drain(sqs, dlq_url)) or dead, timeout=30,
               message="the failed message in the DLQ")
    assert [m["id"] for m in dead] == ["bad"]
    sink.quiet(0.5)
    assert len(sink.calls_with("bad")) == 2
    assert len(sink.calls_with("ok-1")) == len(sink.calls_with("ok-2")) == 1
    assert queue_empty(sqs, url)


def test_filter_criteria_invoke_only_on_matches_and_delete_the_rest(
        sqs: Any, make_queue: Callable[..., tuple[str, str]], make_mapping: Callable[..., str],
        sink: Sink, wait_until: Callable[..., Any]) -> None:
    url, arn = make_queue()
    make_mapping(EventSourceArn=arn, BatchSize=10, FilterCriteria={"Filters": [
        {"Pattern": json.dumps({"body": {"kind": ["keep"]}})}]})
    send(sqs, url, {"id": "dropped", "kind": "drop"}, {"id": "kept", "kind": "keep"})

    sink.wait_for(sink.seen("kept"), "the matching message at the function")
    # a message that matches no filter is deleted, never delivered (as on AWS)
    wait_until(lambda: queue_empty(sqs, url), timeout=10, message="the queue emptied")
    assert not sink.calls_with("dropped")


def test_fifo_groups_run_in_parallel_and_in_order_within_a_group(
        sqs: Any, make_queue: Callable[..., tuple[str, str]], make_mapping: Callable[..., str],
        sink: Sink) -> None:
    url, arn = make_queue(fifo=True)
    make_mapping(EventSourceArn=arn, BatchSize=1)
    # WHEN group A's first message is slow and group B has one quick message
    send(sqs, url, {"id": "a-1", "sleep": 3}, {"id": "a-2"}, group="A")
    send(sqs, url, {"id": "b-1"}, group="B")

    calls = sink.wait_for(sink.seen("a-1", "a-2", "b-1"), "three invocations", timeout=30)
    by_id = {c["ids"][0]: c for c in calls}
    # THEN B is not held up behind A's slow message ...
    assert by_id["b-1"]["started"] < by_id["a-1"]["ended"], calls
    # ... and A's messages still reach the function one after the other, in order
    assert by_id["a-2"]["started"] >= by_id["a-1"]["ended"], calls
    assert [c["group"] for c in (by_id["a-1"], by_id["a-2"], by_id["b-1"])] == ["A", "A", "B"]


@pytest.mark.parametrize("stop", ["delete", "disable"])
def test_a_message_sent_after_the_mapping_stopped_stays_in_the_queue(
        stop: str, sqs: Any, lam: Any, make_queue: Callable[..., tuple[str, str]],
        make_mapping: Callable[..., str], sink: Sink, wait_until: Callable[..., Any]) -> None:
    # GIVEN a mapping that consumes (its poller long-polls the queue: esm_sqs_long_polling)
    url, arn = make_queue()
    esm = make_mapping(EventSourceArn=arn, BatchSize=10)
    send(sqs, url, {"id": "before"})
    sink.wait_for(sink.seen("before"), "the message sent while the mapping was enabled")
    # WHEN the mapping is deleted (or disabled) and a message is sent after the call returned
    if stop == "delete":
        lam.delete_event_source_mapping(UUID=esm)
    else:
        lam.update_event_source_mapping(UUID=esm, Enabled=False)
    send(sqs, url, {"id": "after"})

    # THEN the message stays in the queue for another consumer and the function never sees it
    # (a long poll still in flight hands it back: it becomes visible again at once)
    got: list[dict] = []
    wait_until(lambda: got.extend(drain(sqs, url)) or got, timeout=30,
               message="the message sent after the stop, still in the queue")
    assert [m["id"] for m in got] == ["after"]
    sink.quiet(0.5)
    assert not sink.calls_with("after")
