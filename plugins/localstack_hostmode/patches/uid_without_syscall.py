"""LocalStack's ids (short_uid, long_uid, X-Ray trace ids) come from Python's random generator,
not a syscall.

Why: LocalStack 4.14.0's ``short_uid``/``long_uid`` (utils/strings.py) call ``uuid.uuid4()``,
which reads ``os.urandom``; its ``getrandom()`` releases the GIL. They run several times per API
request (the gateway's ``RequestContext``, API Gateway's request ids and response enricher, the
Lambda invocation), so under concurrent requests each call handed the GIL to a waiting thread
and queued to get it back: perf sched at 32 concurrent GET /users/{id} counted ~2 context
switches per request in ``uuid4`` (~5% of LocalStack's).

The trace ids of every API Gateway request
(``token_hex`` in apigateway/next_gen/execute_api/helpers.py, ``os.urandom`` in
utils/xray/trace_header.py and traceid.py) added ~1 more.

What changes: the ``uuid`` name that utils/strings.py calls is a stand-in whose ``uuid4()``
builds the same version-4 UUID from ``random.getrandbits(128)`` (a Mersenne Twister seeded from
``os.urandom``, re-seeded in forked children; C code under the GIL, no syscall); every other
attribute is the ``uuid`` module's. Likewise the X-Ray modules' ``os`` (its ``urandom`` from
``random.randbytes``) and API Gateway's ``token_hex``. Ids keep their format and random bits;
they are no longer cryptographically unpredictable, which a local emulator's ids and tokens
(request and trace ids, SES verification and Step Functions task tokens) do not need. Nothing
else changes (botocore, moto, the functions, LocalStack's other uses of ``os``).

Verified on localstack-core 4.14.0; on any other version the registry (registry.py) skips it.
Opt-out: ``HOSTMODE_FAST_UIDS=0``.
"""

from __future__ import annotations

import os
import random
import types
import uuid
from typing import Any

from .registry import HostPatch, on_import

STRINGS = "localstack.utils.strings"
XRAY = ("localstack.utils.xray.trace_header", "localstack.utils.xray.traceid")
APIGW_HELPERS = "localstack.services.apigateway.next_gen.execute_api.helpers"


def uuid4() -> uuid.UUID:
    """A random version-4 UUID, as uuid.uuid4(), without a syscall."""
    return uuid.UUID(int=random.getrandbits(128), version=4)


class _UuidModule(types.ModuleType):
    """``uuid`` with the uuid4 above; any other name is the real module's."""

    uuid4 = staticmethod(uuid4)

    def __getattr__(self, name: str) -> Any:
        return getattr(uuid, name)


class _OsModule(types.ModuleType):
    """``os`` with an ``urandom`` from the random generator; any other name is the real one's."""

    urandom = staticmethod(random.randbytes)

    def __getattr__(self, name: str) -> Any:
        return getattr(os, name)


def token_hex(nbytes: int) -> str:
    """secrets.token_hex's format (2 hex digits a byte), without a syscall."""
    return random.randbytes(nbytes).hex()


def _replace(name: str, value: Any) -> Any:
    def apply_to(module: Any) -> None:
        from localstack.utils.patch import Patch

        Patch(module, name, value).apply()

    return apply_to


def apply() -> None:
    on_import(STRINGS, _replace("uuid", _UuidModule("uuid")))
    for module in XRAY:
        on_import(module, _replace("os", _OsModule("os")))
    on_import(APIGW_HELPERS, _replace("token_hex", token_hex))


PATCH = HostPatch(
    name="uid_without_syscall",
    changes="LocalStack's short_uid/long_uid and API Gateway's X-Ray trace ids come from "
    "random.getrandbits, not os.urandom",
    why="os.urandom releases the GIL: several per request, each a GIL hand-off under "
    "concurrent requests",
    verified_on=("4.14.0",),
    opt_out="HOSTMODE_FAST_UIDS",
    apply=apply,
)
