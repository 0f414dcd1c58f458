"""DynamoDB in host mode: LocalStack's provider on the moto backend (no Java).

Covers what the app relies on: table CRUD, expressions, conditional writes, transactions, GSIs,
TTL settings, ARNs and DynamoDB Streams records. Stream -> Lambda is in test_dynamodb_streams.py.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from botocore.exceptions import ClientError
from dynamodb_helpers import error_code, stream_records, unique

pytestmark = pytest.mark.integration


@pytest.fixture
def orders_table(make_table: Callable[..., str]) -> str:
    """pk/sk table with a GSI on status."""
    return make_table(
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
            {"AttributeName": "status", "AttributeType": "S"},
        ],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                   {"AttributeName": "sk", "KeyType": "RANGE"}],
        GlobalSecondaryIndexes=[{
            "IndexName": "status-index",
            "KeySchema": [{"AttributeName": "status", "KeyType": "HASH"},
                          {"AttributeName": "sk", "KeyType": "RANGE"}],
            "Projection": {"ProjectionType": "ALL"},
        }],
    )


# ----------------------------------------------------------------------------- tables


def test_table_lifecycle_and_arn(ddb: Any, make_table: Callable[..., str],
                                aws_client: Callable[..., Any]) -> None:
    # GIVEN a new table
    name = make_table(AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                      KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}])
    # THEN it is listed and described with a proper regional ARN (not the backend's)
    assert name in ddb.list_tables()["TableNames"]
    table = ddb.describe_table(TableName=name)["Table"]
    assert table["TableStatus"] == "ACTIVE"
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    account = aws_client("sts").get_caller_identity()["Account"]
    assert table["TableArn"] == f"arn:aws:dynamodb:us-east-1:{account}:table/{name}"
    # WHEN it is created twice THEN the second create fails like on AWS
    with pytest.raises(ClientError) as exc:
        ddb.create_table(TableName=name, BillingMode="PAY_PER_REQUEST",
                         AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                         KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}])
    assert error_code(exc) == "ResourceInUseException"
    # WHEN deleted THEN it is gone
    ddb.delete_table(TableName=name)
    ddb.get_waiter("table_not_exists").wait(TableName=name, WaiterConfig={"Delay": 0.2,
                                                                          "MaxAttempts": 50})
    with pytest.raises(ClientError) as exc:
        ddb.describe_table(TableName=name)
    assert error_code(exc) == "ResourceNotFoundException"


def test_missing_table_is_resource_not_found(ddb: Any) -> None:
    with pytest.raises(ClientError) as exc:
        ddb.get_item(TableName=unique("missing"), Key={"id": {"S": "x"}})
    assert error_code(exc) == "ResourceNotFoundException"


# ----------------------------------------------------------------------------- items


def test_item_crud_with_expressions(ddb: Any, orders_table: str) -> None:
    key = {"pk": {"S": "user#1"}, "sk": {"S": "order#1"}}
    ddb.put_item(TableName=orders_table, Item={**key, "status": {"S": "NEW"},
                                              "cents": {"N": "10"}, "tags": {"SS": ["a"]}})
    # update with SET/ADD/REMOVE, names for the reserved word "status"
    out = ddb.update_item(
        TableName=orders_table, Key=key,
        UpdateExpression="SET #s = :paid, note = :n ADD cents :five, tags :b REMOVE #gone",
        ExpressionAttributeNames={"#s": "status", "#gone": "missing"},
        ExpressionAttributeValues={":paid": {"S": "PAID"}, ":n": {"S": "hi"},
                                   ":five": {"N": "5"}, ":b": {"SS": ["b"]}},
        ReturnValues="ALL_NEW",
    )["Attributes"]
    assert out["status"] == {"S": "PAID"}
    assert out["cents"] == {"N": "15"}
    assert set(out["tags"]["SS"]) == {"a", "b"}
    # projection
    item = ddb.get_item(TableName=orders_table, Key=key, ProjectionExpression="#s, cents",
                        ExpressionAttributeNames={"#s": "status"})["Item"]
    assert item == {"status": {"S": "PAID"}, "cents": {"N": "15"}}
    # query with key condition and filter
    for i in range(2, 5):
        ddb.put_item(TableName=orders_table, Item={"pk": {"S": "user#1"},
                                                  "sk": {"S": f"order#{i}"},
                                                  "status": {"S": "NEW"},
                                                  "cents": {"N": str(i)}})
    page = ddb.query(TableName=orders_table,
                     KeyConditionExpression="pk = :pk AND begins_with(sk, :prefix)",
                     FilterExpression="cents >= :min",
                     ExpressionAttributeValues={":pk": {"S": "user#1"},
                                                ":prefix": {"S": "order#"},
                                                ":min": {"N": "3"}})
    assert sorted(i["sk"]["S"] for i in page["Items"]) == ["order#1", "order#3", "order#4"]
    assert page["ScannedCount"] == 4
    # delete with return values
    old = ddb.delete_item(TableName=orders_table, Key=key, ReturnValues="ALL_OLD")["Attributes"]
    assert old["status"] == {"S": "PAID"}
    assert "Item" not in ddb.get_item(TableName=orders_table, Key=key)


def test_conditional_writes(ddb: Any, orders_table: str) -> None:
    key = {"pk": {"S": "user#2"}, "sk": {"S": "order#1"}}
    ddb.put_item(TableName=orders_table, Item={**key, "status": {"S": "NEW"}},
                 ConditionExpression="attribute_not_exists(pk)")
    # a second create-if-absent fails and leaves the item alone
    with pytest.raises(ClientError) as exc:
        ddb.put_item(TableName=orders_table, Item={**key, "status": {"S": "OVERWRITTEN"}},
                     ConditionExpression="attribute_not_exists(pk)")
    assert error_code(exc) == "ConditionalCheckFailedException"
    # optimistic update: only from NEW
    ddb.update_item(TableName=orders_table, Key=key, UpdateExpression="SET #s = :to",
                    ConditionExpression="#s = :from", ExpressionAttributeNames={"#s": "status"},
                    ExpressionAttributeValues={":from": {"S": "NEW"}, ":to": {"S": "PAID"}})
    with pytest.raises(ClientError) as exc:
        ddb.update_item(TableName=orders_table, Key=key, UpdateExpression="SET #s = :to",
                        ConditionExpression="#s = :from",
                        ExpressionAttributeNames={"#s": "status"},
                        ExpressionAttributeValues={":from": {"S": "NEW"},
                                                   ":to": {"S": "CANCELLED"}},
                        ReturnValuesOnConditionCheckFailure="ALL_OLD")
    assert error_code(exc) == "ConditionalCheckFailedException"
    item = ddb.get_item(TableName=orders_table, Key=key, ConsistentRead=True)["Item"]
    assert item["status"] == {"S": "PAID"}


def test_stock_decrement_never_goes_negative(ddb: Any, make_table: Callable[..., str]) -> None:
    """The saga's inventory pattern: ADD -1 guarded by stock >= 1."""
    name = make_table(AttributeDefinitions=[{"AttributeName": "sku", "AttributeType": "S"}],
                      KeySchema=[{"AttributeName": "sku", "KeyType": "HASH"}])
    ddb.put_item(TableName=name, Item={"sku": {"S": "S1"}, "stock": {"N": "2"}})

    def take() -> bool:
        try:
            ddb.update_item(TableName=name, Key={"sku": {"S": "S1"}},
                            UpdateExpression="ADD stock :minus",
                            ConditionExpression="stock >= :one",
                            ExpressionAttributeValues={":minus": {"N": "-1"}, ":one": {"N": "1"}})
            return True
        except ClientError as e:
            if e.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise

    assert [take() for _ in range(3)] == [True, True, False]
    assert ddb.get_item(TableName=name, Key={"sku": {"S": "S1"}})["Item"]["stock"] == {"N": "0"}


