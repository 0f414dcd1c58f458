"""DynamoDB answers shaped like AWS's: no field AWS does not send, every field that was asked for.

The expected shapes are AWS's, as recorded in LocalStack's own snapshot tests (which run the
same provider on DynamoDB Local); the backend here is moto (plugins/localstack_hostmode).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import dynamodb_helpers as helpers
import pytest

pytestmark = pytest.mark.integration

HASH_ONLY = {"AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}],
             "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}]}
PROVISIONED = {"BillingMode": "PROVISIONED",
               "ProvisionedThroughput": {"ReadCapacityUnits": 5, "WriteCapacityUnits": 5}}


@pytest.fixture
def lsi_table(make_table: Callable[..., str]) -> str:
    """pk/sk table with a local secondary index: its items form item collections."""
    return make_table(
        AttributeDefinitions=[{"AttributeName": n, "AttributeType": t}
                              for n, t in (("pk", "S"), ("sk", "S"), ("n", "N"))],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                   {"AttributeName": "sk", "KeyType": "RANGE"}],
        LocalSecondaryIndexes=[{
            "IndexName": "by-n",
            "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"},
                          {"AttributeName": "n", "KeyType": "RANGE"}],
            "Projection": {"ProjectionType": "KEYS_ONLY"},
        }],
    )


def body(response: dict) -> dict:
    return {k: v for k, v in response.items() if k != "ResponseMetadata"}


# ----------------------------------------------------------------------------- tables


def test_provisioned_table_answers_like_aws(ddb: Any, table_names: list[str]) -> None:
    name = helpers.unique("shape-prov")
    table_names.append(name)
    created = ddb.create_table(TableName=name, **HASH_ONLY, **PROVISIONED)["TableDescription"]
    for absent in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes", "BillingModeSummary",
                   "WarmThroughput"):
        assert absent not in created, absent
    assert created["ProvisionedThroughput"] == {"NumberOfDecreasesToday": 0,
                                                "ReadCapacityUnits": 5, "WriteCapacityUnits": 5}
    assert created["DeletionProtectionEnabled"] is False
    described = ddb.describe_table(TableName=name)["Table"]
    for absent in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes", "BillingModeSummary"):
        assert absent not in described, absent
    # AWS reports the warm throughput of every table it describes
    assert described["WarmThroughput"] == {"ReadUnitsPerSecond": 5, "WriteUnitsPerSecond": 5,
                                           "Status": "ACTIVE"}
    assert ddb.delete_table(TableName=name)["TableDescription"]["TableStatus"] == "DELETING"


def test_on_demand_table_has_billing_summary(ddb: Any, make_table: Callable[..., str]) -> None:
    name = make_table(**HASH_ONLY)
    described = ddb.describe_table(TableName=name)["Table"]
    summary = described["BillingModeSummary"]
    assert summary["BillingMode"] == "PAY_PER_REQUEST"
    assert "LastUpdateToPayPerRequestDateTime" in summary
    assert described["WarmThroughput"]["ReadUnitsPerSecond"] == 12000
    assert "LocalSecondaryIndexes" not in described


def test_secondary_indexes_are_described(ddb: Any, lsi_table: str) -> None:
    described = ddb.describe_table(TableName=lsi_table)["Table"]
    assert "GlobalSecondaryIndexes" not in described
    (index,) = described["LocalSecondaryIndexes"]
    assert index["IndexName"] == "by-n"
    assert index["IndexArn"].endswith(f"table/{lsi_table}/index/by-n")
    assert {"IndexSizeBytes", "ItemCount"} <= set(index)


# ----------------------------------------------------------------------------- item writes


def test_writes_answer_nothing_unless_asked(ddb: Any, make_table: Callable[..., str]) -> None:
    name = make_table(**HASH_ONLY)
    key = {"id": {"S": "a"}}
    assert body(ddb.put_item(TableName=name, Item={**key, "v": {"N": "1"}})) == {}
    assert body(ddb.put_item(TableName=name, Item={**key, "v": {"N": "2"}},
                             ReturnValues="NONE")) == {}
    assert body(ddb.update_item(TableName=name, Key=key, UpdateExpression="SET v = :v",
                                ExpressionAttributeValues={":v": {"N": "3"}})) == {}
    assert body(ddb.update_item(TableName=name, Key=key, UpdateExpression="SET v = :v",
                                ExpressionAttributeValues={":v": {"N": "4"}},
                                ReturnValues="NONE")) == {}
    assert body(ddb.delete_item(TableName=name, Key=key)) == {}
    # ALL_OLD of an item that did not exist: no Attributes at all
    assert body(ddb.put_item(TableName=name, Item=key, ReturnValues="ALL_OLD")) == {}


def test_writes_keep_what_was_asked_for(ddb: Any, make_table: Callable[..., str]) -> None:
    name = make_table(**HASH_ONLY)
    key = {"id": {"S": "a"}}
    ddb.put_item(TableName=name, Item={**key, "v": {"N": "1"}})
    out = ddb.put_item(TableName=name, Item={**key, "v": {"N": "2"}}, ReturnValues="ALL_OLD",
                       ReturnConsumedCapacity="TOTAL")
    assert out["Attributes"] == {**key, "v": {"N": "1"}}
    assert out["ConsumedCapacity"]["TableName"] == name
    assert out["ConsumedCapacity"]["CapacityUnits"] >= 1
    out = ddb.update_item(TableName=name, Key=key, UpdateExpression="SET v = :v",
                          ExpressionAttributeValues={":v": {"N": "3"}},
                          ReturnValues="UPDATED_NEW", ReturnConsumedCapacity="INDEXES")
    assert out["Attributes"] == {"v": {"N": "3"}}
    assert out["ConsumedCapacity"]["Table"]["CapacityUnits"] >= 1
    assert "ItemCollectionMetrics" not in out


def test_item_collection_metrics_for_tables_with_lsi(ddb: Any, lsi_table: str,
                                                    make_table: Callable[..., str]) -> None:
    item = {"pk": {"S": "p1"}, "sk": {"S": "s1"}, "n": {"N": "1"}}
    out = ddb.put_item(TableName=lsi_table, Item=item, ReturnItemCollectionMetrics="SIZE")
    assert out["ItemCollectionMetrics"]["ItemCollectionKey"] == {"pk": {"S": "p1"}}
    assert len(out["ItemCollectionMetrics"]["SizeEstimateRangeGB"]) == 2
    # not asked: not sent
    assert "ItemCollectionMetrics" not in ddb.put_item(TableName=lsi_table, Item=item)
    # a table without LSI has no item collections
    plain = make_table(**HASH_ONLY)
    out = ddb.put_item(TableName=plain, Item={"id": {"S": "x"}},
                       ReturnItemCollectionMetrics="SIZE")
    assert "ItemCollectionMetrics" not in out


# ----------------------------------------------------------- batches, transactions


def test_batch_and_transaction_answers(ddb: Any, make_table: Callable[..., str]) -> None:
    name = make_table(**HASH_ONLY)
    writes = [{"PutRequest": {"Item": {"id": {"S": str(i)}}}} for i in range(3)]
    assert body(ddb.batch_write_item(RequestItems={name: writes})) == {"UnprocessedItems": {}}
    out = ddb.batch_write_item(RequestItems={name: writes}, ReturnConsumedCapacity="TOTAL")
    assert [c["TableName"] for c in out["ConsumedCapacity"]] == [name]
    got = ddb.batch_get_item(RequestItems={name: {"Keys": [{"id": {"S": "0"}}]}})
    assert "ConsumedCapacity" not in got
    assert body(ddb.transact_write_items(TransactItems=[
        {"Put": {"TableName": name, "Item": {"id": {"S": "t"}}}}])) == {}
    out = ddb.transact_write_items(TransactItems=[
        {"Put": {"TableName": name, "Item": {"id": {"S": "u"}}}}], ReturnConsumedCapacity="TOTAL")
    assert [c["TableName"] for c in out["ConsumedCapacity"]] == [name]
    assert "ItemCollectionMetrics" not in out


# ----------------------------------------------------------------------------- table class


def table_class(ddb: Any, name: str) -> str:
    return ddb.describe_table(TableName=name)["Table"]["TableClassSummary"]["TableClass"]


def test_table_class_is_kept(ddb: Any, table_names: list[str]) -> None:
    name = helpers.unique("shape-ia")
    table_names.append(name)
    created = ddb.create_table(TableName=name, BillingMode="PAY_PER_REQUEST",
                               TableClass="STANDARD_INFREQUENT_ACCESS",
                               **HASH_ONLY)["TableDescription"]
    assert created["TableClassSummary"]["TableClass"] == "STANDARD_INFREQUENT_ACCESS"
    assert table_class(ddb, name) == "STANDARD_INFREQUENT_ACCESS"
    updated = ddb.update_table(TableName=name, TableClass="STANDARD")["TableDescription"]
    assert updated["TableClassSummary"]["TableClass"] == "STANDARD"
    assert table_class(ddb, name) == "STANDARD"
    ddb.update_table(TableName=name, TableClass="STANDARD_INFREQUENT_ACCESS")
    assert table_class(ddb, name) == "STANDARD_INFREQUENT_ACCESS"
