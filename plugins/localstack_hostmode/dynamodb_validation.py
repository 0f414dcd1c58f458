"""DynamoDB's request validation where moto lets a request through.

moto accepts a key of the wrong type (GetItem {"id": {"N": "1"}} on a string key answers an
empty item), more than 25 writes in one BatchWriteItem, and a put and a delete of the same key
in one batch; AWS refuses each with a ValidationException. Each check returns AWS's message, or
None when the request is valid. Pure functions on dicts: ``table`` is a DescribeTable ``Table``.
"""

from __future__ import annotations

import json
from collections.abc import Callable

KEY_MISMATCH = "The provided key element does not match the schema"
DUPLICATE_KEYS = "Provided list of item keys contains duplicates"
TOO_MANY_WRITES = "Too many items requested for the BatchWriteItem call"
MAX_BATCH_WRITES = 25


def _key_types(table: dict) -> dict[str, str]:
    """Key attribute name -> its declared type (S, N or B)."""
    declared = {a["AttributeName"]: a["AttributeType"]
                for a in table.get("AttributeDefinitions", [])}
    return {k["AttributeName"]: declared.get(k["AttributeName"], "")
            for k in table.get("KeySchema", [])}


def check_key(key: dict, table: dict | None) -> str | None:
    """A Key argument names exactly the key attributes, each with its declared type."""
    if not table or not isinstance(key, dict):
        return None
    types = _key_types(table)
    if set(key) != set(types):
        return KEY_MISMATCH
    for name, value in key.items():
        if not isinstance(value, dict) or set(value) != {types[name]}:
            return KEY_MISMATCH
    return None


def _key_of(request: dict, names: list[str]) -> str:
    inner = request.get("PutRequest") or request.get("DeleteRequest") or {}
    item = inner.get("Item") or inner.get("Key") or {}
    return json.dumps([item.get(name) for name in names], sort_keys=True)


def check_batch_write(request_items: dict, describe: Callable[[str], dict | None]) -> str | None:
    """At most 25 writes, no key written twice, every DeleteRequest key of the right type."""
    if sum(len(writes) for writes in request_items.values()) > MAX_BATCH_WRITES:
        return TOO_MANY_WRITES
    for table_name, writes in request_items.items():
        table = describe(table_name)
        if not table:
            continue
        names = list(_key_types(table))
        keys = [_key_of(write, names) for write in writes]
        if len(set(keys)) != len(keys):
            return DUPLICATE_KEYS
        for write in writes:
            delete = write.get("DeleteRequest")
            if delete and (problem := check_key(delete.get("Key"), table)):
                return problem
    return None
