"""Users table access. Plain functions over a boto3 Table, so tests can pass any table."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from botocore.exceptions import ClientError

from common.dynamo import conditional_write, is_conditional_failure
from common.errors import ConflictError

# A user is inactive when its last activity (or, for items without one, its creation) is older
# than the cutoff. Used both to find candidates and as the delete condition, so a user who became
# active between the scan and the delete is kept.
_INACTIVE = (
    "(attribute_exists(last_active_at) AND last_active_at < :cutoff) OR "
    "(attribute_not_exists(last_active_at) AND created_at < :cutoff)"
)


def create_user(table: Any, item: dict[str, Any]) -> None:
    try:
        table.put_item(Item=item, ConditionExpression="attribute_not_exists(user_id)")
    except ClientError as e:
        if is_conditional_failure(e):
            raise ConflictError("a user with this email already exists") from e
        raise


def get_user(table: Any, user_id: str) -> dict[str, Any] | None:
    return table.get_item(Key={"user_id": user_id}).get("Item")


def list_page(
    table: Any, limit: int, start_key: dict[str, Any] | None
) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """One bounded page (Scan with Limit); returns the items and the key to resume from."""
    kwargs: dict[str, Any] = {"Limit": limit}
    if start_key:
        kwargs["ExclusiveStartKey"] = start_key
    response = table.scan(**kwargs)
    return response.get("Items", []), response.get("LastEvaluatedKey")


def inactive_user_ids(table: Any, cutoff: str) -> Iterator[str]:
    kwargs: dict[str, Any] = {
        "FilterExpression": _INACTIVE,
        "ExpressionAttributeValues": {":cutoff": cutoff},
        "ProjectionExpression": "user_id",
    }
    while True:
        response = table.scan(**kwargs)
        for item in response.get("Items", []):
            yield item["user_id"]
        if "LastEvaluatedKey" not in response:
            return
        kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]


def delete_if_inactive(table: Any, user_id: str, cutoff: str) -> bool:
    """Delete the user unless it became active meanwhile; True when it was deleted."""
    return conditional_write(
        table.delete_item,
        Key={"user_id": user_id},
        ConditionExpression=f"attribute_exists(user_id) AND ({_INACTIVE})",
        ExpressionAttributeValues={":cutoff": cutoff},
    )
