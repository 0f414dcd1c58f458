"""AWS clients, created once per execution environment (module import = Lambda init phase).

boto3 reads the region and, in LocalStack, AWS_ENDPOINT_URL from the environment; nothing here
hard-codes an endpoint or account.
"""

from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config

_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 3}, connect_timeout=5, read_timeout=20
)


def client(service: str) -> Any:
    return boto3.client(service, config=_CONFIG)  # type: ignore[call-overload]


def table(name: str) -> Any:
    return boto3.resource("dynamodb", config=_CONFIG).Table(name)
