"""DynamoDB secondary indexes as users query them: what each projection (KEYS_ONLY, INCLUDE,
ALL) returns from a GSI and an LSI, sparse indexes, and what AWS refuses. Real LocalStack over
HTTP (host mode: LocalStack's provider on moto)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from dynamodb_helpers import error_code

pytestmark = pytest.mark.integration

PROJECTIONS = {
    "keys": {"ProjectionType": "KEYS_ONLY"},
    "include": {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["a"]},
    "all": {"ProjectionType": "ALL"},
}
ITEM = {"pk": {"S": "p1"}, "sk": {"S": "s1"}, "status": {"S": "NEW"}, "n": {"N": "7"},
        "a": {"S": "included"}, "b": {"S": "not projected"}}


@pytest.fixture
def indexed_table(ddb: Any, make_table: Callable[..., str]) -> str:
    """pk/sk table with a GSI on status and an LSI on n for each projection, one item in it
    and one without status or n (so absent from the sparse indexes)."""
    name = make_table(
        AttributeDefinitions=[{"AttributeName": n, "AttributeType": t} for n, t in
                              (("pk", "S"), ("sk", "S"), ("status", "S"), ("n", "N"))],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                   {"AttributeName": "sk", "KeyType": "RANGE"}],
        GlobalSecondaryIndexes=[
            {"IndexName": f"gsi-{kind}", "Projection": projection,
             "KeySchema": [{"AttributeName": "status", "KeyType": "HASH"},
                           {"AttributeName": "sk", "KeyType": "RANGE"}]}
            for kind, projection in PROJECTIONS.items()],
        LocalSecondaryIndexes=[
            {"IndexName": f"lsi-{kind}", "Projection": projection,
             "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"},
                           {"AttributeName": "n", "KeyType": "RANGE"}]}
            for kind, projection in PROJECTIONS.items()],
    )
    ddb.put_item(TableName=name, Item=ITEM)
    ddb.put_item(TableName=name, Item={"pk": {"S": "p1"}, "sk": {"S": "s2"},
                                       "a": {"S": "no index keys"}})
    return name


def query_gsi(ddb: Any, table: str, index: str, **kwargs: Any) -> dict:
    return ddb.query(TableName=table, IndexName=index, KeyConditionExpression="#s = :s",
                     ExpressionAttributeNames={"#s": "status"},
                     ExpressionAttributeValues={":s": {"S": "NEW"}}, **kwargs)


def query_lsi(ddb: Any, table: str, index: str, **kwargs: Any) -> dict:
    return ddb.query(TableName=table, IndexName=index, KeyConditionExpression="pk = :p",
                     ExpressionAttributeValues={":p": {"S": "p1"}}, **kwargs)


@pytest.mark.parametrize(("kind", "attributes"), [
    ("keys", {"pk", "sk", "status"}),
    ("include", {"pk", "sk", "status", "a"}),
    ("all", set(ITEM)),
])
def test_gsi_returns_its_projection(ddb: Any, indexed_table: str, kind: str,
                                    attributes: set[str]) -> None:
    items = query_gsi(ddb, indexed_table, f"gsi-{kind}")["Items"]
    # the item without `status` is not in the (sparse) index
    assert len(items) == 1
    assert set(items[0]) == attributes
    assert items[0] == {k: v for k, v in ITEM.items() if k in attributes}


@pytest.mark.parametrize(("kind", "attributes"), [
    ("keys", {"pk", "sk", "n"}),
    ("include", {"pk", "sk", "n", "a"}),
    ("all", set(ITEM)),
])
def test_lsi_returns_its_projection(ddb: Any, indexed_table: str, kind: str,
                                    attributes: set[str]) -> None:
    items = query_lsi(ddb, indexed_table, f"lsi-{kind}")["Items"]
    assert len(items) == 1
    assert set(items[0]) == attributes


def test_gsi_refuses_attributes_it_does_not_project(ddb: Any, indexed_table: str) -> None:
    with pytest.raises(ddb.exceptions.ClientError) as exc:
        query_gsi(ddb, indexed_table, "gsi-keys", Select="ALL_ATTRIBUTES")
    assert error_code(exc) == "ValidationException"


def test_index_projection_expression_and_count(ddb: Any, indexed_table: str) -> None:
    out = query_gsi(ddb, indexed_table, "gsi-include", ProjectionExpression="a")
    assert out["Items"] == [{"a": {"S": "included"}}]
    counted = query_gsi(ddb, indexed_table, "gsi-all", Select="COUNT")
    assert (counted["Count"], counted["ScannedCount"]) == (1, 1) and "Items" not in counted


def test_scan_of_an_index_sees_only_indexed_items(ddb: Any, indexed_table: str) -> None:
    items = ddb.scan(TableName=indexed_table, IndexName="lsi-keys")["Items"]
    assert items == [{"pk": ITEM["pk"], "sk": ITEM["sk"], "n": ITEM["n"]}]
