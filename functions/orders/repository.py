"""Orders and inventory table access: every state change is a conditional write."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from common.clock import now_iso
from common.dynamo import (
    cancellation_codes,
    conditional_write,
    error_code,
    is_conditional_failure,
)
from common.errors import ConflictError, InventoryError, OrderNotFoundError


def put_new_order(table: Any, item: dict[str, Any]) -> None:
    try:
        table.put_item(Item=item, ConditionExpression="attribute_not_exists(order_id)")
    except ClientError as e:
        if is_conditional_failure(e):
            raise ConflictError("order already exists") from e
        raise


def delete_order(table: Any, order_id: str) -> None:
    table.delete_item(Key={"order_id": order_id})


def get_order(table: Any, order_id: str) -> dict[str, Any] | None:
    return table.get_item(Key={"order_id": order_id}, ConsistentRead=True).get("Item")


def require_order(table: Any, order_id: str) -> dict[str, Any]:
    item = get_order(table, order_id)
    if item is None:
        raise OrderNotFoundError(f"order {order_id} not found")
    return item


def mark_processing(table: Any, order_id: str) -> bool:
    """PENDING -> PROCESSING. False when the order has already moved on (a redelivery)."""
    moved = conditional_write(
        table.update_item,
        Key={"order_id": order_id},
        UpdateExpression="SET #s = :processing, updated_at = :now",
        ConditionExpression="attribute_exists(order_id) AND #s = :pending",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={
            ":processing": "PROCESSING",
            ":pending": "PENDING",
            ":now": now_iso(),
        },
    )
    if not moved:
        require_order(table, order_id)  # raises OrderNotFoundError when it doesn't exist
    return moved


def claim_for_saga(table: Any, order_id: str, execution_id: str) -> bool:
    """Make `execution_id` the order's only saga; False when another execution owns it."""
    return conditional_write(
        table.update_item,
        Key={"order_id": order_id},
        UpdateExpression="SET saga_execution = :e, updated_at = :now",
        ConditionExpression=(
            "attribute_exists(order_id) AND "
            "(attribute_not_exists(saga_execution) OR saga_execution = :e)"
        ),
        ExpressionAttributeValues={":e": execution_id, ":now": now_iso()},
    )


def record_payment(table: Any, order_id: str, payment: dict[str, Any]) -> dict[str, Any]:
    """Store the charge on the order once; returns the payment that is on the order."""
    try:
        table.update_item(
            Key={"order_id": order_id},
            UpdateExpression="SET payment = :p, updated_at = :now",
            ConditionExpression="attribute_exists(order_id) AND attribute_not_exists(payment)",
            ExpressionAttributeValues={":p": payment, ":now": now_iso()},
        )
    except ClientError as e:
        if is_conditional_failure(e):
            existing = require_order(table, order_id).get("payment")
            if existing is None:
                raise
            return existing
        raise
    return payment


def mark_refunded(table: Any, order_id: str, refunded_at: str) -> bool:
    """CHARGED -> REFUNDED on the order's payment; False when there was nothing to refund."""
    return conditional_write(
        table.update_item,
        Key={"order_id": order_id},
        UpdateExpression="SET payment.#ps = :refunded, payment.refunded_at = :at, updated_at = :at",
        ConditionExpression="attribute_exists(payment) AND payment.#ps = :charged",
        ExpressionAttributeNames={"#ps": "status"},
        ExpressionAttributeValues={
            ":refunded": "REFUNDED",
            ":charged": "CHARGED",
            ":at": refunded_at,
        },
    )


def mark_completed(table: Any, order_id: str) -> None:
    try:
        table.update_item(
            Key={"order_id": order_id},
            UpdateExpression="SET #s = :completed, completed_at = :now, updated_at = :now",
            ConditionExpression="attribute_exists(order_id) AND #s <> :failed",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={
                ":completed": "COMPLETED",
                ":failed": "FAILED",
                ":now": now_iso(),
            },
        )
    except ClientError as e:
        if is_conditional_failure(e):
            raise ConflictError(f"order {order_id} is missing or already failed") from e
        raise


def record_failure(
    table: Any, order_id: str, reason: str, message: str, execution_id: str | None
) -> bool:
    """-> FAILED with the reason, unless the order is missing, already final, or owned by
    another saga execution (a duplicate must not fail the order the owner is processing).

    The first final outcome wins. False when nothing was written.
    """
    return conditional_write(
        table.update_item,
        Key={"order_id": order_id},
        UpdateExpression=(
            "SET #s = :failed, failure_reason = :reason, failure_message = :message, "
            "failed_at = :now, updated_at = :now"
        ),
        ConditionExpression=(
            "attribute_exists(order_id) AND NOT (#s IN (:failed, :completed)) AND "
            "(attribute_not_exists(saga_execution) OR saga_execution = :e)"
        ),
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={
            ":e": execution_id or "",
            ":failed": "FAILED",
            ":completed": "COMPLETED",
            ":reason": reason,
            ":message": message,
            ":now": now_iso(),
        },
    )


def sku_exists(inventory: Any, sku: str) -> bool:
    return "Item" in inventory.get_item(Key={"sku": sku}, ProjectionExpression="sku")


def reserve_stock(
    client: Any, orders_table: str, inventory_table: str, order_id: str, items: list[dict[str, Any]]
) -> bool:
    """Take every item's stock and flag the order, all or nothing (one transaction).

    Returns False when this order's stock was already reserved (a retried step). Raises
    InventoryError naming the SKUs without enough stock.
    """
    transact: list[dict[str, Any]] = [
        {
            "Update": {
                "TableName": orders_table,
                "Key": {"order_id": {"S": order_id}},
                "UpdateExpression": "SET inventory_reserved = :t",
                "ConditionExpression": (
                    "attribute_exists(order_id) AND attribute_not_exists(inventory_reserved)"
                ),
                "ExpressionAttributeValues": {":t": {"BOOL": True}},
            }
        }
    ]
    for item in items:
        transact.append(
            {
                "Update": {
                    "TableName": inventory_table,
                    "Key": {"sku": {"S": item["sku"]}},
                    "UpdateExpression": "SET stock = stock - :q",
                    "ConditionExpression": "attribute_exists(sku) AND stock >= :q",
                    "ExpressionAttributeValues": {":q": {"N": str(item["quantity"])}},
                }
            }
        )
    try:
        client.transact_write_items(TransactItems=transact)
    except ClientError as e:
        if error_code(e) != "TransactionCanceledException":
            raise
        codes = cancellation_codes(e)
        if codes and codes[0] == "ConditionalCheckFailed":
            require_order_via_client(client, orders_table, order_id)
            return False
        short = [
            item["sku"]
            for item, code in zip(items, codes[1:], strict=False)
            if code == "ConditionalCheckFailed"
        ]
        raise InventoryError(
            f"insufficient stock for {', '.join(short)}"
            if short
            else "inventory could not be reserved"
        ) from e
    return True


def require_order_via_client(client: Any, orders_table: str, order_id: str) -> None:
    response = client.get_item(
        TableName=orders_table, Key={"order_id": {"S": order_id}}, ProjectionExpression="order_id"
    )
    if "Item" not in response:
        raise OrderNotFoundError(f"order {order_id} not found")
