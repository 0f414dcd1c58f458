"""User request model and the stored user shape."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, StringConstraints

from common.clock import now_iso
from common.validation import Email

MAX_NAME_LENGTH = 100

# user_id is derived from the (normalised) email, so "one account per email" is enforced by a
# single conditional put on the table key: no scan, no race, no separate uniqueness item.
_USER_NAMESPACE = uuid.UUID("6f1c1f0e-3b1e-4c53-9a55-0d1d7c1a7e42")


class NewUser(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: Email
    name: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_NAME_LENGTH)
    ]


def user_id_for(email: str) -> str:
    return str(uuid.uuid5(_USER_NAMESPACE, email.lower()))


def new_user_item(user: NewUser) -> dict[str, Any]:
    created = now_iso()
    return {
        "user_id": user_id_for(user.email),
        "email": user.email,
        "name": user.name,
        "created_at": created,
        "last_active_at": created,
    }
