"""`DELETE /_aws/dynamodb/expired` walks a snapshot of the tables with TTL, so a table created,
deleted or given TTL meanwhile no longer fails the whole request.

Why: LocalStack 4.14.0's ``delete_expired_items`` (services/dynamodb/provider.py) iterates
``store.ttl_specifications.items()`` while it scans and deletes through the gateway (three
requests per table); any UpdateTimeToLive or DeleteTable in between changes that dict, and the
endpoint answered 500 ("dictionary changed size during iteration"): once in a full CI run,
tests/integration/test_dynamodb_paging_ttl_views.py beside other workers' tables.

What changes: the same function (same scan, keys, batches of 25, warnings, count) over a copy of
each store's TTL specifications taken when the store is reached. A table deleted meanwhile
fails its scan with ResourceNotFound, logged and skipped as before.

Verified on localstack-core 4.14.0; on any other version the registry (registry.py) skips it.
Opt-out: ``HOSTMODE_DYNAMODB_EXPIRED_SNAPSHOT=0``.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from .registry import HostPatch, patch_function

MODULE = "localstack.services.dynamodb.provider"
LOG = logging.getLogger(MODULE)  # LocalStack's logger: its warnings read as before
BATCH = 25  # BatchWriteItem's limit


def expired_keys(items: list[dict], partition_key: str, range_key: str | None) -> list[dict]:
    names = [partition_key] if range_key is None else [partition_key, range_key]
    return [{name: item.get(name) for name in names} for item in items]


def delete_expired(stores: Any, client_for: Any, hash_and_range: Any) -> int:
    count = 0
    for account_id, region_name, state in stores.iter_stores():
        client = client_for(account_id, region_name)
        for table_name, spec in list(state.ttl_specifications.items()):
            if not spec.get("Enabled", False):
                continue
            try:
                result = client.scan(
                    TableName=table_name,
                    FilterExpression="#ttl <= :threshold",
                    ExpressionAttributeValues={":threshold": {"N": str(int(time.time()))}},
                    ExpressionAttributeNames={"#ttl": spec.get("AttributeName")},
                )
                items = result.get("Items", [])
                count += len(items)
                partition_key, range_key = hash_and_range(client.describe_table(
                    TableName=table_name))
                requests = [{"DeleteRequest": {"Key": key}}
                            for key in expired_keys(items, partition_key, range_key)]
                for i in range(0, len(requests), BATCH):
                    client.batch_write_item(RequestItems={table_name: requests[i:i + BATCH]})
            except Exception as e:
                LOG.warning("An error occurred when deleting expired items from table %s: %s",
                            table_name, e)
    return count


def _from_snapshot(_original: Any) -> int:
    from localstack.aws.connect import connect_to
    from localstack.services.dynamodb import provider

    def client_for(account_id: str, region_name: str) -> Any:
        return connect_to(aws_access_key_id=account_id, region_name=region_name).dynamodb

    return delete_expired(provider.dynamodb_stores, client_for, provider._get_hash_and_range_key)


def apply() -> None:
    patch_function(MODULE, "delete_expired_items", _from_snapshot)


PATCH = HostPatch(
    name="dynamodb_expired_items",
    changes="DELETE /_aws/dynamodb/expired walks a copy of each store's TTL specifications",
    why="a table created, deleted or given TTL during the walk made the endpoint answer 500 "
        "(dictionary changed size during iteration)",
    verified_on=("4.14.0",),
    opt_out="HOSTMODE_DYNAMODB_EXPIRED_SNAPSHOT",
    apply=apply,
)
