"""Shape the moto backend's DynamoDB answers like AWS's, one operation at a time.

moto answers with fields AWS does not send (empty index lists, a BillingModeSummary for
provisioned tables, ConsumedCapacity and ItemCollectionMetrics nobody asked for, an empty
``Attributes``) and lacks some AWS sends. The reference is AWS as recorded in LocalStack's own
snapshot tests (DynamoDB Local behind the same provider). Each shaper below knows its
operation's request, so a field that was asked for is kept, never filtered blindly.

Pure functions on dicts (no LocalStack imports), so the unit tests run without LocalStack.
``TableLookup`` gives a table's description (``KeySchema``, ``LocalSecondaryIndexes``) for the
few answers that depend on the schema.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

TableLookup = Callable[[str], "dict | None"]
Shaper = Callable[[dict, dict, TableLookup], None]

_CAPACITY_ASKED = ("TOTAL", "INDEXES")
# AWS bills a write of up to 1 KB one unit, a transactional write two; moto says 0.5
_WRITE_UNITS = 1.0
_TRANSACT_WRITE_UNITS = 2.0
# what AWS reports for a small item collection
_SIZE_ESTIMATE_GB = [0.0, 1.0]


def shape_response(operation: str, request: dict, response: Any, lookup: TableLookup) -> Any:
    """``response`` of ``operation`` for ``request``, shaped like AWS's (in place)."""
    shaper = _SHAPERS.get(operation)
    if shaper and isinstance(response, dict):
        shaper(request or {}, response, lookup)
    return response


# -- tables ---------------------------------------------------------------------------------


def _drop_empty_indexes(table: dict) -> None:
    for key in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
        if key in table and not table[key]:
            del table[key]


def _billing_mode(table: dict) -> str:
    return (table.get("BillingModeSummary") or {}).get("BillingMode") or "PROVISIONED"


def _complete_throughput(table: dict) -> None:
    for holder in [table, *table.get("GlobalSecondaryIndexes", [])]:
        throughput = holder.get("ProvisionedThroughput")
        if throughput is not None:
            throughput.setdefault("NumberOfDecreasesToday", 0)


def _complete_indexes(table: dict) -> None:
    # AWS refreshes these sizes about every six hours; a fresh index reports 0
    for key in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
        for index in table.get(key, []):
            index.setdefault("IndexSizeBytes", 0)
            index.setdefault("ItemCount", 0)


def shape_table_description(table: dict, operation: str, request: dict) -> None:
    """A TableDescription as AWS returns it from ``operation``."""
    _drop_empty_indexes(table)
    _complete_throughput(table)
    _complete_indexes(table)
    mode = _billing_mode(table)
    if mode == "PROVISIONED":
        # AWS has a BillingModeSummary only for tables that are or were on demand
        table.pop("BillingModeSummary", None)
    elif operation == "DescribeTable":
        summary = table["BillingModeSummary"]
        if "LastUpdateToPayPerRequestDateTime" not in summary and "CreationDateTime" in table:
            summary["LastUpdateToPayPerRequestDateTime"] = table["CreationDateTime"]
    if operation == "CreateTable":
        # the answer to CreateTable has warm throughput only when it was asked for
        if "WarmThroughput" not in request:
            table.pop("WarmThroughput", None)
        for index in table.get("GlobalSecondaryIndexes", []):
            index.pop("WarmThroughput", None)
    elif operation == "DeleteTable":
        table["TableStatus"] = "DELETING"
        table.pop("WarmThroughput", None)


def _table_shaper(key: str, operation: str) -> Shaper:
    def shape(request: dict, response: dict, _lookup: TableLookup) -> None:
        if isinstance(response.get(key), dict):
            shape_table_description(response[key], operation, request)

    return shape


# -- consumed capacity ----------------------------------------------------------------------


def _capacity(table_name: str, units: float, mode: str, *, transactional: bool = False) -> dict:
    capacity: dict[str, Any] = {"TableName": table_name, "CapacityUnits": units}
    if transactional:
        capacity["WriteCapacityUnits"] = units
    if mode == "INDEXES":
        capacity["Table"] = {k: v for k, v in capacity.items() if k != "TableName"}
    return capacity


def _shape_write_capacity(request: dict, response: dict) -> None:
    mode = request.get("ReturnConsumedCapacity")
    if mode not in _CAPACITY_ASKED:
        response.pop("ConsumedCapacity", None)
        return
    response["ConsumedCapacity"] = _capacity(request["TableName"], _WRITE_UNITS, mode)


def _shape_read_capacity(request: dict, response: dict) -> None:
    if request.get("ReturnConsumedCapacity") not in _CAPACITY_ASKED:
        response.pop("ConsumedCapacity", None)


def _table_names(request: dict, key: str) -> dict[str, int]:
    """How many requests a batch or transaction makes to each table."""
    counts: dict[str, int] = {}
    for _kind, table, _item in _requests(request, key):
        counts[table] = counts.get(table, 0) + 1
    return counts


