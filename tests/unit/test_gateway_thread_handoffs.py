"""gateway_thread_handoffs: one hand-off to a worker and one back for a small request (no
LocalStack needed: a stand-in for rolo's asgi module with its WsgiStartResponse semantics, a
real event loop and thread pool)."""

from __future__ import annotations

import asyncio
import io
import math
import types
import typing
from concurrent.futures import ThreadPoolExecutor

import pytest

from localstack_hostmode.patches import gateway_thread_handoffs as handoffs
from localstack_hostmode.patches import registry


class WsgiStartResponse:
    """rolo 0.8.1's WsgiStartResponse, reduced to what the patch uses; counts its hand-offs."""

    def __init__(self, send, event_loop):
        self.send = send
        self.event_loop = event_loop
        self.sent = 0
        self.content_length = math.inf
        self.finalized = False
        self.started = False
        self.sync_handoffs = 0

    def __call__(self, status, headers, exec_info=None):
        return self.start_response_sync(status, headers, exec_info)

    def start_response_sync(self, status, headers, exec_info=None):
        self.sync_handoffs += 1
        asyncio.run_coroutine_threadsafe(self.send({
            "type": "http.response.start", "status": int(status[:3]),
            "headers": [(k.encode("latin1"), v.encode("latin1")) for k, v in headers],
        }), self.event_loop).result()
        self.started = True
        self.content_length = handoffs.content_length(headers) or math.inf
        return self.write_sync

    def write_sync(self, data):
        self.sync_handoffs += 1
        return asyncio.run_coroutine_threadsafe(self.write(data), self.event_loop).result()

    async def write(self, data):
        if not self.started:
            raise ValueError("not started the response yet")
        await self.send({"type": "http.response.body", "body": data, "more_body": True})
        self.sent += len(data)
        if self.sent >= self.content_length:
            await self.close()

    async def close(self):
        if not self.started:
            raise ValueError("not started the response yet")
        if not self.finalized:
            self.finalized = True
            await self.send({"type": "http.response.body", "body": b"", "more_body": False})


class AsyncGeneratorWrapper:
    """rolo's _AsyncGeneratorWrapper: each next() in the pool."""

    def __init__(self, it):
        self.it = it
        self.loop = asyncio.get_running_loop()
        self.nexts = 0

    def __aiter__(self):
        return self

    async def __anext__(self):
        def step():
            self.nexts += 1
            try:
                return next(self.it)
            except StopIteration:
                raise StopAsyncIteration from None

        return await self.loop.run_in_executor(None, step)


ASGI = types.SimpleNamespace(
    WsgiStartResponse=WsgiStartResponse, _AsyncGeneratorWrapper=AsyncGeneratorWrapper, t=typing)


class Adapter:
    """ASGIAdapter's attributes the patch reads; wsgi.input as rolo builds it (a stream that
    must not be read when the body was read up front)."""

    def __init__(self, app, loop, executor):
        self.wsgi_app = app
        self.event_loop = loop
        self.executor = executor

    def to_wsgi_environment(self, scope, receive):
        return {"wsgi.input": UnreadableInput(), "REQUEST_METHOD": scope["method"]}


class UnreadableInput(io.RawIOBase):
    def readable(self):
        return True

    def readinto(self, b):
        raise AssertionError("the body was to be read on the loop")


def serve(app, scope, body_events=()):
    """Run the patched handle_http once: (events sent, events left unread, start_response)."""
    sent, pending, seen = [], list(body_events), {}

    async def receive():
        return pending.pop(0) if pending else {"type": "http.disconnect"}

    async def send(event):
        sent.append(event)

    def spy(environ, start_response):
        seen["start_response"] = start_response
        return app(environ, start_response)

    async def main():
        with ThreadPoolExecutor(2) as pool:
            adapter = Adapter(spy, asyncio.get_running_loop(), pool)
            await handoffs.make_handle_http(ASGI)(adapter, scope, receive, send)

    asyncio.run(main())
    return sent, pending, seen["start_response"]


def http_scope(method="GET", headers=(), version="1.1"):
    return {"type": "http", "method": method, "headers": list(headers), "http_version": version}


def small_app(environ, start_response):
    body = environ["wsgi.input"].read()
    answer = b"got:" + body
    start_response("200 OK", [("Content-Type", "text/plain"),
                              ("Content-Length", str(len(answer)))])
    return [answer[:3], answer[3:]]


def test_small_request_and_answer_cross_threads_once_each_way():
    events = [{"type": "http.request", "body": b"ab", "more_body": True},
              {"type": "http.request", "body": b"c", "more_body": False}]
    sent, left, start_response = serve(
        small_app, http_scope("POST", [(b"content-length", b"3")]), events)
    assert left == []
    assert start_response.sync_handoffs == 0
    assert sent == [
        {"type": "http.response.start", "status": 200,
         "headers": [(b"Content-Type", b"text/plain"), (b"Content-Length", b"7")]},
        {"type": "http.response.body", "body": b"got:abc", "more_body": True},
        {"type": "http.response.body", "body": b"", "more_body": False},
    ]


def test_get_without_body_reads_nothing_from_the_client():
    sent, left, _ = serve(small_app, http_scope(), [{"type": "http.request", "body": b"",
                                                     "more_body": False}])
    assert len(left) == 1  # not awaited: an HTTP/1.1 request without Content-Length has no body
    assert sent[1]["body"] == b"got:"


