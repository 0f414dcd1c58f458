"""DynamoDB answers shaped like AWS's, per operation (no LocalStack needed)."""

from __future__ import annotations

from typing import Any

from localstack_hostmode.dynamodb_shapes import shape_response

LSI_TABLE = {"Table": {
    "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"},
                  {"AttributeName": "sk", "KeyType": "RANGE"}],
    "LocalSecondaryIndexes": [{"IndexName": "by-n"}],
}}
PLAIN_TABLE = {"Table": {"KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}]}}


def lookup(name: str) -> dict | None:
    return {"lsi": LSI_TABLE, "plain": PLAIN_TABLE}.get(name)


def moto_table(billing: str = "PROVISIONED") -> dict[str, Any]:
    throughput = {"ReadCapacityUnits": 5, "WriteCapacityUnits": 5}
    return {
        "TableName": "t", "TableStatus": "ACTIVE", "CreationDateTime": 1.5,
        "ProvisionedThroughput": throughput if billing == "PROVISIONED"
        else {"ReadCapacityUnits": 0, "WriteCapacityUnits": 0},
        "BillingModeSummary": {"BillingMode": billing},
        "GlobalSecondaryIndexes": [], "LocalSecondaryIndexes": [],
        "WarmThroughput": {"ReadUnitsPerSecond": 5, "WriteUnitsPerSecond": 5,
                           "Status": "ACTIVE"},
    }


def test_provisioned_create_table_has_no_moto_extras() -> None:
    out = shape_response("CreateTable", {"TableName": "t"},
                         {"TableDescription": moto_table()}, lookup)["TableDescription"]
    for absent in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes", "BillingModeSummary",
                   "WarmThroughput"):
        assert absent not in out
    assert out["ProvisionedThroughput"]["NumberOfDecreasesToday"] == 0


def test_create_table_keeps_warm_throughput_that_was_asked_for() -> None:
    request = {"TableName": "t", "WarmThroughput": {"ReadUnitsPerSecond": 1000}}
    out = shape_response("CreateTable", request, {"TableDescription": moto_table()},
                         lookup)["TableDescription"]
    assert out["WarmThroughput"]["ReadUnitsPerSecond"] == 5


def test_describe_on_demand_table_keeps_billing_summary_and_warm_throughput() -> None:
    out = shape_response("DescribeTable", {"TableName": "t"},
                         {"Table": moto_table("PAY_PER_REQUEST")}, lookup)["Table"]
    assert out["BillingModeSummary"] == {"BillingMode": "PAY_PER_REQUEST",
                                         "LastUpdateToPayPerRequestDateTime": 1.5}
    assert out["WarmThroughput"]["Status"] == "ACTIVE"
    assert "GlobalSecondaryIndexes" not in out


def test_indexes_that_exist_are_kept_and_completed() -> None:
    table = moto_table()
    table["LocalSecondaryIndexes"] = [{"IndexName": "by-n", "KeySchema": []}]
    out = shape_response("DescribeTable", {}, {"Table": table}, lookup)["Table"]
    assert out["LocalSecondaryIndexes"] == [{"IndexName": "by-n", "KeySchema": [],
                                             "IndexSizeBytes": 0, "ItemCount": 0}]


def test_delete_table_answers_deleting() -> None:
    out = shape_response("DeleteTable", {}, {"TableDescription": moto_table()},
                         lookup)["TableDescription"]
    assert out["TableStatus"] == "DELETING"
    assert "WarmThroughput" not in out


def test_write_without_return_values_has_no_attributes_or_capacity() -> None:
    moto = {"Attributes": {}, "ConsumedCapacity": {"TableName": "plain", "CapacityUnits": 0.5},
            "ItemCollectionMetrics": {}}
    request = {"TableName": "plain", "Key": {"id": {"S": "1"}}, "ReturnValues": "NONE"}
    assert shape_response("UpdateItem", request, moto, lookup) == {}


def test_write_keeps_what_was_asked_for() -> None:
    request = {"TableName": "plain", "Item": {"id": {"S": "1"}}, "ReturnValues": "ALL_OLD",
               "ReturnConsumedCapacity": "INDEXES"}
    out = shape_response("PutItem", request, {"Attributes": {"id": {"S": "1"}}}, lookup)
    assert out["Attributes"] == {"id": {"S": "1"}}
    assert out["ConsumedCapacity"] == {"TableName": "plain", "CapacityUnits": 1.0,
                                       "Table": {"CapacityUnits": 1.0}}


def test_return_values_of_a_new_item_is_no_attributes() -> None:
    request = {"TableName": "plain", "Item": {"id": {"S": "1"}}, "ReturnValues": "ALL_OLD"}
    assert shape_response("PutItem", request, {"Attributes": {}}, lookup) == {}


def test_item_collection_metrics_only_for_tables_with_lsi() -> None:
    item = {"pk": {"S": "p"}, "sk": {"S": "s"}}
    out = shape_response("PutItem", {"TableName": "lsi", "Item": item,
                                     "ReturnItemCollectionMetrics": "SIZE"}, {}, lookup)
    assert out["ItemCollectionMetrics"] == {"ItemCollectionKey": {"pk": {"S": "p"}},
                                            "SizeEstimateRangeGB": [0.0, 1.0]}
    out = shape_response("PutItem", {"TableName": "plain", "Item": {"id": {"S": "1"}},
                                     "ReturnItemCollectionMetrics": "SIZE"}, {}, lookup)
    assert "ItemCollectionMetrics" not in out


def test_batch_write_capacity_and_metrics_per_table() -> None:
    request = {"RequestItems": {
        "lsi": [{"PutRequest": {"Item": {"pk": {"S": "a"}, "sk": {"S": "1"}}}},
                {"PutRequest": {"Item": {"pk": {"S": "a"}, "sk": {"S": "2"}}}}],
        "plain": [{"DeleteRequest": {"Key": {"id": {"S": "x"}}}}],
    }, "ReturnConsumedCapacity": "TOTAL", "ReturnItemCollectionMetrics": "SIZE"}
    moto = {"ConsumedCapacity": [], "ItemCollectionMetrics": {}, "UnprocessedItems": {}}
    out = shape_response("BatchWriteItem", request, moto, lookup)
    assert out["UnprocessedItems"] == {}
    assert out["ConsumedCapacity"] == [{"TableName": "lsi", "CapacityUnits": 2.0},
                                       {"TableName": "plain", "CapacityUnits": 1.0}]
    assert out["ItemCollectionMetrics"] == {"lsi": [{"ItemCollectionKey": {"pk": {"S": "a"}},
                                                     "SizeEstimateRangeGB": [0.0, 1.0]}]}


def test_transaction_answer_is_empty_unless_asked() -> None:
    request = {"TransactItems": [{"Put": {"TableName": "plain", "Item": {"id": {"S": "1"}}}}]}
    moto = {"ConsumedCapacity": [], "ItemCollectionMetrics": {}}
    assert shape_response("TransactWriteItems", request, moto, lookup) == {}
    request["ReturnConsumedCapacity"] = "TOTAL"
    out = shape_response("TransactWriteItems", request, {}, lookup)
    assert out["ConsumedCapacity"] == [{"TableName": "plain", "CapacityUnits": 2.0,
                                        "WriteCapacityUnits": 2.0}]


def test_batch_get_has_no_capacity_unless_asked() -> None:
    moto = {"Responses": {}, "UnprocessedKeys": {}, "ConsumedCapacity": []}
    out = shape_response("BatchGetItem", {"RequestItems": {}}, moto, lookup)
    assert out == {"Responses": {}, "UnprocessedKeys": {}}


def test_other_operations_and_non_dicts_pass_through() -> None:
    assert shape_response("Scan", {}, {"ConsumedCapacity": {"x": 1}}, lookup) == {
        "ConsumedCapacity": {"x": 1}}
    assert shape_response("PutItem", {}, None, lookup) is None
