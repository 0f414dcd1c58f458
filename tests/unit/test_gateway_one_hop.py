"""patches/gateway_one_hop.py without LocalStack or rolo: which requests take the one-hop path,
the body read on the loop, the answer collected in the worker (small bodies only, iterators
closed, WSGI's legacy write kept), and the whole exchange against a stand-in for rolo.asgi."""

from __future__ import annotations

import asyncio
import sys
import types
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from localstack_hostmode.patches import gateway_one_hop
from localstack_hostmode.patches.gateway_one_hop import (
    BODY_LIMIT,
    body_length,
    call_app,
    read_body,
)


def scope(*headers: tuple[bytes, bytes]) -> dict:
    return {"type": "http", "headers": list(headers)}


def test_small_declared_bodies_take_the_one_hop_path() -> None:
    assert body_length(scope()) == 0
    assert body_length(scope((b"Content-Length", b"12"))) == 12
    assert body_length(scope((b"content-length", str(BODY_LIMIT).encode()))) == BODY_LIMIT


@pytest.mark.parametrize("headers", [
    ((b"transfer-encoding", b"chunked"),),
    ((b"content-length", str(BODY_LIMIT + 1).encode()),),
    ((b"content-length", b"twelve"),),
    ((b"content-length", b"-1"),),
])
def test_large_chunked_or_odd_bodies_take_rolos_path(headers: tuple) -> None:
    assert body_length(scope(*headers)) is None


def test_the_body_is_read_to_the_last_event_or_a_disconnect() -> None:
    def receiver(*events: dict):
        queue = list(events)

        async def receive() -> dict:
            return queue.pop(0)
        return receive

    parts = receiver({"type": "http.request", "body": b"ab", "more_body": True},
                     {"type": "http.request", "body": b"cd", "more_body": True},
                     {"type": "http.request", "body": b"", "more_body": False})
    assert asyncio.run(read_body(parts)) == b"abcd"
    gone = receiver({"type": "http.request", "body": b"ab", "more_body": True},
                    {"type": "http.disconnect"})
    assert asyncio.run(read_body(gone)) == b"ab"


class Body:
    def __init__(self, *chunks: bytes) -> None:
        self.chunks, self.closed = list(chunks), False

    def __iter__(self) -> Iterator[bytes]:
        return iter(self.chunks)

    def close(self) -> None:
        self.closed = True


def app_answering(body: Body, length: int | None):
    def app(environ: dict, start_response) -> Body:
        headers = [("Content-Type", "text/plain")]
        if length is not None:
            headers.append(("Content-Length", str(length)))
        write = start_response("200 OK", headers)
        write(b"legacy-")
        return body
    return app


def test_a_small_answer_is_collected_and_its_iterator_closed() -> None:
    body = Body(b"he", b"", b"llo")
    answer = call_app(app_answering(body, 12), {}, limit=100)
    assert answer.status == "200 OK" and answer.rest is None
    assert answer.chunks == [b"legacy-", b"he", b"llo"] and body.closed
    assert answer.content_length() == 12


@pytest.mark.parametrize("length", [None, 101])
def test_a_large_or_unsized_answer_is_left_to_stream(length: int | None) -> None:
    body = Body(b"x" * 101)
    answer = call_app(app_answering(body, length), {}, limit=100)
    assert answer.rest is body and not body.closed
    assert answer.chunks == [b"legacy-"]


@pytest.fixture
def fake_rolo(monkeypatch) -> None:
    """What _handle_http uses of rolo.asgi, reduced to its behaviour."""
    asgi = types.ModuleType("rolo.asgi")

    def populate_wsgi_environment(environ: dict, scope: dict) -> None:
        environ["REQUEST_METHOD"] = scope.get("method", "GET")

    class WsgiStartResponse:
        def __init__(self, send, loop) -> None:
            self.send, self.started, self.finalized = send, False, False

        async def write(self, data: bytes) -> None:
            await self.send({"type": "http.response.body", "body": data, "more_body": True})

        async def close(self) -> None:
            if not self.finalized:
                self.finalized = True
                await self.send({"type": "http.response.body", "body": b"", "more_body": False})

    class AsyncIter:
        def __init__(self, it) -> None:
            self.it = iter(it)

        def __aiter__(self):
            return self

        async def __anext__(self) -> bytes:
            try:
                return next(self.it)
            except StopIteration:
                raise StopAsyncIteration from None

    asgi.populate_wsgi_environment = populate_wsgi_environment
    asgi.WsgiStartResponse = WsgiStartResponse
    asgi._AsyncGeneratorWrapper = AsyncIter
    monkeypatch.setitem(sys.modules, "rolo", types.ModuleType("rolo"))
    monkeypatch.setitem(sys.modules, "rolo.asgi", asgi)


@pytest.mark.parametrize("length, streamed", [(5, False), (BODY_LIMIT * 2, True)])
def test_one_exchange_sends_status_headers_and_body(fake_rolo, length: int, streamed: bool
                                                    ) -> None:
    seen: dict = {}

    def app(environ: dict, start_response) -> Body:
        seen["body"] = environ["wsgi.input"].read()
        seen["method"] = environ["REQUEST_METHOD"]
        start_response("201 Created", [("Content-Length", str(length))])
        return Body(b"he", b"llo")

    sent: list[dict] = []
    events = [{"type": "http.request", "body": b"ping", "more_body": False}]

    async def receive() -> dict:
        return events.pop(0)

    async def send(message: dict) -> None:
        sent.append(message)

    async def main() -> None:
        with ThreadPoolExecutor(1) as pool:
            adapter = types.SimpleNamespace(event_loop=asyncio.get_running_loop(),
                                            executor=pool, wsgi_app=app)

            async def rolos_path(*_args) -> None:
                raise AssertionError("a small request took rolo's path")

            await gateway_one_hop._handle_http(
                rolos_path, adapter, scope((b"content-length", b"4")) | {"method": "PUT"},
                receive, send)

    asyncio.run(main())
    assert seen == {"body": b"ping", "method": "PUT"}
    assert sent[0] == {"type": "http.response.start", "status": 201,
                       "headers": [(b"Content-Length", str(length).encode())]}
    assert [m["body"] for m in sent[1:]] == [b"he", b"llo", b""]
    assert sent[-1]["more_body"] is False


def test_a_chunked_request_is_handed_to_rolo_unchanged() -> None:
    calls: list[tuple] = []

    async def rolos_path(adapter, scope, receive, send) -> str:
        calls.append((adapter, scope))
        return "rolo"

    request = scope((b"transfer-encoding", b"chunked"))
    result = asyncio.run(gateway_one_hop._handle_http(rolos_path, "adapter", request, None, None))
    assert result == "rolo" and calls == [("adapter", request)]
