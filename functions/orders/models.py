"""Order request/message models and the stored order shape.

Limits: 1..50 items, each SKU at most once, quantity 1..1000, unit_price_cents 1..10,000,000
(money is integer cents: no floats), `card` is a payment token (test token "declined" is refused
by the fake payment provider).
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from common.clock import now_iso
from common.validation import Email

MAX_ITEMS = 50
MAX_QUANTITY = 1000
MAX_UNIT_PRICE_CENTS = 10_000_000

Sku = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
Token = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,64}$")]

# Order ids are UUIDs; anything longer is not one of ours (and stays far from DynamoDB's key
# limit and Step Functions' 80-character execution names).
MAX_ORDER_ID_LENGTH = 64
# The saga owner orders.validate records when it is invoked without an execution id.
DIRECT_INVOKE = "direct-invoke"

OrderStatus = Literal["PENDING", "PROCESSING", "COMPLETED", "FAILED"]
FINAL_STATUSES = ("COMPLETED", "FAILED")


class OrderItem(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sku: Sku
    quantity: int = Field(strict=True, ge=1, le=MAX_QUANTITY)
    unit_price_cents: int = Field(strict=True, ge=1, le=MAX_UNIT_PRICE_CENTS)


def _unique_skus(items: list[OrderItem]) -> list[OrderItem]:
    skus = [item.sku for item in items]
    if len(skus) != len(set(skus)):
        raise ValueError("each sku may appear only once")
    return items


class NewOrder(BaseModel):
    """POST /orders body."""

    model_config = ConfigDict(extra="forbid")

    customer_email: Email
    items: list[OrderItem] = Field(min_length=1, max_length=MAX_ITEMS)
    card: Token = "tok_visa"

    _check_items = field_validator("items")(_unique_skus)


class Order(BaseModel):
    """A stored order as the saga reads it back (ValidateOrder re-checks everything)."""

    model_config = ConfigDict(extra="ignore")

    order_id: str
    status: OrderStatus
    customer_email: Email
    items: list[OrderItem] = Field(min_length=1, max_length=MAX_ITEMS)
    card: Token
    amount_cents: int = Field(strict=True, ge=1)

    _check_items = field_validator("items")(_unique_skus)


class QueueMessage(BaseModel):
    """The message create_order sends to orders-queue."""

    model_config = ConfigDict(extra="ignore")

    order_id: Annotated[str, StringConstraints(min_length=1, max_length=MAX_ORDER_ID_LENGTH)]
    customer_email: Email


def total_cents(items: list[OrderItem]) -> int:
    return sum(item.quantity * item.unit_price_cents for item in items)


def new_order_item(order: NewOrder) -> dict[str, Any]:
    now = now_iso()
    return {
        "order_id": str(uuid.uuid4()),
        "status": "PENDING",
        "customer_email": order.customer_email,
        "items": [item.model_dump() for item in order.items],
        "card": order.card,
        "amount_cents": total_cents(order.items),
        "created_at": now,
        "updated_at": now,
    }


def is_order_id(value: Any) -> bool:
    return isinstance(value, str) and 0 < len(value) <= MAX_ORDER_ID_LENGTH


def public_view(item: dict[str, Any]) -> dict[str, Any]:
    """What the API shows of an order (no payment token)."""
    return {k: v for k, v in item.items() if k != "card"}