def test_chunked_request_body_is_streamed_from_the_worker_as_before():
    def app(environ, start_response):
        with pytest.raises(AssertionError, match="read on the loop"):
            environ["wsgi.input"].read()
        start_response("204 No Content", [])
        return []

    sent, left, _ = serve(app, http_scope("POST", [(b"Transfer-Encoding", b"chunked")]),
                          [{"type": "http.request", "body": b"x", "more_body": False}])
    assert len(left) == 1
    assert sent == [{"type": "http.response.start", "status": 204, "headers": []},
                    {"type": "http.response.body", "body": b"", "more_body": False}]


def test_answer_without_content_length_streams_chunk_by_chunk():
    def app(environ, start_response):
        start_response("200 OK", [])
        yield b"event1"
        yield b"event2"

    sent, _, _ = serve(app, http_scope())
    assert [e.get("body") for e in sent] == [None, b"event1", b"event2", b""]


def test_answer_over_the_limit_streams(monkeypatch):
    monkeypatch.setattr(handoffs, "MAX_BUFFERED", 4)

    def app(environ, start_response):
        start_response("200 OK", [("Content-Length", "6")])
        return iter([b"abc", b"def"])

    sent, _, _ = serve(app, http_scope())
    assert [e.get("body") for e in sent] == [None, b"abc", b"def", b""]


def test_write_callable_sends_headers_first_and_streams():
    def app(environ, start_response):
        write = start_response("200 OK", [("Content-Length", "5")])
        write(b"hello")
        return []

    sent, _, start_response = serve(app, http_scope())
    assert start_response.sync_handoffs == 2  # as rolo does it: start, then the write
    assert [e["type"] for e in sent] == ["http.response.start", "http.response.body",
                                         "http.response.body"]
    assert sent[1]["body"] == b"hello"


def test_collected_answer_is_closed_once_at_content_length():
    closed = []

    class Body:
        def __iter__(self):
            yield b"12"
            yield b"34"
            raise AssertionError("read past Content-Length")

        def close(self):
            closed.append(True)

    def app(environ, start_response):
        start_response("200 OK", [("Content-Length", "4")])
        return Body()

    sent, _, _ = serve(app, http_scope())
    assert closed == [True]
    assert sent[1]["body"] == b"1234"


@pytest.mark.parametrize(("headers", "version", "expected"), [
    ([], "1.1", 0),
    ([(b"Content-Length", b"12")], "1.1", 12),
    ([(b"content-length", str(2 << 20).encode())], "1.1", None),
    ([(b"transfer-encoding", b"chunked")], "1.1", None),
    ([(b"content-length", b"x")], "1.1", None),
    ([], "2", None),
])
def test_request_body_length(headers, version, expected):
    assert handoffs.request_body_length(http_scope(headers=headers, version=version)) == expected


def test_registered_with_opt_out():
    (patch,) = registry.load_patches(["gateway_thread_handoffs"])
    assert "gateway_thread_handoffs" in registry.PATCH_MODULES
    assert patch.opt_out == "HOSTMODE_GATEWAY_FEW_HANDOFFS"
    assert patch.verified_on == ("4.14.0",)


class _Event:
    def __init__(self, **kw):
        self.__dict__.update(kw)


class RawData(_Event):  # hypercorn.events
    pass


class Response(_Event):  # hypercorn.protocol.events
    pass


class Body(_Event):
    pass


class EndBody(_Event):
    pass


class FakeH11:
    """hypercorn 0.18's H11Protocol, reduced to stream_send writing each event's bytes."""

    def __init__(self):
        self.writes: list[bytes] = []
        self.send = self._write

    async def _write(self, event):
        self.writes.append(event.data)

    async def stream_send(self, event):
        if isinstance(event, Response):
            await self.send(RawData(data=b"HEAD%d;" % event.status_code))
        elif isinstance(event, Body):
            await self.send(RawData(data=event.data))


@pytest.fixture
def hypercorn_events(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "hypercorn", types.ModuleType("hypercorn"))
    monkeypatch.setitem(sys.modules, "hypercorn.events", types.SimpleNamespace(RawData=RawData))
    monkeypatch.setitem(sys.modules, "hypercorn.protocol", types.ModuleType("hypercorn.protocol"))
    monkeypatch.setitem(sys.modules, "hypercorn.protocol.events",
                        types.SimpleNamespace(Response=Response, Body=Body))


def _sends(protocol, events, one_write: bool) -> list[bytes]:
    async def run():
        token = handoffs.ONE_WRITE.set(one_write)
        try:
            for event in events:
                await handoffs._stream_send(FakeH11.stream_send, protocol, event)
        finally:
            handoffs.ONE_WRITE.reset(token)

    asyncio.run(run())
    return protocol.writes


def test_a_collected_answer_leaves_in_one_write(hypercorn_events):
    events = [Response(status_code=200), Body(data=b"body"), EndBody()]

    assert _sends(FakeH11(), events, one_write=True) == [b"HEAD200;body"]
    # a streamed answer (or the opt-out): the head goes out at once, as upstream
    assert _sends(FakeH11(), events, one_write=False) == [b"HEAD200;", b"body"]


def test_a_held_head_goes_first_when_no_body_follows(hypercorn_events):
    protocol = FakeH11()

    assert _sends(protocol, [Response(status_code=204), EndBody()], one_write=True) == [
        b"HEAD204;"]
    assert "_hostmode_held_head" not in protocol.__dict__
