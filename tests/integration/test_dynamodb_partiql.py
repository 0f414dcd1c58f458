"""PartiQL (ExecuteStatement, BatchExecuteStatement, ExecuteTransaction) as DynamoDB answers it.

A statement the backend cannot run gets DynamoDB's own error, never an HTTP 500.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import dynamodb_helpers as helpers
import pytest
from botocore.exceptions import ClientError

pytestmark = pytest.mark.integration


@pytest.fixture
def table(make_table: Callable[..., str]) -> str:
    """pk/sk table."""
    return make_table(
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                              {"AttributeName": "sk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                   {"AttributeName": "sk", "KeyType": "RANGE"}],
    )


def s(value: str) -> dict:
    return {"S": value}


def statement_error(ddb: Any, statement: str, parameters: list | None = None) -> dict:
    kwargs = {"Parameters": parameters} if parameters else {}
    with pytest.raises(ClientError) as exc:
        ddb.execute_statement(Statement=statement, **kwargs)
    response = exc.value.response
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 400, response
    return response["Error"]


def get(ddb: Any, table: str, pk: str, sk: str) -> dict | None:
    return ddb.get_item(TableName=table, Key={"pk": s(pk), "sk": s(sk)},
                        ConsistentRead=True).get("Item")


def test_insert_select_update_delete(ddb: Any, table: str) -> None:
    ddb.execute_statement(Statement=f"INSERT INTO \"{table}\" VALUE {{'pk': ?, 'sk': ?, 'n': ?}}",
                          Parameters=[s("u1"), s("a"), {"N": "1"}])
    ddb.execute_statement(Statement=f"INSERT INTO \"{table}\" VALUE {{'pk': 'u1', 'sk': 'b'}}")
    assert get(ddb, table, "u1", "a") == {"pk": s("u1"), "sk": s("a"), "n": {"N": "1"}}
    # SELECT with a key condition
    items = ddb.execute_statement(Statement=f'SELECT * FROM "{table}" WHERE pk = ?',
                                  Parameters=[s("u1")])["Items"]
    assert sorted(i["sk"]["S"] for i in items) == ["a", "b"]
    items = ddb.execute_statement(
        Statement=f'SELECT sk FROM "{table}" WHERE pk = ? AND sk = ?',
        Parameters=[s("u1"), s("b")])["Items"]
    assert items == [{"sk": s("b")}]
    # UPDATE and DELETE by full key
    ddb.execute_statement(Statement=f'UPDATE "{table}" SET n = ? WHERE pk = ? AND sk = ?',
                          Parameters=[{"N": "5"}, s("u1"), s("a")])
    assert get(ddb, table, "u1", "a")["n"] == {"N": "5"}
    ddb.execute_statement(Statement=f'DELETE FROM "{table}" WHERE pk = ? AND sk = ?',
                          Parameters=[s("u1"), s("a")])
    assert get(ddb, table, "u1", "a") is None


def test_insert_of_existing_key_is_duplicate_item(ddb: Any, table: str) -> None:
    insert = f"INSERT INTO \"{table}\" VALUE {{'pk': 'u1', 'sk': 'a', 'v': ?}}"
    ddb.execute_statement(Statement=insert, Parameters=[s("first")])
    error = statement_error(ddb, insert, [s("second")])
    assert error["Code"] == "DuplicateItemException"
    assert get(ddb, table, "u1", "a")["v"] == s("first")


def test_update_of_missing_item_is_conditional_check_failed(ddb: Any, table: str) -> None:
    error = statement_error(ddb, f'UPDATE "{table}" SET n = 1 WHERE pk = ? AND sk = ?',
                            [s("nobody"), s("x")])
    assert error["Code"] == "ConditionalCheckFailedException"
    assert get(ddb, table, "nobody", "x") is None


def test_malformed_statement_is_validation_error(ddb: Any, table: str) -> None:
    for statement in (f'SELEC * FROM "{table}"', f'SELECT * FROM "{table}" WHERE',
                      f"INSERT INTO \"{table}\" VALUE {{'pk': 'x'", "NOT A STATEMENT"):
        error = statement_error(ddb, statement)
        assert error["Code"] == "ValidationException", statement
        assert error["Message"].startswith("Statement wasn't well formed"), error


def test_write_without_full_key_is_validation_error(ddb: Any, table: str) -> None:
    ddb.execute_statement(Statement=f"INSERT INTO \"{table}\" VALUE {{'pk': 'u', 'sk': 'a'}}")
    for statement in (f"UPDATE \"{table}\" SET n = 1 WHERE pk = 'u'",
                      f"DELETE FROM \"{table}\" WHERE pk = 'u'"):
        error = statement_error(ddb, statement)
        assert error["Code"] == "ValidationException", statement
        assert "key" in error["Message"].lower(), error
    assert get(ddb, table, "u", "a") == {"pk": s("u"), "sk": s("a")}


def test_missing_table_is_resource_not_found(ddb: Any) -> None:
    error = statement_error(ddb, f'SELECT * FROM "{helpers.unique("missing")}"')
    assert error["Code"] == "ResourceNotFoundException"


def test_batch_execute_statement(ddb: Any, table: str) -> None:
    ddb.execute_statement(Statement=f"INSERT INTO \"{table}\" VALUE {{'pk': 'b', 'sk': '1'}}")
    out = ddb.batch_execute_statement(Statements=[
        {"Statement": f"INSERT INTO \"{table}\" VALUE {{'pk': ?, 'sk': ?}}",
         "Parameters": [s("b"), s("2")]},
        {"Statement": f"INSERT INTO \"{table}\" VALUE {{'pk': 'b', 'sk': '1'}}"},
        {"Statement": f'UPDATE "{table}" SET n = 7 WHERE pk = ? AND sk = ?',
         "Parameters": [s("b"), s("1")]},
        {"Statement": f'UPDATE "{table}" SET n = 7 WHERE pk = ? AND sk = ?',
         "Parameters": [s("b"), s("missing")]},
        {"Statement": f'SELECT * FROM "{table}" WHERE pk = ? AND sk = ?',
         "Parameters": [s("b"), s("2")]},
        {"Statement": f'DELETE FROM "{table}" WHERE pk = ? AND sk = ?',
         "Parameters": [s("b"), s("2")]},
        {"Statement": "SELEC nonsense"},
    ])["Responses"]
    assert "Error" not in out[0] and out[0]["TableName"] == table
    assert out[1]["Error"]["Code"] == "DuplicateItem"
    assert "Error" not in out[2]
    assert out[3]["Error"]["Code"] == "ConditionalCheckFailed"
    assert out[4]["Item"] == {"pk": s("b"), "sk": s("2")}
    assert "Error" not in out[5]
    assert out[6]["Error"]["Code"] == "ValidationError"
    assert get(ddb, table, "b", "1")["n"] == {"N": "7"}
    assert get(ddb, table, "b", "2") is None


def test_execute_transaction(ddb: Any, table: str) -> None:
    ddb.execute_transaction(TransactStatements=[
        {"Statement": f"INSERT INTO \"{table}\" VALUE {{'pk': 't', 'sk': '1'}}"},
        {"Statement": f"INSERT INTO \"{table}\" VALUE {{'pk': 't', 'sk': '2'}}"},
    ])
    assert get(ddb, table, "t", "1") and get(ddb, table, "t", "2")
    # one failing statement cancels the whole transaction
    with pytest.raises(ClientError) as exc:
        ddb.execute_transaction(TransactStatements=[
            {"Statement": f"INSERT INTO \"{table}\" VALUE {{'pk': 't', 'sk': '3'}}"},
            {"Statement": f"INSERT INTO \"{table}\" VALUE {{'pk': 't', 'sk': '1'}}"},
        ])
    assert exc.value.response["Error"]["Code"] == "TransactionCanceledException"
    assert get(ddb, table, "t", "3") is None


def test_partiql_writes_reach_the_stream(aws_client: Callable[..., Any],
                                         make_table: Callable[..., str],
                                         wait_until: Callable[..., Any]) -> None:
    ddb, streams = aws_client("dynamodb"), aws_client("dynamodbstreams")
    name = make_table(AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                      KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                      StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"})
    stream_arn = ddb.describe_table(TableName=name)["Table"]["LatestStreamArn"]
    # WHEN items are written by a batch of statements
    ddb.batch_execute_statement(Statements=[
        {"Statement": f"INSERT INTO \"{name}\" VALUE {{'id': ?}}", "Parameters": [s(i)]}
        for i in ("a", "b")])
    ddb.execute_statement(Statement=f"UPDATE \"{name}\" SET v = 1 WHERE id = 'a'")
    # THEN each change is a stream record, as for the item operations
    records = helpers.stream_records(streams, stream_arn, 3, wait_until)
    assert [r["eventName"] for r in records] == ["INSERT", "INSERT", "MODIFY"]
