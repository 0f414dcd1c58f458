"""The gateway hands a request to a worker thread once, and its answer back once.

Why: LocalStack 4.14.0 serves HTTP with hypercorn (one asyncio event loop) and runs its WSGI
handler chain in a thread pool through rolo's ``ASGIAdapter`` (rolo 0.8.1, rolo/asgi.py). Each
step of a request crossed between the two: the request body read (a ``receive`` per chunk, then
one for the end), ``start_response``, every body chunk of the answer (``next()`` of the WSGI
iterable in the pool) and its ``close()``: 6-8 hand-offs per request, each a self-pipe wake-up
of the loop or a condition wake-up of the worker, each needing the GIL. Under concurrent API
requests the loop waited for the GIL at every hand-off while gateway threads ran (py-spy --gil
at concurrency 32: the loop thread held 41% of the GIL samples, a fifth of them chaining the
hand-offs' futures), and a GET /users/{id} makes two such requests (the client's and the
function's DynamoDB call): throughput fell as concurrency rose.

What changes: a request whose body has a Content-Length up to 1 MiB, or no body, is read on
the loop before the handler runs (the handler reads it from memory); the handler's status and
headers are kept until it returns, and an answer with a Content-Length up to 1 MiB is collected
in the worker and sent from the loop in one piece. One hand-off each way. Larger or
unannounced bodies (chunked uploads, S3 objects over 1 MiB, event streams) and handlers that use
WSGI's ``write`` callable stream exactly as before. Same bytes on the wire.

Verified on localstack-core 4.14.0 (rolo 0.8.1, hypercorn 0.18.0); on any other version the
registry (registry.py) skips it with a warning. Opt-out: ``HOSTMODE_GATEWAY_FEW_HANDOFFS=0``.
"""

from __future__ import annotations

import contextvars
import io
import logging
import os
from typing import Any

from .registry import HostPatch, on_import, patch_function

LOG = logging.getLogger(__name__)

MAX_BUFFERED = 1 << 20  # bytes of request or response body held in memory for one hand-off
# set while the loop sends a collected answer: its head waits for its body (_stream_send)
ONE_WRITE: contextvars.ContextVar[bool] = contextvars.ContextVar("one_write", default=False)
ONE_WRITE_ENABLED = os.environ.get("HOSTMODE_GATEWAY_ONE_WRITE", "1") != "0"
_HELD = "_hostmode_held_head"


def request_body_length(scope: dict) -> int | None:
    """The body length to read up front: Content-Length (up to MAX_BUFFERED), 0 for an HTTP/1.x
    request that announces no body; None (stream it as before) otherwise."""
    length = None
    for name, value in scope.get("headers") or ():
        name = name.lower()
        if name == b"transfer-encoding":
            return None
        if name == b"content-length":
            try:
                length = int(value)
            except ValueError:
                return None
    if length is None:
        return 0 if scope.get("http_version") in ("1.0", "1.1") else None
    return length if 0 <= length <= MAX_BUFFERED else None


async def read_body(receive: Any) -> bytes:
    """The whole request body, read on the event loop (ASGI ``http.request`` events)."""
    chunks = []
    while True:
        event = await receive()
        if event.get("type") != "http.request":
            break  # http.disconnect: the handler sees what arrived, as a short read
        chunks.append(event.get("body") or b"")
        if not event.get("more_body", False):
            break
    return b"".join(chunks)


def content_length(headers: list) -> int | None:
    for name, value in headers:
        if name.lower() == "content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def collect(iterable: Any, length: int) -> bytes:
    """Up to ``length`` bytes of a WSGI answer, then its close() (as the adapter's write did:
    it stops at Content-Length)."""
    chunks, got = [], 0
    try:
        for chunk in iterable:
            if chunk:
                chunks.append(chunk)
                got += len(chunk)
            if got >= length:
                break
    finally:
        if close := getattr(iterable, "close", None):
            close()
    return b"".join(chunks)


def deferred_start_response(base: type) -> type:
    """A subclass of rolo's WsgiStartResponse that keeps status and headers while the handler
    runs (``deferring``) and sends them from the loop (``flush``)."""

    class DeferredStartResponse(base):
        def __init__(self, send: Any, event_loop: Any) -> None:
            super().__init__(send, event_loop)
            self.deferring = True
            self.pending: tuple[str, list] | None = None

        def start_response_sync(self, status: str, headers: list, exec_info: Any = None):
            if not self.deferring:
                return super().start_response_sync(status, headers, exec_info)
            self.pending = (status, headers)
            return self._write_now

        def _write_now(self, data: bytes) -> None:
            """WSGI's write callable: the answer streams from here on (worker thread)."""
            self.deferring = False
            if self.pending is not None:
                status, headers = self.pending
                self.pending = None
                super().start_response_sync(status, headers)
            return self.write_sync(data)

        def buffered_length(self) -> int | None:
            if self.pending is None:
                return None
            length = content_length(self.pending[1])
            return length if length is not None and length <= MAX_BUFFERED else None

        async def flush(self) -> None:
            """Send the kept status line and headers (event loop)."""
            if self.pending is None:
                return
            status, headers = self.pending
            self.pending = None
            await self.send({
                "type": "http.response.start",
                "status": int(status[:3]),
                "headers": [(k.encode("latin1"), v.encode("latin1")) for k, v in headers],
            })
            self.started = True
            length = content_length(headers)
            self.content_length = float("inf") if length is None else length

    return DeferredStartResponse


