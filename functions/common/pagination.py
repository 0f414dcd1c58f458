"""Opaque pagination tokens: URL-safe base64 of a DynamoDB key, validated on the way back in."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from common.errors import InvalidRequestError

MAX_TOKEN_LENGTH = 1024


def encode_token(key: dict[str, Any] | None) -> str | None:
    if not key:
        return None
    raw = json.dumps(key, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_token(token: str | None, key_names: tuple[str, ...]) -> dict[str, str] | None:
    """The key a token encodes; InvalidRequestError (400) for anything we could not have issued."""
    if token is None:
        return None
    if not token or len(token) > MAX_TOKEN_LENGTH:
        raise InvalidRequestError("invalid pagination token")
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        key = json.loads(raw)
    except (binascii.Error, ValueError) as e:  # ValueError covers JSON and UTF-8 errors
        raise InvalidRequestError("invalid pagination token") from e
    if (
        not isinstance(key, dict)
        or set(key) != set(key_names)
        or not all(isinstance(v, str) and 0 < len(v) <= 256 for v in key.values())
    ):
        raise InvalidRequestError("invalid pagination token")
    return key
