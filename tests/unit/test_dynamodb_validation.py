"""DynamoDB's request validation where moto is lenient (no LocalStack needed)."""

from __future__ import annotations

from localstack_hostmode.dynamodb_validation import (
    DUPLICATE_KEYS,
    KEY_MISMATCH,
    TOO_MANY_WRITES,
    check_batch_write,
    check_key,
)

TABLE = {"AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"},
                                  {"AttributeName": "n", "AttributeType": "N"}],
         "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}]}


def describe(name: str) -> dict | None:
    return TABLE if name == "t" else None


def test_key_must_name_the_key_attributes_with_their_types() -> None:
    assert check_key({"id": {"S": "x"}}, TABLE) is None
    assert check_key({"id": {"N": "1"}}, TABLE) == KEY_MISMATCH
    assert check_key({"other": {"S": "x"}}, TABLE) == KEY_MISMATCH
    assert check_key({"id": {"S": "x"}, "n": {"N": "1"}}, TABLE) == KEY_MISMATCH
    # unknown table: the backend answers ResourceNotFoundException
    assert check_key({"id": {"N": "1"}}, None) is None


def test_batch_write_limits() -> None:
    puts = [{"PutRequest": {"Item": {"id": {"S": str(i)}}}} for i in range(25)]
    assert check_batch_write({"t": puts}, describe) is None
    assert check_batch_write({"t": puts, "other": puts[:1]}, describe) == TOO_MANY_WRITES
    same_key = [{"PutRequest": {"Item": {"id": {"S": "a"}, "v": {"S": "1"}}}},
                {"DeleteRequest": {"Key": {"id": {"S": "a"}}}}]
    assert check_batch_write({"t": same_key}, describe) == DUPLICATE_KEYS
    wrong_type = [{"DeleteRequest": {"Key": {"id": {"N": "1"}}}}]
    assert check_batch_write({"t": wrong_type}, describe) == KEY_MISMATCH
    assert check_batch_write({"missing": same_key}, describe) is None
