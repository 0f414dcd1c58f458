"""Powertools idempotency, backed by the shared `idempotency` table (key `id`, TTL `expiration`)."""

from __future__ import annotations

from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
)

from common.settings import SETTINGS

ONE_DAY = 24 * 60 * 60


def persistence_layer() -> DynamoDBPersistenceLayer:
    return DynamoDBPersistenceLayer(table_name=SETTINGS.idempotency_table)


def config(key_path: str, expires_after_seconds: int = ONE_DAY) -> IdempotencyConfig:
    """`key_path` is a JMESPath into the payload that identifies one unit of work."""
    return IdempotencyConfig(
        event_key_jmespath=key_path,
        raise_on_no_idempotency_key=True,
        expires_after_seconds=expires_after_seconds,
    )
