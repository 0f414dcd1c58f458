"""Configuration read once from the environment (template.yaml sets every variable).

Defaults match the data layer that init-aws.sh creates, so a handler imported outside Lambda
(unit tests, `make invoke`) still finds sensible names.
"""

from __future__ import annotations

import os
from dataclasses import dataclass


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    return default if raw in (None, "") else int(raw)


@dataclass(frozen=True, slots=True)
class Settings:
    users_table: str
    orders_table: str
    inventory_table: str
    idempotency_table: str
    archive_bucket: str
    orders_queue_url: str
    state_machine_arn: str
    sender_email: str
    inactive_after_days: int
    payment_limit_cents: int
    thumbnail_size: int

    @classmethod
    def from_env(cls) -> Settings:
        env = os.environ.get
        return cls(
            users_table=env("USERS_TABLE", "users"),
            orders_table=env("ORDERS_TABLE", "orders"),
            inventory_table=env("INVENTORY_TABLE", "inventory"),
            idempotency_table=env("IDEMPOTENCY_TABLE", "idempotency"),
            archive_bucket=env("ARCHIVE_BUCKET", "stream-archive-bucket"),
            orders_queue_url=env("ORDERS_QUEUE_URL", ""),
            state_machine_arn=env("STATE_MACHINE_ARN", ""),
            sender_email=env("SENDER_EMAIL", "orders@example.com"),
            inactive_after_days=_int("INACTIVE_AFTER_DAYS", 365),
            payment_limit_cents=_int("PAYMENT_LIMIT_CENTS", 100_000),
            thumbnail_size=_int("THUMBNAIL_SIZE", 200),
        )


SETTINGS = Settings.from_env()
