"""AWS clients, created once per execution environment (module import = Lambda init phase).

boto3 reads the region and, in LocalStack, AWS_ENDPOINT_URL from the environment; nothing here
hard-codes an endpoint or account. Clients and the DynamoDB resource are cached per process:
creating them is the expensive part of a cold start, and every module of a function shares them.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import boto3
from botocore.config import Config

_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 3}, connect_timeout=5, read_timeout=20
)


@cache
def client(service: str) -> Any:
    return boto3.client(service, config=_CONFIG)  # type: ignore[call-overload]


@cache
def _dynamodb() -> Any:
    return boto3.resource("dynamodb", config=_CONFIG)


def table(name: str) -> Any:
    return _dynamodb().Table(name)
