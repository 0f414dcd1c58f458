"""Shared test fixtures.

- ``localstack`` (session): the endpoint URL of a LocalStack that answers /_localstack/health.
  Uses whatever answers on AWS_ENDPOINT_URL (default http://127.0.0.1:4566); otherwise starts
  host mode with ``scripts/hostmode.py up`` on that port and stops it at session end (only if this
  session started it). Applied automatically to every test marked ``integration`` or living
  under tests/integration, so unit tests never start LocalStack.
- ``aws_client``: factory ``aws_client("sqs")`` -> boto3 client bound to the endpoint.
- ``wait_until``: ``wait_until(predicate, timeout=10, interval=0.1, message=...)`` polls against
  a deadline and returns the first truthy value; a predicate may also raise AssertionError
  until it holds (the last error is re-raised at the deadline).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest

ROOT = Path(__file__).resolve().parent.parent
HOSTMODE = ROOT / "scripts" / "hostmode.py"
DEFAULT_ENDPOINT = "http://127.0.0.1:4566"
INTEGRATION_DIR = ROOT / "tests" / "integration"
# first start on a fresh machine installs LocalStack (~2 min); a warm start takes seconds
STARTUP_TIMEOUT_S = float(os.environ.get("LOCALSTACK_STARTUP_TIMEOUT", "900"))

# Session-wide AWS defaults: tests never reach real AWS, whatever the caller's environment holds.
_AWS_DEFAULTS = {
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "test",
    "AWS_SECRET_ACCESS_KEY": "test",
}


def endpoint_url() -> str:
    url = os.environ.get("AWS_ENDPOINT_URL") or ""
    if not url:
        port = os.environ.get("LOCALSTACK_PORT") or "4566"
        url = f"http://127.0.0.1:{port}"
    return url.rstrip("/")


def localstack_health(url: str, timeout: float = 2.0) -> dict | None:
    try:
        with urllib.request.urlopen(f"{url}/_localstack/health", timeout=timeout) as resp:
            return json.loads(resp.read() or b"{}")
    except (OSError, ValueError, urllib.error.URLError):
        return None


def pytest_configure(config: pytest.Config) -> None:
    for key, value in _AWS_DEFAULTS.items():
        os.environ.setdefault(key, value)
    # no stray profile or config file may redirect boto3 to real AWS
    os.environ.pop("AWS_PROFILE", None)
    # AWS_ENDPOINT_URL is set by the `localstack` fixture, not here: unit tests using moto's
    # in-process mocks must not be pointed at a LocalStack


def _is_integration(item: pytest.Item) -> bool:
    if item.get_closest_marker("integration"):
        return True
    try:
        return Path(str(item.fspath)).resolve().is_relative_to(INTEGRATION_DIR)
    except (OSError, ValueError):
        return False


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if _is_integration(item):
            if not item.get_closest_marker("integration"):
                item.add_marker(pytest.mark.integration)
            # first in line, so every other fixture already sees a running LocalStack
            if "localstack" not in item.fixturenames:
                item.fixturenames.insert(0, "localstack")


@pytest.fixture(scope="session")
def localstack() -> Any:
    """Endpoint URL of a running LocalStack; started in host mode if nothing answers."""
    url = endpoint_url()
    # boto3 clients and scripts started by tests find LocalStack through the environment
    os.environ["AWS_ENDPOINT_URL"] = url
    if localstack_health(url) is not None:
        yield url
        return

    parsed = urlparse(url)
    if parsed.hostname not in ("127.0.0.1", "localhost") or not parsed.port:
        pytest.fail(f"nothing answers {url}/_localstack/health and it is not a local port "
                    "this session could start LocalStack on", pytrace=False)
    env = dict(os.environ, LOCALSTACK_PORT=str(parsed.port))
    cmd = [sys.executable, str(HOSTMODE), "up"]
    started = time.monotonic()
    try:
        proc = subprocess.run(cmd, env=env, cwd=str(ROOT), capture_output=True, text=True,
                              timeout=STARTUP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        _stop(env)
        pytest.fail(f"`scripts/hostmode.py up` did not finish within {STARTUP_TIMEOUT_S:.0f}s",
                    pytrace=False)
    if proc.returncode != 0 or localstack_health(url) is None:
        _stop(env)
        pytest.fail(f"LocalStack did not come up on {url} (hostmode.py up exit "
                    f"{proc.returncode}):\n{proc.stderr[-4000:]}", pytrace=False)
    sys.stderr.write(f"\n[conftest] started host-mode LocalStack on {url} in "
                     f"{time.monotonic() - started:.1f}s\n")
    try:
        yield url
    finally:
        _stop(env)


def _stop(env: dict[str, str]) -> None:
    subprocess.run([sys.executable, str(HOSTMODE), "down"], env=env, cwd=str(ROOT),
                   capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="session")
def aws_client(localstack: str) -> Callable[..., Any]:
    """``aws_client("dynamodb")`` -> a cached boto3 client bound to LocalStack."""
    import boto3
    from botocore.config import Config

    cache: dict[tuple[str, str], Any] = {}
    session = boto3.session.Session(region_name=_AWS_DEFAULTS["AWS_DEFAULT_REGION"])
    config = Config(retries={"max_attempts": 3, "mode": "standard"})

    def factory(service: str, region: str | None = None) -> Any:
        region = region or session.region_name
        key = (service, region)
        if key not in cache:
            cache[key] = session.client(service, endpoint_url=localstack, region_name=region,
                                        aws_access_key_id="test", aws_secret_access_key="test",
                                        config=config)
        return cache[key]

    return factory


def poll_until[T](predicate: Callable[[], T], timeout: float = 10.0, interval: float = 0.1,
               message: str = "condition") -> T:
    """Call ``predicate`` until it returns a truthy value (returned) or the deadline passes.

    AssertionError raised by the predicate counts as "not yet"; the last one is re-raised at the
    deadline, so the assertion that failed is what the test reports.
    """
    deadline = time.monotonic() + timeout
    last_error: AssertionError | None = None
    while True:
        try:
            result = predicate()
            if result:
                return result
            last_error = None
        except AssertionError as e:
            last_error = e
        if time.monotonic() >= deadline:
            if last_error is not None:
                raise last_error
            raise AssertionError(f"timed out after {timeout}s waiting for {message}")
        time.sleep(interval)


@pytest.fixture(scope="session")
def wait_until() -> Callable[..., Any]:
    """The ``poll_until`` deadline poller as a fixture."""
    return poll_until
