"""The gateway hands a small request to its worker thread once, and takes the answer back once.

Why: LocalStack 4.14.0 serves HTTP with hypercorn (an asyncio event loop) in front of its WSGI
gateway, bridged by rolo 0.8.1's ``ASGIAdapter.handle_http`` (rolo/asgi.py), which crosses
between the event loop's thread and a worker thread (``asgi_gw_*``) for every step of a request:
the worker runs the gateway, but reads the request body through ``run_coroutine_threadsafe(
receive())`` (a round trip to the loop per body event, and one more for the end), sends the
status and headers the same way (``start_response`` waits for the loop), and then the loop pulls
the response body with ``run_in_executor(next(iterator))``, one round trip per chunk, one for the
end, one for ``close()``. That is six to eight thread handoffs per request, each a GIL handoff
that waits up to the interpreter's switch interval (5 ms) whenever another thread is busy. A
function's DynamoDB call in the order saga took 25-35 ms end to end at load ~5 while the gateway
and moto spent a few ms of CPU on it (py-spy on the functions: ~95% of their handler time waiting
on the socket for LocalStack's answer; on LocalStack with --gil: the event loop's side of these
handoffs held the GIL more often than the handler chain).

What changes, for a request whose body is at most ``BODY_LIMIT`` bytes (Content-Length, not
chunked): the event loop reads the whole body first (it has usually arrived with the headers),
then one worker call runs the gateway, and, when the response declares a Content-Length of at
most ``RESPONSE_LIMIT`` bytes, also collects its body; the loop then sends status, headers and
body. Responses without a Content-Length or larger ones (streams, S3 downloads, event streams)
are sent as rolo does, chunk by chunk. Requests with larger or chunked bodies take rolo's path
unchanged, as do websockets and lifespan events. The gateway, its handler chain and the bytes
on the wire are the same.

Verified on localstack-core 4.14.0 (with rolo 0.8.1 and hypercorn 0.18.0 from its lock); on any
other version the registry (registry.py) skips it. Opt-out: ``HOSTMODE_GATEWAY_ONE_HOP=0``.
"""

from __future__ import annotations

import io
import logging
import math
from collections.abc import Callable, Iterable
from typing import Any

from .registry import HostPatch, patch_function

LOG = logging.getLogger(__name__)

MODULE = "rolo.asgi"
BODY_LIMIT = 1 << 20  # request bodies read by the loop before the gateway runs
RESPONSE_LIMIT = 1 << 20  # response bodies collected by the worker


def _header(headers: Iterable[tuple[Any, Any]], name: str) -> str | None:
    for key, value in headers:
        key = key.decode("latin1") if isinstance(key, bytes) else key
        if key.lower() == name:
            return value.decode("latin1") if isinstance(value, bytes) else value
    return None


def body_length(scope: dict) -> int | None:
    """The request body's length when it is small and declared (0 when there is none), else
    None: rolo's streaming path."""
    headers = scope.get("headers") or ()
    if _header(headers, "transfer-encoding") is not None:
        return None
    declared = _header(headers, "content-length")
    if declared is None:
        return 0
    try:
        length = int(declared)
    except ValueError:
        return None
    return length if 0 <= length <= BODY_LIMIT else None


async def read_body(receive: Callable[[], Any]) -> bytes:
    """Every ``http.request`` event's body up to the last one (or a disconnect)."""
    parts: list[bytes] = []
    while True:
        event = await receive()
        if event.get("type") != "http.request":
            break  # http.disconnect: the gateway runs on what arrived, as with rolo's reader
        parts.append(event.get("body", b""))
        if not event.get("more_body", False):
            break
    return b"".join(parts)


class Answer:
    """The WSGI answer as collected in the worker: status, headers, the body's chunks, and the
    rest of the body iterator when it was too large or of unknown length to collect."""

    def __init__(self) -> None:
        self.status: str | None = None
        self.headers: list[tuple[str, str]] = []
        self.chunks: list[bytes] = []
        self.rest: Any = None

    def start_response(self, status: str, headers: list[tuple[str, str]], exc_info: Any = None
                       ) -> Callable[[bytes], None]:
        self.status, self.headers = status, list(headers)
        return self.chunks.append  # WSGI's legacy write()

    def content_length(self) -> float:
        declared = _header(self.headers, "content-length")
        return int(declared) if declared is not None else math.inf


def call_app(app: Callable[..., Any], environ: dict, limit: int = RESPONSE_LIMIT) -> Answer:
    """Run the WSGI ``app`` (in the worker) and collect its body when it is at most ``limit``."""
    answer = Answer()
    iterable = app(environ, answer.start_response)
    if answer.status is not None and answer.content_length() > limit:
        answer.rest = iterable
        return answer
    try:
        answer.chunks.extend(chunk for chunk in iterable if chunk)
    finally:
        if close := getattr(iterable, "close", None):
            close()
    return answer


async def _handle_http(handle_http: Callable[..., Any], adapter: Any, scope: dict,
                       receive: Callable[[], Any], send: Callable[[dict], Any]) -> None:
    if body_length(scope) is None:
        return await handle_http(adapter, scope, receive, send)
    from rolo.asgi import WsgiStartResponse, _AsyncGeneratorWrapper, populate_wsgi_environment

    environ: dict = {}
    populate_wsgi_environment(environ, scope)
    environ["wsgi.input"] = io.BytesIO(await read_body(receive))
    environ["wsgi.input_terminated"] = True
    loop = adapter.event_loop
    answer = await loop.run_in_executor(adapter.executor, call_app, adapter.wsgi_app, environ)
    response = WsgiStartResponse(send, loop)
    rest = answer.rest
    try:
        await send({
            "type": "http.response.start",
            "status": int((answer.status or "500")[:3]),
            "headers": [(k.encode("latin1"), v.encode("latin1")) for k, v in answer.headers],
        })
        response.started = True
        response.content_length = answer.content_length()
        for chunk in answer.chunks:
            await response.write(chunk)
        if rest is not None:
            async for chunk in _AsyncGeneratorWrapper(rest):
                await response.write(chunk)
    except ConnectionError as e:
        LOG.debug("Error while writing responses: %s (client: %s)", e, scope.get("client"))
    finally:
        if rest is not None and hasattr(rest, "close"):
            await loop.run_in_executor(adapter.executor, rest.close)
        if response.started:
            await response.close()


def apply() -> None:
    patch_function(MODULE, "ASGIAdapter.handle_http", _handle_http)


PATCH = HostPatch(
    name="gateway_one_hop",
    changes="the gateway reads a small request body on its event loop, runs the request in one "
    "worker call that also collects a small response, then sends it (rolo: a thread handoff "
    "per body event, for the headers and per response chunk)",
    why="six to eight GIL handoffs per request, each up to 5 ms when another thread was busy",
    verified_on=("4.14.0",),
    opt_out="HOSTMODE_GATEWAY_ONE_HOP",
    apply=apply,
)