def test_transactions_commit_all_or_nothing(ddb: Any, orders_table: str) -> None:
    a = {"pk": {"S": "tx"}, "sk": {"S": "a"}}
    b = {"pk": {"S": "tx"}, "sk": {"S": "b"}}
    ddb.put_item(TableName=orders_table, Item={**a, "status": {"S": "NEW"}, "n": {"N": "1"}})
    # WHEN a transaction's condition fails THEN none of its writes happen
    with pytest.raises(ClientError) as exc:
        ddb.transact_write_items(TransactItems=[
            {"Put": {"TableName": orders_table, "Item": {**b, "status": {"S": "NEW"}}}},
            {"Update": {"TableName": orders_table, "Key": a, "UpdateExpression": "SET n = :two",
                        "ConditionExpression": "#s = :paid",
                        "ExpressionAttributeNames": {"#s": "status"},
                        "ExpressionAttributeValues": {":two": {"N": "2"},
                                                      ":paid": {"S": "PAID"}}}},
        ])
    assert error_code(exc) == "TransactionCanceledException"
    reasons = [r["Code"] for r in exc.value.response.get("CancellationReasons", [])]
    assert reasons == ["None", "ConditionalCheckFailed"]
    assert "Item" not in ddb.get_item(TableName=orders_table, Key=b)
    # WHEN every condition holds THEN all writes happen
    ddb.transact_write_items(TransactItems=[
        {"Put": {"TableName": orders_table, "Item": {**b, "status": {"S": "NEW"}},
                 "ConditionExpression": "attribute_not_exists(pk)"}},
        {"Update": {"TableName": orders_table, "Key": a, "UpdateExpression": "SET n = :two",
                    "ConditionExpression": "#s = :new",
                    "ExpressionAttributeNames": {"#s": "status"},
                    "ExpressionAttributeValues": {":two": {"N": "2"}, ":new": {"S": "NEW"}}}},
    ])
    got = ddb.transact_get_items(TransactItems=[
        {"Get": {"TableName": orders_table, "Key": a}},
        {"Get": {"TableName": orders_table, "Key": b}},
    ])["Responses"]
    assert got[0]["Item"]["n"] == {"N": "2"}
    assert got[1]["Item"]["status"] == {"S": "NEW"}


