"""One cheap request that makes LocalStack load a service's provider ahead of need.

LocalStack loads a provider on the service's first request (0.3-1.5 s each, more on a busy
machine). The data-layer init and the deploy send one such request per service they are about
to use, in a background thread, so that loading overlaps their own start-up. Stdlib only: the
init runs it under LocalStack's interpreter before boto3 is imported. The signature is a dummy
(LocalStack reads only the service and region from it); any answer, an error included, means
the service is loaded.
"""

from __future__ import annotations

import os
import urllib.request
from typing import Any

# urlopen's default opener (built on the first call) makes an SSL context for https even when
# every URL is http: under LocalStack's Python (3.13, SSL_CERT_FILE set) that loads the CA
# bundle, ~36 CPU-ms on the GIL that serves the init's requests. An https endpoint gets one.
_HTTP_OPENER = urllib.request.OpenerDirector()
for _handler in (urllib.request.HTTPHandler, urllib.request.HTTPDefaultErrorHandler,
                 urllib.request.HTTPErrorProcessor):
    _HTTP_OPENER.add_handler(_handler())


def _open(request: urllib.request.Request, timeout: float) -> Any:
    if request.type == "http":
        return _HTTP_OPENER.open(request, timeout=timeout)
    return urllib.request.urlopen(request, timeout=timeout)


def warm(endpoint: str, service: str, target: str, body: bytes, json_version: str = "1.0",
         region: str | None = None) -> None:
    """`target`: a REST path ("/..."; a GET), an X-Amz-Target (a JSON API), or "" (a query API,
    `body` is its form)."""
    key = os.environ.get("AWS_ACCESS_KEY_ID") or "test"
    region = region or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    headers = {"Authorization": f"AWS4-HMAC-SHA256 Credential={key}/20250101/{region}/"
                                f"{service}/aws4_request, SignedHeaders=host, Signature=0"}
    url, data = endpoint.rstrip("/") + "/", body
    if target.startswith("/"):
        url, data = url.rstrip("/") + target, None
    elif target:
        headers["X-Amz-Target"] = target
        headers["Content-Type"] = f"application/x-amz-json-{json_version}"
    else:
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    try:
        with _open(urllib.request.Request(url, data, headers), timeout=60):
            pass
    except (OSError, ValueError):
        pass  # an error answer is an answer; none at all: the caller's next request says
