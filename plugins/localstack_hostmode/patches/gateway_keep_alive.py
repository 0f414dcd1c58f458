"""The gateway keeps HTTP/1.1 connections open (keep-alive) instead of closing each one.

Why: with ``GATEWAY_SERVER=hypercorn`` (host mode's choice: it binds 127.0.0.1), LocalStack 4.14.0
answers every request with ``Connection: close`` (``set_close_connection_header`` in
aws/handlers/legacy.py, a 2022 workaround for localstack#6557: keep-alive on hypercorn was slower
then). So every call paid for a new TCP connection, and each accepted connection costs the gateway
a thread-pool hop (the duplex socket's TLS sniff, http/duplex_socket.py) before the request is
read. One ``GET /users/{id}`` makes four such calls (client -> API Gateway, API Gateway -> Lambda,
the function -> DynamoDB, the Lambda service -> CloudWatch Logs and Metrics): a profile of the
gateway at concurrency 1 showed the accept path and its thread starts at ~10% of the gateway's
event-loop time, and thousands of sockets in TIME-WAIT on the gateway's port.

Measured on this hypercorn (0.18, whose listening socket sets TCP_NODELAY, inherited by
accepted sockets): keep-alive answered faster than close, with no delayed-ACK stalls.

What changes: the finalizer leaves the ``Connection`` header alone, so HTTP/1.1 clients keep their
connection (hypercorn still closes one idle for 5 s, and after 1000 requests). A client asking
for ``Connection: close`` still gets it (hypercorn/h11 honour the request's header).

Verified on localstack-core 4.14.0; on any other version the registry (registry.py) skips it
with a warning. Opt-out: ``HOSTMODE_GATEWAY_KEEP_ALIVE=0`` restores ``Connection: close``.
"""

from __future__ import annotations

from typing import Any

from .registry import HostPatch


def _keep_connection(_chain: Any, _context: Any, _response: Any) -> None:
    """The finalizer in place of set_close_connection_header: HTTP/1.1's default stands."""


def apply() -> None:
    # The gateway's finalizer list is built from the ``handlers`` package's attribute when the
    # gateway is created, which is after the on_infra_start hooks that apply the patches.
    from localstack.aws import handlers
    from localstack.utils.patch import Patch

    Patch(handlers, "set_close_connection_header", _keep_connection).apply()


PATCH = HostPatch(
    name="gateway_keep_alive",
    changes="the gateway keeps HTTP/1.1 connections open instead of answering Connection: close",
    why="every call (and every internal hop of an invocation) paid for a new TCP connection",
    verified_on=("4.14.0",),
    opt_out="HOSTMODE_GATEWAY_KEEP_ALIVE",
    apply=apply,
)
