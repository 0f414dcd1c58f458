"""Field types shared by the request models."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, StringConstraints

# Pragmatic address check (no external email-validator package in the layer): one @, a
# dot-separated domain of DNS labels, no whitespace. 254 is the SMTP path limit.
_EMAIL_RE = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+"
    r"@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$"
)
MAX_EMAIL_LENGTH = 254


def _check_email(value: str) -> str:
    if not _EMAIL_RE.match(value) or ".." in value:
        raise ValueError("not a valid email address")
    if len(value.rpartition("@")[0]) > 64:
        raise ValueError("not a valid email address")
    # Addresses are compared case-insensitively (uniqueness, lookups), so store them lowercased.
    return value.lower()


Email = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=3, max_length=MAX_EMAIL_LENGTH),
    AfterValidator(_check_email),
]
