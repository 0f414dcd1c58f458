"""PartiQL statements parsed and run as DynamoDB's item operations (moto in-process)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from localstack_hostmode.dynamodb_partiql import PartiQLError, parse
from localstack_hostmode.dynamodb_partiql_run import Runner


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch) -> Iterator[Runner]:
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)  # moto intercepts AWS endpoints only
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        client.create_table(
            TableName="t", BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                  {"AttributeName": "sk", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                       {"AttributeName": "sk", "KeyType": "RANGE"}])
        yield Runner(client)


def s(value: str) -> dict:
    return {"S": value}


def error(runner: Runner, statement: str, parameters: list | None = None) -> PartiQLError:
    with pytest.raises(PartiQLError) as exc:
        runner.run(statement, parameters)
    return exc.value


def item(runner: Runner, pk: str, sk: str) -> dict | None:
    return runner.client.get_item(TableName="t", Key={"pk": s(pk), "sk": s(sk)}).get("Item")


def test_literals_and_parameters() -> None:
    statement = parse("INSERT INTO \"t\" VALUE {'pk': ?, 'n': -1.5, 'b': TRUE, 'z': NULL, "
                      "'l': [1, 'x'], 'm': {'k': 'v'}, 'ss': <<'a', 'b'>>, 'q': 'it''s'}",
                      [s("p")])
    assert statement.item == {
        "pk": s("p"), "n": {"N": "-1.5"}, "b": {"BOOL": True}, "z": {"NULL": True},
        "l": {"L": [{"N": "1"}, s("x")]}, "m": {"M": {"k": s("v")}}, "ss": {"SS": ["a", "b"]},
        "q": s("it's")}


@pytest.mark.parametrize("statement", ["SELEC * FROM t", 'SELECT * FROM "t" WHERE',
                                       "INSERT INTO t VALUE {'pk': 'x'", "", "DELETE t",
                                       "UPDATE t WHERE pk = 1", "SELECT * FROM t extra"])
def test_malformed(statement: str) -> None:
    with pytest.raises(PartiQLError) as exc:
        parse(statement)
    assert exc.value.code == "ValidationException"
    assert exc.value.message.startswith("Statement wasn't well formed")


def test_parameter_count_must_match() -> None:
    with pytest.raises(PartiQLError, match="Number of parameters"):
        parse("SELECT * FROM t WHERE pk = ?", [])
    with pytest.raises(PartiQLError, match="Number of parameters"):
        parse("SELECT * FROM t", [s("extra")])


def test_crud(runner: Runner) -> None:
    runner.run("INSERT INTO \"t\" VALUE {'pk': ?, 'sk': ?, 'n': 1}", [s("u"), s("a")])
    runner.run("INSERT INTO t VALUE {'pk': 'u', 'sk': 'b', 'n': 2}")
    out = runner.run("SELECT * FROM t WHERE pk = ? AND sk > 'a'", [s("u")])
    assert [i["sk"] for i in out["Items"]] == [s("b")]
    out = runner.run("SELECT sk FROM t WHERE n >= 1 OR n = 9")
    assert sorted(i["sk"]["S"] for i in out["Items"]) == ["a", "b"]
    out = runner.run('UPDATE t SET n = n + 1 SET tag = \'x\' REMOVE gone '
                     'WHERE pk = ? AND sk = ? RETURNING ALL NEW *', [s("u"), s("a")])
    assert out["Items"][0]["n"] == {"N": "2"} and out["Items"][0]["tag"] == s("x")
    runner.run("DELETE FROM t WHERE pk = 'u' AND sk = 'a'")
    assert item(runner, "u", "a") is None


def test_select_pages_with_next_token(runner: Runner) -> None:
    for i in range(3):
        runner.run(f"INSERT INTO t VALUE {{'pk': 'p', 'sk': '{i}'}}")
    first = runner.run("SELECT * FROM t WHERE pk = 'p'", limit=2)
    assert len(first["Items"]) == 2 and first["NextToken"]
    rest = runner.run("SELECT * FROM t WHERE pk = 'p'", limit=2, next_token=first["NextToken"])
    assert [i["sk"] for i in rest["Items"]] == [s("2")]


def test_dynamodb_errors(runner: Runner) -> None:
    runner.run("INSERT INTO t VALUE {'pk': 'u', 'sk': 'a'}")
    assert error(runner, "INSERT INTO t VALUE {'pk': 'u', 'sk': 'a'}").code == (
        "DuplicateItemException")
    assert error(runner, "UPDATE t SET n = 1 WHERE pk = 'x' AND sk = 'y'").code == (
        "ConditionalCheckFailedException")
    assert item(runner, "x", "y") is None
    failure = error(runner, "DELETE FROM t WHERE pk = 'u'")
    assert (failure.code, failure.message) == (
        "ValidationException",
        "Where clause does not contain a mandatory equality on all key attributes")
    assert item(runner, "u", "a") is not None
    assert error(runner, "SELECT * FROM missing").code == "ResourceNotFoundException"


def test_batch_reports_each_statement(runner: Runner) -> None:
    runner.run("INSERT INTO t VALUE {'pk': 'b', 'sk': '1'}")
    out = runner.batch([
        {"Statement": "INSERT INTO t VALUE {'pk': 'b', 'sk': '1'}"},
        {"Statement": "SELECT * FROM t WHERE pk = ? AND sk = ?", "Parameters": [s("b"), s("1")]},
        {"Statement": "SELECT * FROM t WHERE pk = 'b'"},
        {"Statement": "nonsense"},
    ])
    assert out[0]["Error"]["Code"] == "DuplicateItem"
    assert out[1] == {"TableName": "t", "Item": {"pk": s("b"), "sk": s("1")}}
    assert out[2]["Error"]["Code"] == "ValidationError"
    assert out[3]["Error"]["Code"] == "ValidationError"


def test_transaction_is_all_or_nothing(runner: Runner) -> None:
    runner.run("INSERT INTO t VALUE {'pk': 'x', 'sk': '1'}")
    statements: list[dict[str, Any]] = [
        {"Statement": "INSERT INTO t VALUE {'pk': 'x', 'sk': '2'}"},
        {"Statement": "INSERT INTO t VALUE {'pk': 'x', 'sk': '1'}"},
    ]
    with pytest.raises(PartiQLError) as exc:
        runner.transaction(statements)
    assert exc.value.code == "TransactionCanceledException"
    assert [r["Code"] for r in exc.value.reasons] == ["None", "DuplicateItem"]
    assert item(runner, "x", "2") is None
    reads = runner.transaction([{"Statement": "SELECT * FROM t WHERE pk = 'x' AND sk = '1'"}])
    assert reads["Responses"] == [{"Item": {"pk": s("x"), "sk": s("1")}}]
