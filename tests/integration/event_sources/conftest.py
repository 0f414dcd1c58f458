"""Fixtures of the event-source mapping tests: a recorder function reporting to a sink queue,
queues, streams and mappings, each unique and deleted after the test (mapping first)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from executor_helpers import FunctionFactory

from .helpers import RECORDER, Sink, unique


@pytest.fixture
def sqs(aws_client: Callable[..., Any]) -> Any:
    return aws_client("sqs")


@pytest.fixture
def kinesis(aws_client: Callable[..., Any]) -> Any:
    return aws_client("kinesis")


@pytest.fixture
def make_queue(sqs: Any) -> Iterator[Callable[..., tuple[str, str]]]:
    """``make_queue(fifo=False, **attributes)`` -> (url, arn) of a new queue."""
    urls: list[str] = []

    def factory(fifo: bool = False, **attributes: str) -> tuple[str, str]:
        name = unique("esm-q") + (".fifo" if fifo else "")
        if fifo:
            attributes = {"FifoQueue": "true", "ContentBasedDeduplication": "true", **attributes}
        url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
        urls.append(url)
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
        return url, arn["Attributes"]["QueueArn"]

    yield factory
    for url in urls:
        try:
            sqs.delete_queue(QueueUrl=url)
        except sqs.exceptions.QueueDoesNotExist:
            pass


@pytest.fixture
def make_stream(kinesis: Any) -> Iterator[Callable[[], str]]:
    """``make_stream()`` -> ARN of a new ACTIVE one-shard Kinesis stream."""
    names: list[str] = []

    def factory() -> str:
        name = unique("esm-stream")
        kinesis.create_stream(StreamName=name, ShardCount=1)
        names.append(name)
        kinesis.get_waiter("stream_exists").wait(StreamName=name, WaiterConfig={
            "Delay": 0.2, "MaxAttempts": 100})
        return kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"][
            "StreamARN"]

    yield factory
    for name in names:
        try:
            kinesis.delete_stream(StreamName=name, EnforceConsumerDeletion=True)
        except kinesis.exceptions.ResourceNotFoundException:
            pass


@pytest.fixture
def sink(make_queue: Callable[..., tuple[str, str]], sqs: Any,
         wait_until: Callable[..., Any]) -> Sink:
    url, _ = make_queue()
    return Sink(sqs, url, wait_until)


@pytest.fixture
def recorder(make_function: FunctionFactory, sink: Sink) -> str:
    """Name of a recorder function (functions/recorder.py) that reports to ``sink``."""
    return make_function(handler="recorder.handler", code=RECORDER, Timeout=30,
                         Environment={"Variables": {"SINK_QUEUE_URL": sink.url}})


@pytest.fixture
def make_mapping(lam: Any, recorder: str, wait_until: Callable[..., Any]
                 ) -> Iterator[Callable[..., str]]:
    """``make_mapping(EventSourceArn=..., **kwargs)`` -> UUID of an Enabled mapping to the
    recorder; deleted (and gone) before the function is."""
    uuids: list[str] = []

    def factory(**kwargs: Any) -> str:
        esm = lam.create_event_source_mapping(FunctionName=recorder, **kwargs)["UUID"]
        uuids.append(esm)
        wait_until(lambda: lam.get_event_source_mapping(UUID=esm)["State"] == "Enabled",
                   timeout=30, message=f"mapping {esm} Enabled")
        return esm

    yield factory
    for esm in uuids:
        try:
            lam.delete_event_source_mapping(UUID=esm)
        except lam.exceptions.ResourceNotFoundException:
            pass