def test_transaction_with_same_client_token_is_idempotent(ddb: Any, orders_table: str) -> None:
    key = {"pk": {"S": "idem"}, "sk": {"S": "x"}}
    ddb.put_item(TableName=orders_table, Item={**key, "n": {"N": "0"}})
    items = [{"Update": {"TableName": orders_table, "Key": key, "UpdateExpression": "ADD n :one",
                         "ExpressionAttributeValues": {":one": {"N": "1"}}}}]
    token = uuid.uuid4().hex
    ddb.transact_write_items(TransactItems=items, ClientRequestToken=token)
    ddb.transact_write_items(TransactItems=items, ClientRequestToken=token)
    assert ddb.get_item(TableName=orders_table, Key=key)["Item"]["n"] == {"N": "1"}
    # the same token with a different request is refused
    other = [{"Update": {**items[0]["Update"],
                         "ExpressionAttributeValues": {":one": {"N": "5"}}}}]
    with pytest.raises(ClientError) as exc:
        ddb.transact_write_items(TransactItems=other, ClientRequestToken=token)
    assert error_code(exc) == "IdempotentParameterMismatchException"
    assert ddb.get_item(TableName=orders_table, Key=key)["Item"]["n"] == {"N": "1"}


def test_gsi_query(ddb: Any, orders_table: str) -> None:
    for i, status in enumerate(["NEW", "PAID", "NEW", "SHIPPED"]):
        ddb.put_item(TableName=orders_table, Item={"pk": {"S": f"user#{i}"},
                                                  "sk": {"S": f"order#{i}"},
                                                  "status": {"S": status}})
    items = ddb.query(TableName=orders_table, IndexName="status-index",
                      KeyConditionExpression="#s = :s", ExpressionAttributeNames={"#s": "status"},
                      ExpressionAttributeValues={":s": {"S": "NEW"}})["Items"]
    assert sorted(i["pk"]["S"] for i in items) == ["user#0", "user#2"]
    index = ddb.describe_table(TableName=orders_table)["Table"]["GlobalSecondaryIndexes"][0]
    assert index["IndexName"] == "status-index"
    assert index["IndexStatus"] == "ACTIVE"
    assert index["IndexArn"].endswith(f"table/{orders_table}/index/status-index")


