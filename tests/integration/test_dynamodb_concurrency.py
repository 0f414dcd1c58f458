"""DynamoDB under concurrent writes: nothing acknowledged is lost, transactions stay atomic.

moto, the host-mode backend, is not safe under concurrent writes: a cancelled TransactWriteItems
restores a copy of each table it touched, taken before it started, over whatever other requests
wrote meanwhile (acknowledged PutItems vanished, concurrent decrements were off by one, and copying
a table while it was written answered 500). The dynamodb:moto provider serialises what reaches
moto (plugins/localstack_hostmode/dynamodb.py); this test fails without that.

Bounded: about 500 requests from 16 threads against one table, no retries (a retried 500
would hide the failure).
"""

from __future__ import annotations

import random
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

pytestmark = pytest.mark.integration

PUTS = 200
TRANSACTIONS = 150
INCREMENTS = 60
READS = 80
SCANS = 8
COUNTERS = 4
INITIAL_STOCK = 20  # ~25 ungated decrements per counter: some run out of stock
THREADS = 16


@pytest.fixture
def ddb(localstack: str) -> Any:
    """A client that never retries, so a 5xx or throttle shows up as an error."""
    config = Config(retries={"total_max_attempts": 1, "mode": "standard"},
                    max_pool_connections=THREADS * 2, read_timeout=30)
    return boto3.client("dynamodb", endpoint_url=localstack, region_name="us-east-1",
                        aws_access_key_id="test", aws_secret_access_key="test", config=config)


@pytest.fixture
def table(ddb: Any) -> Iterator[str]:
    name = f"test-ddb-concurrency-{uuid.uuid4().hex[:10]}"
    ddb.create_table(TableName=name, BillingMode="PAY_PER_REQUEST",
                     AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                     KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}])
    ddb.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 0.2,
                                                                      "MaxAttempts": 50})
    yield name
    ddb.delete_table(TableName=name)


def scan_all(ddb: Any, table: str) -> dict[str, dict[str, Any]]:
    items: dict[str, dict[str, Any]] = {}
    for page in ddb.get_paginator("scan").paginate(TableName=table, ConsistentRead=True):
        for item in page["Items"]:
            items[item["pk"]["S"]] = item
    return items


def test_concurrent_writes_and_cancelled_transactions_lose_nothing(
        ddb: Any, table: str) -> None:
    # GIVEN counters with limited stock, a gate item that makes some transactions fail,
    # and a hit counter
    for c in range(COUNTERS):
        ddb.put_item(TableName=table, Item={"pk": {"S": f"counter-{c}"},
                                            "stock": {"N": str(INITIAL_STOCK)}})
    ddb.put_item(TableName=table, Item={"pk": {"S": "gate"}})
    ddb.put_item(TableName=table, Item={"pk": {"S": "hits"}, "n": {"N": "0"}})
    padding = "x" * 400  # bigger items make moto's table copy (the race window) longer

    def put(i: int) -> tuple[str, str]:
        ddb.put_item(TableName=table, Item={"pk": {"S": f"put-{i}"}, "pad": {"S": padding}})
        return ("put", f"put-{i}")

    def increment(i: int) -> tuple[str, str]:
        ddb.update_item(TableName=table, Key={"pk": {"S": "hits"}},
                        UpdateExpression="ADD n :one",
                        ExpressionAttributeValues={":one": {"N": "1"}})
        return ("inc", str(i))

    def read_gated_marker(i: int) -> tuple[str, str]:
        # a gated transaction is always cancelled: nobody may ever see what it wrote
        key = f"tx-{(i * 3) % TRANSACTIONS}"
        item = ddb.get_item(TableName=table, Key={"pk": {"S": key}}, ConsistentRead=True)
        return ("dirty" if "Item" in item else "read", key)

    def scan(i: int) -> tuple[str, str]:
        scan_all(ddb, table)
        return ("scan", str(i))

    def transaction(i: int) -> tuple[str, str]:
        counter = f"counter-{i % COUNTERS}"
        items: list[dict[str, Any]] = [
            {"Update": {"TableName": table, "Key": {"pk": {"S": counter}},
                        "UpdateExpression": "SET stock = stock - :one",
                        "ConditionExpression": "stock >= :one",
                        "ExpressionAttributeValues": {":one": {"N": "1"}}}},
            {"Put": {"TableName": table, "Item": {"pk": {"S": f"tx-{i}"}, "pad": {"S": padding}},
                     "ConditionExpression": "attribute_not_exists(pk)"}},
        ]
        if i % 3 == 0:  # always cancelled, after the decrement was applied in moto
            items.append({"ConditionCheck": {"TableName": table, "Key": {"pk": {"S": "gate"}},
                                             "ConditionExpression": "attribute_not_exists(pk)"}})
        try:
            ddb.transact_write_items(TransactItems=items)
        except ClientError as e:
            if e.response["Error"]["Code"] == "TransactionCanceledException":
                return ("cancelled", f"tx-{i}")
            raise
        return ("committed", f"tx-{i}")

    work: list[Callable[[], tuple[str, str]]] = (
        [lambda i=i: put(i) for i in range(PUTS)]
        + [lambda i=i: transaction(i) for i in range(TRANSACTIONS)]
        + [lambda i=i: increment(i) for i in range(INCREMENTS)]
        + [lambda i=i: read_gated_marker(i) for i in range(READS)]
        + [lambda i=i: scan(i) for i in range(SCANS)])
    random.Random(42).shuffle(work)

    # WHEN all of it, and reads, run from 16 threads at once
    outcomes: list[tuple[str, str]] = []
    errors: list[str] = []

    def run(fn: Callable[[], tuple[str, str]]) -> None:
        try:
            outcomes.append(fn())
        except ClientError as e:
            status = e.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            errors.append(f"{e.response['Error'].get('Code')} (HTTP {status}): "
                          f"{e.response['Error'].get('Message', '')[:200]}")

    with ThreadPoolExecutor(THREADS) as pool:
        list(pool.map(run, work))

    # THEN every request got an answer AWS could give (no 5xx, nothing but cancellations)
    assert errors == [], f"{len(errors)} request(s) failed, e.g. {errors[:3]}"
    kinds = Counter(kind for kind, _ in outcomes)
    assert kinds["put"] == PUTS and kinds["inc"] == INCREMENTS and kinds["scan"] == SCANS
    # no read saw a write of a transaction that was cancelled
    assert kinds["dirty"] == 0 and kinds["read"] == READS
    assert kinds["committed"] + kinds["cancelled"] == TRANSACTIONS
    assert kinds["cancelled"] >= TRANSACTIONS // 3  # the gated ones at least

    items = scan_all(ddb, table)
    # every acknowledged PutItem is there
    missing = [key for kind, key in outcomes if kind == "put" and key not in items]
    assert missing == [], f"{len(missing)} acknowledged PutItem(s) lost: {missing[:5]}"
    # transactions are all or nothing: committed ones wrote their marker, cancelled ones did not
    committed = {key for kind, key in outcomes if kind == "committed"}
    cancelled = {key for kind, key in outcomes if kind == "cancelled"}
    assert sorted(committed - items.keys()) == []
    assert sorted(cancelled & items.keys()) == []
    # each counter lost exactly one unit per committed decrement
    for c in range(COUNTERS):
        done = sum(1 for key in committed if int(key.split("-")[1]) % COUNTERS == c)
        assert items[f"counter-{c}"]["stock"]["N"] == str(INITIAL_STOCK - done), f"counter-{c}"
    # no concurrent increment was lost
    assert items["hits"]["n"]["N"] == str(INCREMENTS)