def run_app(app: Any, environ: dict, response: Any) -> tuple[Any, bytes | None]:
    """In the worker: the handler, and its answer collected when it is small and announced;
    (iterable to stream, None) otherwise."""
    try:
        iterable = app(environ, response)
        length = response.buffered_length() if response.deferring else None
        if length is None:
            return iterable, None
        return None, collect(iterable, length)
    finally:
        response.deferring = False


def make_handle_http(asgi: Any) -> Any:
    """The replacement of ``ASGIAdapter.handle_http`` for rolo's module ``asgi``."""
    start_response_class = deferred_start_response(asgi.WsgiStartResponse)

    async def handle_http(self: Any, scope: dict, receive: Any, send: Any) -> None:
        environ = self.to_wsgi_environment(scope, receive)
        if (length := request_body_length(scope)) is not None:
            environ["wsgi.input"] = io.BytesIO(await read_body(receive) if length else b"")
        response = start_response_class(send, self.event_loop)
        try:
            iterable, body = await self.event_loop.run_in_executor(
                self.executor, run_app, self.wsgi_app, environ, response)
        except Exception as e:
            LOG.error("Error while trying to schedule execution: %s with environment %s", e,
                      environ, exc_info=LOG.isEnabledFor(logging.DEBUG))
            raise
        try:
            token = ONE_WRITE.set(body is not None and ONE_WRITE_ENABLED)
            try:
                await response.flush()
                if body:
                    await response.write(body)
            finally:
                ONE_WRITE.reset(token)
            if iterable:
                await _stream(asgi, iterable, response)
        except ConnectionError as e:
            LOG.debug("Error while writing responses: %s (client_info: %s)", e,
                      scope.get("client") or "unknown")
        finally:
            if iterable and hasattr(iterable, "aclose"):
                await iterable.aclose()
            if response.started:
                await response.close()

    return handle_http


async def _stream(asgi: Any, iterable: Any, response: Any) -> None:
    """rolo's own streaming: each chunk from the worker pool, written from the loop."""
    if isinstance(iterable, asgi.t.Iterator):
        iterable = asgi._AsyncGeneratorWrapper(iterable)
    if isinstance(iterable, (asgi.t.AsyncIterator, asgi.t.AsyncIterable)):
        async for packet in iterable:
            await response.write(packet)
    else:
        for packet in iterable:
            await response.write(packet)


async def _stream_send(stream_send: Any, self: Any, event: Any) -> None:
    """hypercorn's H11Protocol.stream_send: the head of a collected answer is held and goes
    out with its body in one write (one send(), one TCP segment): written apart, each was a
    syscall that let go of the GIL on the loop (perf sched at 32 concurrent GETs: ~1 GIL wait
    of the loop per request) and two segments for the client to read."""
    from hypercorn.events import RawData
    from hypercorn.protocol.events import Body, Response

    held = self.__dict__.pop(_HELD, None)
    if held is None:
        if ONE_WRITE.get() and isinstance(event, Response) and event.status_code >= 200:
            self.__dict__[_HELD] = b"".join(await _captured(stream_send, self, event, RawData))
            return
        return await stream_send(self, event)
    if isinstance(event, Body):
        data = await _captured(stream_send, self, event, RawData)
        return await self.send(RawData(data=held + b"".join(data)))
    await self.send(RawData(data=held))  # anything else: the head first, as upstream
    await stream_send(self, event)


async def _captured(stream_send: Any, self: Any, event: Any, raw_data: type) -> list[bytes]:
    """The bytes upstream's stream_send would write for ``event``; other events go on."""
    send, data = self.send, []

    async def capture(out: Any) -> None:
        if isinstance(out, raw_data):
            data.append(out.data)
        else:
            await send(out)

    self.send = capture
    try:
        await stream_send(self, event)
    finally:
        self.send = send
    return data


def _patch(asgi: Any) -> None:
    from localstack.utils.patch import Patch

    Patch(asgi.ASGIAdapter, "handle_http", make_handle_http(asgi)).apply()


def apply() -> None:
    on_import("rolo.asgi", _patch)
    patch_function("hypercorn.protocol.h11", "H11Protocol.stream_send", _stream_send)


PATCH = HostPatch(
    name="gateway_thread_handoffs",
    changes="the gateway reads a small request body on its event loop and sends a small answer "
            "from it in one piece: one hand-off to a worker thread and one back per request",
    why="6-8 hand-offs per request between hypercorn's loop and the worker threads, each "
        "waiting for the GIL under concurrency: throughput fell as concurrency rose",
    verified_on=("4.14.0",),
    opt_out="HOSTMODE_GATEWAY_FEW_HANDOFFS",
    apply=apply,
)
