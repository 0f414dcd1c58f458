"""The HTTP client from LocalStack's DynamoDB provider to the moto backend process.

LocalStack forwards with ``AwsRequestProxy``, whose rolo ``Proxy`` sends through ``requests``
(SimpleRequestsClient) and hands the answer back as a stream of 1 KiB chunks that the response
parser then joins. In a GIL-sampling profile (py-spy --gil) of ``GET /users/{id}`` that client
(session merging, urllib3's pool, the chunked stream) was ~20% of the gateway threads' time, for
one small GetItem. ``BackendClient`` is the same hop with ``http.client``: the request as the
provider prepared it (headers, body, path), the whole answer read at once. moto's server
(werkzeug) closes every connection after its answer, so each request opens one; on loopback
that is cheap.

With moto in LocalStack's own process (``HOSTMODE_DYNAMODB_BACKEND=thread``, the default) the
request does not leave the process at all: ``BackendClient`` hands it to moto's WSGI app in the
gateway's thread (``wsgi_app``), the environ werkzeug's server would have built from the same
request line, headers and body. Over loopback HTTP, each request also cost a new connection and
a new werkzeug thread (its server starts one per connection) in the process that holds the GIL:
a GIL-sampling profile at concurrency 32 put that server (thread starts, request parsing,
socket writes) and the http.client side at ~10% of LocalStack's busy time. moto's HTTP server
keeps running for the provider's own boto3 clients. Opt-out: ``HOSTMODE_DYNAMODB_IN_MEMORY=0``.
"""

from __future__ import annotations

import http.client
import os
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from localstack.aws.forwarder import AwsRequestProxy
from localstack.http import Response
from rolo.client import HttpClient
from rolo.proxy import Proxy
from rolo.request import Request, get_raw_path, restore_payload
from werkzeug.datastructures import Headers
from werkzeug.test import EnvironBuilder, run_wsgi_app

# hop-by-hop headers (RFC 9110 7.6.1) and the length, which is recomputed from the body
_NOT_FORWARDED = frozenset({
    "connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding",
    "upgrade", "content-length",
})
# moto answers in milliseconds; a hung backend must not hold a gateway thread forever
TIMEOUT_S = 300.0


class BackendClient(HttpClient):
    """rolo's HttpClient for one backend host, over http.client."""

    def __init__(
        self, base_url: str, timeout: float = TIMEOUT_S,
        wsgi_app: Callable[[], Any] | None = None,
    ) -> None:
        target = urlsplit(base_url)
        self.host = target.hostname or "127.0.0.1"
        self.port = target.port or 80
        self.timeout = timeout
        # the backend's WSGI app when it runs in this process (None: over HTTP)
        self.wsgi_app = wsgi_app if in_memory() else None

    def request(self, request: Request, server: str | None = None) -> Response:
        raw_path = get_raw_path(request) or "/"
        path = raw_path
        if request.query_string:
            path += "?" + request.query_string.decode("latin-1")
        body = restore_payload(request)
        headers = [(k, v) for k, v in request.headers.items() if k.lower() not in _NOT_FORWARDED]
        if "Host" not in request.headers:
            headers.append(("Host", f"{self.host}:{self.port}"))
        app = self.wsgi_app() if self.wsgi_app is not None else None
        if app is not None:
            return self._call_app(app, request.method, raw_path, request.query_string, headers,
                                  body)
        connection = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        try:
            connection.putrequest(request.method, path, skip_host=True,
                                  skip_accept_encoding=True)
            for name, value in headers:
                connection.putheader(name, value)
            connection.putheader("Content-Length", str(len(body)))
            connection.endheaders(body)
            answer = connection.getresponse()
            data = answer.read()
        finally:
            connection.close()
        response_headers = Headers(
            [(k, v) for k, v in answer.getheaders() if k.lower() not in _NOT_FORWARDED]
        )
        return Response(data, status=answer.status, headers=response_headers)

    def _call_app(
        self, app: Any, method: str, raw_path: str, query: bytes, headers: list, body: bytes
    ) -> Response:
        """The request through the WSGI app in this thread, with the environ werkzeug's server
        builds (werkzeug's test helpers: PATH_INFO decoded, HTTP_* headers), the answer read
        whole."""
        environ = EnvironBuilder(
            path=raw_path, base_url=f"http://{self.host}:{self.port}", method=method,
            query_string=query.decode("latin-1"), headers=headers, data=body,
        ).get_environ()
        chunks, status, response_headers = run_wsgi_app(app, environ, buffered=True)
        response_headers = Headers(
            [(k, v) for k, v in response_headers.items() if k.lower() not in _NOT_FORWARDED]
        )
        return Response(b"".join(chunks), status=int(status.split(" ", 1)[0]),
                        headers=response_headers)

    def close(self) -> None:
        pass


def in_memory() -> bool:
    return os.environ.get("HOSTMODE_DYNAMODB_IN_MEMORY", "1") != "0"


def backend_proxy(base_url: str, wsgi_app: Callable[[], Any] | None = None) -> AwsRequestProxy:
    """LocalStack's AwsRequestProxy (request context, response parsing, service errors) sending
    through BackendClient (to ``wsgi_app()`` in memory while it returns an app)."""
    proxy = AwsRequestProxy(base_url)
    proxy.proxy = Proxy(forward_base_url=base_url,
                        client=BackendClient(base_url, wsgi_app=wsgi_app))
    return proxy
