"""Plain helpers of the event-source mapping tests (fixtures are in conftest.py)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from executor_helpers import zip_tree

FUNCTIONS_DIR = Path(__file__).resolve().parent / "functions"
RECORDER = {"ZipFile": zip_tree(FUNCTIONS_DIR)}


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def drain(sqs: Any, queue_url: str) -> list[dict]:
    """Every message a queue hands out now (bodies parsed), deleted as they are read."""
    out = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1,
                              AttributeNames=["All"])
    messages = out.get("Messages", [])
    if messages:
        sqs.delete_message_batch(QueueUrl=queue_url, Entries=[
            {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)])
    return [json.loads(m["Body"]) for m in messages]


def put_records(kinesis: Any, stream_arn: str, payloads: list[dict]) -> list[str]:
    """Puts each payload as one JSON record (one call, one shard); their sequence numbers."""
    out = kinesis.put_records(StreamARN=stream_arn, Records=[
        {"Data": json.dumps(p).encode(), "PartitionKey": "pk"} for p in payloads])
    assert out.get("FailedRecordCount", 0) == 0, out
    return [r["SequenceNumber"] for r in out["Records"]]


class Sink:
    """The recorder function's reports, one per invocation (see functions/recorder.py)."""

    def __init__(self, sqs: Any, url: str, wait_until: Callable[..., Any]):
        self.sqs, self.url, self._wait_until = sqs, url, wait_until
        self.invocations: list[dict] = []

    def wait_for(self, predicate: Callable[[list[dict]], bool], message: str,
                 timeout: float = 20) -> list[dict]:
        """Reads reports until ``predicate(all reports so far)`` holds."""

        def holds() -> bool:
            self.invocations.extend(drain(self.sqs, self.url))
            return predicate(self.invocations)

        self._wait_until(holds, timeout=timeout, interval=0, message=message)
        return self.invocations

    def calls_with(self, record_id: str) -> list[dict]:
        return [i for i in self.invocations if record_id in i["ids"]]

    def seen(self, *record_ids: str) -> Callable[[list[dict]], bool]:
        return lambda calls: all(any(r in c["ids"] for c in calls) for r in record_ids)

    def quiet(self, seconds: float = 1.5) -> list[dict]:
        """Reads what arrives in the next ``seconds`` (to show that nothing more comes)."""
        import time

        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self.invocations.extend(drain(self.sqs, self.url))
        return self.invocations
