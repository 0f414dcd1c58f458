"""Where LocalStack answers: the endpoint URL, the region, and the one health check.

Standard library only, so every script (and LocalStack's own interpreter, which runs
data_layer.py from init-aws.sh) can import it. The Makefile exports AWS_ENDPOINT_URL,
LOCALSTACK_PORT and AWS_DEFAULT_REGION; scripts and tests read them here.
"""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from launcher.readiness import http_get_json
from localstack_hostmode.contract import STANDARD_HOSTNAME  # on sys.path via launcher.config

DEFAULT_PORT = "4566"
DEFAULT_REGION = "us-east-1"


def endpoint_url() -> str:
    """AWS_ENDPOINT_URL, else LocalStack on LOCALSTACK_PORT (as the Makefile derives it)."""
    url = os.environ.get("AWS_ENDPOINT_URL")
    if url:
        return url.rstrip("/")
    port = os.environ.get("LOCALSTACK_PORT") or DEFAULT_PORT
    return f"http://127.0.0.1:{port}"


def region() -> str:
    return os.environ.get("AWS_DEFAULT_REGION") or os.environ.get("AWS_REGION") or DEFAULT_REGION


def is_local(endpoint: str | None = None) -> bool:
    """True when the endpoint is a LocalStack (anything but the real AWS endpoints)."""
    host = urlsplit(endpoint or endpoint_url()).hostname or ""
    return not host.endswith("amazonaws.com")


def localstack_health(url: str | None = None, timeout: float = 3.0) -> dict[str, Any] | None:
    """LocalStack's /_localstack/health answer at `url` (default: the endpoint), or None."""
    return http_get_json("/_localstack/health", timeout, base=url or endpoint_url())


def check_endpoint() -> str | None:
    """None when LocalStack answers at the endpoint (or it is real AWS), else what to do."""
    if not is_local() or localstack_health() is not None:
        return None
    return f"LocalStack does not answer at {endpoint_url()}; run `make up` first"


def without_dns(url: str, endpoint: str | None = None) -> tuple[str, dict[str, str]]:
    """(URL to connect to, headers) that reach a LocalStack URL without DNS.

    A virtual-host URL of LocalStack's standard name (a function URL
    `http://<id>.lambda-url.<region>.localhost.localstack.cloud:<port>/path`) becomes the
    endpoint (127.0.0.1:<port>) with the original host as the Host header, which LocalStack
    routes by. Any other URL is returned unchanged, with no headers.
    """
    parts = urlsplit(url)
    host = parts.hostname or ""
    if host != STANDARD_HOSTNAME and not host.endswith("." + STANDARD_HOSTNAME):
        return url, {}
    target = urlsplit(endpoint or endpoint_url())
    return urlunsplit((target.scheme, target.netloc, parts.path or "/", parts.query, "")), {
        "Host": parts.netloc
    }