def test_batch_write_and_get(ddb: Any, orders_table: str) -> None:
    keys = [{"pk": {"S": "batch"}, "sk": {"S": f"{i:02d}"}} for i in range(30)]
    for chunk in (keys[:25], keys[25:]):
        out = ddb.batch_write_item(RequestItems={orders_table: [
            {"PutRequest": {"Item": {**k, "v": {"N": k["sk"]["S"]}}}} for k in chunk]})
        assert not out.get("UnprocessedItems")
    got = ddb.batch_get_item(RequestItems={orders_table: {"Keys": keys[:10]}})
    assert len(got["Responses"][orders_table]) == 10


def test_resource_api_with_decimals(aws_client: Callable[..., Any], orders_table: str) -> None:
    """What handlers use: boto3's resource layer (Decimal numbers, conditions)."""
    import boto3
    from boto3.dynamodb.conditions import Attr, Key

    ddb = aws_client("dynamodb")
    table = boto3.resource("dynamodb", endpoint_url=ddb.meta.endpoint_url,
                           region_name="us-east-1").Table(orders_table)
    table.put_item(Item={"pk": "res", "sk": "1", "price": Decimal("19.99"), "status": "NEW",
                         "meta": {"nested": [1, "two", {"three": True}]}})
    item = table.get_item(Key={"pk": "res", "sk": "1"})["Item"]
    assert item["price"] == Decimal("19.99")
    assert item["meta"]["nested"][2]["three"] is True
    found = table.query(KeyConditionExpression=Key("pk").eq("res"),
                        FilterExpression=Attr("price").gt(Decimal("10")))["Items"]
    assert len(found) == 1


# ----------------------------------------------------------------------------- TTL


def test_time_to_live_settings(ddb: Any, make_table: Callable[..., str]) -> None:
    name = make_table(AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                      KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}])
    before = ddb.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
    assert before["TimeToLiveStatus"] == "DISABLED"
    out = ddb.update_time_to_live(TableName=name, TimeToLiveSpecification={
        "Enabled": True, "AttributeName": "expiration"})
    assert out["TimeToLiveSpecification"] == {"Enabled": True, "AttributeName": "expiration"}
    after = ddb.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
    assert after == {"TimeToLiveStatus": "ENABLED", "AttributeName": "expiration"}


# ----------------------------------------------------------------------------- streams


def test_stream_records_new_and_old_images(aws_client: Callable[..., Any],
                                           make_table: Callable[..., str],
                                           wait_until: Callable[..., Any]) -> None:
    ddb, streams = aws_client("dynamodb"), aws_client("dynamodbstreams")
    name = make_table(AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                      KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                      StreamSpecification={"StreamEnabled": True,
                                           "StreamViewType": "NEW_AND_OLD_IMAGES"})
    table = ddb.describe_table(TableName=name)["Table"]
    assert table["StreamSpecification"] == {"StreamEnabled": True,
                                            "StreamViewType": "NEW_AND_OLD_IMAGES"}
    stream_arn = table["LatestStreamArn"]
    assert stream_arn.startswith(f"{table['TableArn']}/stream/")
    # WHEN an item is inserted, modified and removed
    key = {"id": {"S": "u1"}}
    ddb.put_item(TableName=name, Item={**key, "v": {"N": "1"}})
    ddb.update_item(TableName=name, Key=key, UpdateExpression="SET v = :two",
                    ExpressionAttributeValues={":two": {"N": "2"}})
    ddb.delete_item(TableName=name, Key=key)
    # THEN the stream carries the three changes in order, with both images
    records = stream_records(streams, stream_arn, 3, wait_until)
    assert [r["eventName"] for r in records] == ["INSERT", "MODIFY", "REMOVE"]
    insert, modify, remove = (r["dynamodb"] for r in records)
    assert insert["NewImage"] == {**key, "v": {"N": "1"}} and "OldImage" not in insert
    assert modify["OldImage"]["v"] == {"N": "1"} and modify["NewImage"]["v"] == {"N": "2"}
    assert remove["OldImage"]["v"] == {"N": "2"} and "NewImage" not in remove
    assert {(r["awsRegion"], r["eventSource"]) for r in records} == {("us-east-1", "aws:dynamodb")}
