"""Helpers for the function unit tests (events from tests/events, a fake Lambda context)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

EVENTS = Path(__file__).resolve().parents[2] / "events"


@dataclass
class FakeContext:
    function_name: str = "unit-test-function"
    function_version: str = "$LATEST"
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:unit-test-function"
    memory_limit_in_mb: int = 256
    aws_request_id: str = "00000000-0000-4000-8000-000000000001"
    log_group_name: str = "/aws/lambda/unit-test-function"
    log_stream_name: str = "2026/11/28/[$LATEST]0123456789"
    remaining_ms: int = 60_000

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


def event(name: str) -> dict[str, Any]:
    return json.loads((EVENTS / name).read_text(encoding="utf-8"))


def api_event(name: str, body: Any = None, raw_body: str | None = None, **overrides: Any) -> dict:
    """An API Gateway proxy event from tests/events with a different body or fields."""
    ev = event(name)
    if raw_body is not None:
        ev["body"] = raw_body
    elif body is not None:
        ev["body"] = json.dumps(body)
    ev.update(overrides)
    return ev


def body_of(response: dict[str, Any]) -> Any:
    return json.loads(response["body"])


def put_order(aws: Any, order_id: str = "o-1", **fields: Any) -> dict[str, Any]:
    """Store a valid PENDING order (2 x SKU-1 at 12.50) straight in the orders table."""
    item = {
        "order_id": order_id,
        "status": "PENDING",
        "customer_email": "ada@example.com",
        "items": [{"sku": "SKU-1", "quantity": 2, "unit_price_cents": 1250}],
        "card": "tok_visa",
        "amount_cents": 2500,
        **fields,
    }
    aws.orders.put_item(Item=item)
    return item
