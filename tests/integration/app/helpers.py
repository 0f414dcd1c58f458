"""Plain helpers for the app's end-to-end tests; the fixtures that hand them out are in
conftest.py next to this file.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import data_layer
import stack as st


def unique(prefix: str = "t") -> str:
    """A resource name or marker no other test (or earlier run) uses."""
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


@dataclass
class App:
    """The deployed stack as the tests drive it: API, data-layer names, functions, clients."""

    endpoint: str
    outputs: dict[str, str]
    functions: dict[str, str] = field(default_factory=dict)

    @property
    def api(self) -> str:
        return self.outputs["ApiUrl"].rstrip("/")

    def name(self, var: str) -> str:
        """A data-layer resource name (USERS_TABLE, IMAGES_BUCKET, ...)."""
        return data_layer.name(var)

    def client(self, service: str) -> Any:
        return st.client(service)

    def function(self, logical_id: str) -> str:
        """Physical name of a stack function by (a prefix of) its logical id."""
        if logical_id in self.functions:
            return self.functions[logical_id]
        matches = [v for k, v in self.functions.items() if k.startswith(logical_id)]
        assert len(matches) == 1, f"{logical_id}: no single match in {sorted(self.functions)}"
        return matches[0]

    def http(self, method: str, path: str, body: Any = None, raw: bytes | None = None):
        return st.http(method, f"{self.api}{path}", body=body, raw=raw)

    def queue_url(self, var: str) -> str:
        return self.client("sqs").get_queue_url(QueueName=self.name(var))["QueueUrl"]


@dataclass
class PoisonBatch:
    """What the `poison_batch` fixture sent to orders-queue, and when the DLQ check gives up."""

    good: dict[str, str]  # order_id -> customer email
    marker: str
    sent: int
    deadline: float
    clock: Callable[[], float] = time.monotonic
