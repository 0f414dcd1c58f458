"""patches/dynamodb_expired_items.py (no LocalStack): the walk survives tables changing under
it, and deletes what LocalStack's did."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from localstack_hostmode.patches.dynamodb_expired_items import delete_expired, expired_keys


class Client:
    """A DynamoDB client whose every scan also gives another table TTL (as a concurrent
    UpdateTimeToLive would) and deletes one (as a concurrent DeleteTable would)."""

    def __init__(self, state: SimpleNamespace, expired: dict[str, list[dict]]) -> None:
        self.state, self.expired = state, expired
        self.deleted: list[tuple[str, list[dict]]] = []

    def scan(self, TableName: str, **kwargs: Any) -> dict:
        self.state.ttl_specifications[f"new-{len(self.state.ttl_specifications)}"] = {
            "Enabled": False}
        self.state.ttl_specifications.pop("doomed", None)
        return {"Items": self.expired.get(TableName, [])}

    def describe_table(self, TableName: str) -> dict:
        return {"Table": {"KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}]}}

    def batch_write_item(self, RequestItems: dict) -> None:
        for table, requests in RequestItems.items():
            self.deleted.append((table, [r["DeleteRequest"]["Key"] for r in requests]))


def test_tables_changing_during_the_walk_do_not_stop_it() -> None:
    state = SimpleNamespace(ttl_specifications={
        "a": {"Enabled": True, "AttributeName": "exp"},
        "doomed": {"Enabled": True, "AttributeName": "exp"},
        "b": {"Enabled": True, "AttributeName": "exp"},
    })
    items = [{"id": {"S": str(i)}, "exp": {"N": "1"}} for i in range(30)]
    client = Client(state, {"a": items, "b": items[:1]})
    stores = SimpleNamespace(iter_stores=lambda: [("000000000000", "us-east-1", state)])

    count = delete_expired(stores, lambda account, region: client,
                           lambda desc: ("id", None))

    assert count == 31
    assert [(table, len(keys)) for table, keys in client.deleted] == [
        ("a", 25), ("a", 5), ("b", 1)]
    assert client.deleted[0][1][0] == {"id": {"S": "0"}}


def test_keys_carry_the_range_key_when_the_table_has_one() -> None:
    item = {"pk": {"S": "p"}, "sk": {"N": "1"}, "exp": {"N": "1"}}
    assert expired_keys([item], "pk", "sk") == [{"pk": {"S": "p"}, "sk": {"N": "1"}}]
    assert expired_keys([item], "pk", None) == [{"pk": {"S": "p"}}]
