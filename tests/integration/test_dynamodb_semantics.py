"""DynamoDB behaviour users rely on, as AWS documents it: conditional writes that return the
item they failed on, transactions (tokens, cancellation reasons), batches and validation errors.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

pytestmark = pytest.mark.integration


@pytest.fixture
def table(make_table: Callable[..., str]) -> str:
    return make_table(AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                      KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}])


def key(value: str) -> dict:
    return {"id": {"S": value}}


def failure(call: Callable[..., Any], **kwargs: Any) -> dict:
    with pytest.raises(ClientError) as exc:
        call(**kwargs)
    return exc.value.response


# ----------------------------------------------------------------------------- conditional writes


def test_failed_condition_returns_the_item_when_asked(ddb: Any, table: str) -> None:
    stored = {**key("a"), "v": {"N": "1"}}
    ddb.put_item(TableName=table, Item=stored)
    guard = {"ConditionExpression": "attribute_not_exists(id)"}
    for call, kwargs in (
        (ddb.put_item, {"Item": {**key("a"), "v": {"N": "2"}}, **guard}),
        (ddb.update_item, {"Key": key("a"), "UpdateExpression": "SET v = :two",
                           "ExpressionAttributeValues": {":two": {"N": "2"}}, **guard}),
        (ddb.delete_item, {"Key": key("a"), **guard}),
    ):
        response = failure(call, TableName=table, ReturnValuesOnConditionCheckFailure="ALL_OLD",
                           **kwargs)
        assert response["Error"]["Code"] == "ConditionalCheckFailedException"
        assert response["Error"]["Message"] == "The conditional request failed"
        assert response["Item"] == stored
        # without the option the error carries no item
        assert "Item" not in failure(call, TableName=table, **kwargs)
    assert ddb.get_item(TableName=table, Key=key("a"))["Item"] == stored


# ----------------------------------------------------------------------------- transactions


def test_cancellation_reasons_name_each_item(ddb: Any, table: str) -> None:
    stored = {**key("a"), "v": {"N": "1"}}
    ddb.put_item(TableName=table, Item=stored)
    response = failure(ddb.transact_write_items, TransactItems=[
        {"Put": {"TableName": table, "Item": key("b")}},
        {"ConditionCheck": {"TableName": table, "Key": key("a"),
                            "ConditionExpression": "v = :nine",
                            "ExpressionAttributeValues": {":nine": {"N": "9"}},
                            "ReturnValuesOnConditionCheckFailure": "ALL_OLD"}},
    ])
    assert response["Error"]["Code"] == "TransactionCanceledException"
    assert response["Error"]["Message"] == (
        "Transaction cancelled, please refer cancellation reasons for specific reasons "
        "[None, ConditionalCheckFailed]")
    none, failed = response["CancellationReasons"]
    assert none == {"Code": "None"}
    assert failed["Code"] == "ConditionalCheckFailed"
    assert failed["Item"] == stored
    assert "Item" not in ddb.get_item(TableName=table, Key=key("b"))


def test_transaction_token_replays_and_mismatches(ddb: Any, table: str) -> None:
    token = uuid.uuid4().hex
    put = [{"Put": {"TableName": table, "Item": {**key("t"), "n": {"N": "1"}}}}]
    ddb.transact_write_items(TransactItems=put, ClientRequestToken=token)
    ddb.put_item(TableName=table, Item={**key("t"), "n": {"N": "2"}})
    # the replay succeeds without writing again
    ddb.transact_write_items(TransactItems=put, ClientRequestToken=token)
    assert ddb.get_item(TableName=table, Key=key("t"))["Item"]["n"] == {"N": "2"}
    other = [{"Put": {"TableName": table, "Item": {**key("t"), "n": {"N": "3"}}}}]
    response = failure(ddb.transact_write_items, TransactItems=other, ClientRequestToken=token)
    assert response["Error"]["Code"] == "IdempotentParameterMismatchException"


def test_two_operations_on_one_item_are_refused(ddb: Any, table: str) -> None:
    response = failure(ddb.transact_write_items, TransactItems=[
        {"Put": {"TableName": table, "Item": key("same")}},
        {"Delete": {"TableName": table, "Key": key("same")}},
    ])
    assert response["Error"]["Code"] == "ValidationException"
    assert "multiple operations on one item" in response["Error"]["Message"]


# ----------------------------------------------------------------------------- batches


def test_batch_answers_and_limits(ddb: Any, table: str) -> None:
    out = ddb.batch_write_item(RequestItems={table: [
        {"PutRequest": {"Item": key(str(i))}} for i in range(25)]})
    assert out["UnprocessedItems"] == {}
    got = ddb.batch_get_item(RequestItems={table: {"Keys": [key(str(i)) for i in range(30)]}})
    assert len(got["Responses"][table]) == 25
    assert got["UnprocessedKeys"] == {}
    too_many = failure(ddb.batch_write_item, RequestItems={table: [
        {"PutRequest": {"Item": key(str(i))}} for i in range(26)]})
    assert too_many["Error"]["Code"] == "ValidationException"
    duplicates = failure(ddb.batch_write_item, RequestItems={table: [
        {"PutRequest": {"Item": key("d")}}, {"DeleteRequest": {"Key": key("d")}}]})
    assert duplicates["Error"]["Code"] == "ValidationException"
    assert duplicates["Error"]["Message"] == "Provided list of item keys contains duplicates"
    too_many_keys = failure(ddb.batch_get_item, RequestItems={table: {
        "Keys": [key(str(i)) for i in range(101)]}})
    assert too_many_keys["Error"]["Code"] == "ValidationException"


# ----------------------------------------------------------------------------- validation


@pytest.mark.parametrize(("operation", "kwargs", "message"), [
    ("get_item", {"Key": {"other": {"S": "x"}}},
     "The provided key element does not match the schema"),
    ("get_item", {"Key": {"id": {"N": "1"}}},
     "The provided key element does not match the schema"),
    ("put_item", {"Item": {"v": {"S": "x"}}},
     "One or more parameter values were invalid: Missing the key id in the item"),
    ("update_item", {"Key": key("x"), "UpdateExpression": "SET v = = :v",
                     "ExpressionAttributeValues": {":v": {"S": "x"}}},
     "Invalid UpdateExpression: Syntax error; token: \"=\", near: \"= = :v\""),
    ("update_item", {"Key": key("x"), "UpdateExpression": "SET v = :missing"},
     "Invalid UpdateExpression: An expression attribute value used in expression is not "
     "defined; attribute value: :missing"),
    ("query", {"KeyConditionExpression": "v = :v",
               "ExpressionAttributeValues": {":v": {"S": "x"}}},
     "Query condition missed key schema element: id"),
])
def test_validation_errors(ddb: Any, table: str, operation: str, kwargs: dict,
                           message: str) -> None:
    response = failure(getattr(ddb, operation), TableName=table, **kwargs)
    assert response["Error"]["Code"] == "ValidationException"
    assert response["Error"]["Message"] == message
