"""Configuration read once from the environment (template.yaml sets every variable).

The data-layer defaults come from data_layer.json next to this file (the spec init-aws.sh
creates the resources from; it ships with the code), so a handler imported outside Lambda
(unit tests, `make invoke`) still finds the right names.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

DATA_LAYER_SPEC = Path(__file__).with_name("data_layer.json")


def data_layer_defaults() -> dict[str, str]:
    """The spec's names by their env var (USERS_TABLE -> users)."""
    spec = json.loads(DATA_LAYER_SPEC.read_text())
    return {
        resource["env"]: resource["name"]
        for section in spec.values()
        if isinstance(section, dict)
        for resource in section.values()
    }


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
        names = data_layer_defaults()
        return cls(
            users_table=env("USERS_TABLE", names["USERS_TABLE"]),
            orders_table=env("ORDERS_TABLE", names["ORDERS_TABLE"]),
            inventory_table=env("INVENTORY_TABLE", names["INVENTORY_TABLE"]),
            idempotency_table=env("IDEMPOTENCY_TABLE", names["IDEMPOTENCY_TABLE"]),
            archive_bucket=env("ARCHIVE_BUCKET", names["ARCHIVE_BUCKET"]),
            orders_queue_url=env("ORDERS_QUEUE_URL", ""),
            state_machine_arn=env("STATE_MACHINE_ARN", ""),
            sender_email=env("SENDER_EMAIL", names["SES_SENDER"]),
            inactive_after_days=_int("INACTIVE_AFTER_DAYS", 365),
            payment_limit_cents=_int("PAYMENT_LIMIT_CENTS", 100_000),
            thumbnail_size=_int("THUMBNAIL_SIZE", 200),
        )


SETTINGS = Settings.from_env()
