"""The HTTP client from LocalStack's DynamoDB provider to the moto backend process.

LocalStack forwards with ``AwsRequestProxy``, whose rolo ``Proxy`` sends through ``requests``
(SimpleRequestsClient) and hands the answer back as a stream of 1 KiB chunks that the response
parser then joins. In a GIL-sampling profile (py-spy --gil) of ``GET /users/{id}`` that client
(session merging, urllib3's pool, the chunked stream) was ~20% of the gateway threads' time, for
one small GetItem. ``BackendClient`` is the same hop with ``http.client``: the request as the
provider prepared it (headers, body, path), the whole answer read at once. moto's server
(werkzeug) closes every connection after its answer, so each request opens one; on loopback
that is cheap.
"""

from __future__ import annotations

import http.client
from urllib.parse import urlsplit

from localstack.aws.forwarder import AwsRequestProxy
from localstack.http import Response
from rolo.client import HttpClient
from rolo.proxy import Proxy
from rolo.request import Request, get_raw_path, restore_payload
from werkzeug.datastructures import Headers

# hop-by-hop headers (RFC 9110 7.6.1) and the length, which is recomputed from the body
_NOT_FORWARDED = frozenset({
    "connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding",
    "upgrade", "content-length",
})
# moto answers in milliseconds; a hung backend must not hold a gateway thread forever
TIMEOUT_S = 300.0


class BackendClient(HttpClient):
    """rolo's HttpClient for one backend host, over http.client."""

    def __init__(self, base_url: str, timeout: float = TIMEOUT_S) -> None:
        target = urlsplit(base_url)
        self.host = target.hostname or "127.0.0.1"
        self.port = target.port or 80
        self.timeout = timeout

    def request(self, request: Request, server: str | None = None) -> Response:
        path = get_raw_path(request) or "/"
        if request.query_string:
            path += "?" + request.query_string.decode("latin-1")
        body = restore_payload(request)
        headers = [(k, v) for k, v in request.headers.items() if k.lower() not in _NOT_FORWARDED]
        if "Host" not in request.headers:
            headers.append(("Host", f"{self.host}:{self.port}"))
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

    def close(self) -> None:
        pass


def backend_proxy(base_url: str) -> AwsRequestProxy:
    """LocalStack's AwsRequestProxy (request context, response parsing, service errors) sending
    through BackendClient."""
    proxy = AwsRequestProxy(base_url)
    proxy.proxy = Proxy(forward_base_url=base_url, client=BackendClient(base_url))
    return proxy