def _shape_multi_write_capacity(request: dict, response: dict, key: str) -> None:
    mode = request.get("ReturnConsumedCapacity")
    if mode not in _CAPACITY_ASKED:
        response.pop("ConsumedCapacity", None)
        return
    transactional = key == "TransactItems"
    unit = _TRANSACT_WRITE_UNITS if transactional else _WRITE_UNITS
    response["ConsumedCapacity"] = [
        _capacity(table, unit * count, mode, transactional=transactional)
        for table, count in sorted(_table_names(request, key).items())
    ]


# -- item collection metrics ----------------------------------------------------------------


def _partition_key(table: dict | None) -> str | None:
    """The partition key of a table with a local secondary index (only those have item
    collections, so only those get ItemCollectionMetrics on AWS)."""
    if not table or not table.get("LocalSecondaryIndexes"):
        return None
    for key in table.get("KeySchema", []):
        if key.get("KeyType") == "HASH":
            return key["AttributeName"]
    return None


def _collection_metric(partition_key: str, item: dict) -> dict | None:
    if partition_key not in item:
        return None
    return {"ItemCollectionKey": {partition_key: item[partition_key]},
            "SizeEstimateRangeGB": list(_SIZE_ESTIMATE_GB)}


def _describe(lookup: TableLookup, table_name: str) -> dict | None:
    described = lookup(table_name) or {}
    return described.get("Table", described)


def _shape_item_metrics(request: dict, response: dict, lookup: TableLookup) -> None:
    response.pop("ItemCollectionMetrics", None)
    if request.get("ReturnItemCollectionMetrics") != "SIZE":
        return
    partition_key = _partition_key(_describe(lookup, request["TableName"]))
    item = request.get("Item") or request.get("Key") or {}
    metric = partition_key and _collection_metric(partition_key, item)
    if metric:
        response["ItemCollectionMetrics"] = metric


def _batch_requests(request_items: dict) -> list[tuple[str, str, dict]]:
    return [(kind, table, inner.get("Item") or inner.get("Key") or {})
            for table, writes in request_items.items()
            for write in writes for kind, inner in write.items()]


def _transaction_requests(transact_items: list) -> list[tuple[str, str, dict]]:
    return [(kind, inner["TableName"].split(":table/")[-1],
             inner.get("Item") or inner.get("Key") or {})
            for item in transact_items for kind, inner in item.items()
            if isinstance(inner, dict) and inner.get("TableName")]


def _requests(request: dict, key: str) -> list[tuple[str, str, dict]]:
    """(kind, table, item or key) of each request in a batch or a transaction."""
    if key == "RequestItems":
        return _batch_requests(request.get(key) or {})
    return _transaction_requests(request.get(key) or [])


def _shape_multi_item_metrics(request: dict, response: dict, lookup: TableLookup,
                              key: str) -> None:
    response.pop("ItemCollectionMetrics", None)
    if request.get("ReturnItemCollectionMetrics") != "SIZE":
        return
    metrics: dict[str, list[dict]] = {}
    partition_keys: dict[str, str | None] = {}
    for kind, table, item in _requests(request, key):
        if kind == "ConditionCheck":
            continue
        if table not in partition_keys:
            partition_keys[table] = _partition_key(_describe(lookup, table))
        metric = partition_keys[table] and _collection_metric(partition_keys[table], item)
        if metric and metric not in metrics.setdefault(table, []):
            metrics[table].append(metric)
    metrics = {table: found for table, found in metrics.items() if found}
    if metrics:
        response["ItemCollectionMetrics"] = metrics


# -- item writes ----------------------------------------------------------------------------


def _shape_item_write(request: dict, response: dict, lookup: TableLookup) -> None:
    # AWS sends Attributes only when asked for them and there is something to return
    if request.get("ReturnValues", "NONE") == "NONE" or not response.get("Attributes"):
        response.pop("Attributes", None)
    _shape_write_capacity(request, response)
    _shape_item_metrics(request, response, lookup)


def _multi_write_shaper(key: str) -> Shaper:
    def shape(request: dict, response: dict, lookup: TableLookup) -> None:
        _shape_multi_write_capacity(request, response, key)
        _shape_multi_item_metrics(request, response, lookup, key)

    return shape


def _read_shaper(request: dict, response: dict, _lookup: TableLookup) -> None:
    _shape_read_capacity(request, response)


_SHAPERS: dict[str, Shaper] = {
    "CreateTable": _table_shaper("TableDescription", "CreateTable"),
    "DescribeTable": _table_shaper("Table", "DescribeTable"),
    "UpdateTable": _table_shaper("TableDescription", "UpdateTable"),
    "DeleteTable": _table_shaper("TableDescription", "DeleteTable"),
    "PutItem": _shape_item_write,
    "UpdateItem": _shape_item_write,
    "DeleteItem": _shape_item_write,
    "BatchWriteItem": _multi_write_shaper("RequestItems"),
    "TransactWriteItems": _multi_write_shaper("TransactItems"),
    "BatchGetItem": _read_shaper,
    "TransactGetItems": _read_shaper,
    "ExecuteStatement": _read_shaper,
    "BatchExecuteStatement": _read_shaper,
    "ExecuteTransaction": _read_shaper,
}
