"""Session logic and fixtures for every test. Integration-only fixtures (lam, make_function,
probe, ...) are in tests/integration/conftest.py; tests/unit/conftest.py blocks the network.

- ``localstack`` (session): the endpoint URL of a LocalStack that answers /_localstack/health.
  Uses whatever answers on AWS_ENDPOINT_URL (default http://127.0.0.1:4566); otherwise starts
  host mode with ``scripts/hostmode.py up`` on that port and stops it at session end (only if this
  session started it). Applied automatically to every test marked ``integration`` or living
  under tests/integration, so unit tests never start LocalStack. Under xdist the controller
  starts it in the background and unit tests run meanwhile (tests/xdist_schedule.py).
- ``aws_client``: factory ``aws_client("sqs")`` -> boto3 client bound to the endpoint.
- ``wait_until``: ``wait_until(predicate, timeout=10, interval=0.1, message=...)`` polls against
  a deadline and returns the first truthy value; a predicate may also raise AssertionError
  until it holds (the last error is re-raised at the deadline).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest

import polling
from endpoint import endpoint_url, localstack_health

ROOT = Path(__file__).resolve().parent.parent
HOSTMODE = ROOT / "scripts" / "hostmode.py"
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


def pytest_configure(config: pytest.Config) -> None:
    if not hasattr(config, "workerinput"):  # the xdist controller, or a run without xdist
        import xdist_schedule

        config.pluginmanager.register(xdist_schedule.DurationRecorder(config))
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


@pytest.hookimpl(optionalhook=True)  # `-p no:xdist` runs without it
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    # shared-state groups on one worker, longest first (tests/xdist_schedule.py)
    import xdist_schedule

    return xdist_schedule.SharedStateScheduling(config, log,
                                                xdist_schedule.measured_durations(config),
                                                ready=localstack_settled)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if _is_integration(item):
            if not item.get_closest_marker("integration"):
                item.add_marker(pytest.mark.integration)
            # first in line, so every other fixture already sees a running LocalStack
            if "localstack" not in item.fixturenames:
                item.fixturenames.insert(0, "localstack")


class _Session:
    """This session's LocalStack: the URL, whether we started it, or why it is unusable."""

    url: str | None = None
    error: str | None = None
    started_env: dict[str, str] | None = None
    starting: threading.Thread | None = None  # the xdist controller's background start


# Under xdist the controller starts LocalStack in the background while the workers start,
# collect and run unit tests (the scheduler holds integration tests back until it is settled);
# a first start on a fresh clone installs LocalStack (a minute or two). The outcome goes to
# this file, which the workers wait for before their first integration test.
_STARTUP_FILE_ENV = "PYTEST_LOCALSTACK_STARTUP_FILE"


def _ensure_localstack() -> None:
    """Find or start LocalStack once; remembers the outcome (never raises)."""
    if _Session.url or _Session.error:
        return
    start = _prepare_localstack()
    if start is not None:
        start()


def _prepare_localstack() -> Callable[[], None] | None:
    """Settles everything but the start itself: returns the start, None when there is none."""
    url = endpoint_url()
    # boto3 clients and scripts started by tests find LocalStack through the environment
    os.environ["AWS_ENDPOINT_URL"] = url
    if localstack_health(url) is not None:
        _Session.url = url
        return None
    parsed = urlparse(url)
    if parsed.hostname not in ("127.0.0.1", "localhost") or not parsed.port:
        _Session.error = (f"nothing answers {url}/_localstack/health and it is not a local "
                          "port this session could start LocalStack on")
        return None
    env = dict(os.environ, LOCALSTACK_PORT=str(parsed.port))
    _Session.started_env = env
    return lambda: _start_localstack(url, env)


def _start_localstack(url: str, env: dict[str, str]) -> None:
    started = time.monotonic()
    try:
        proc = subprocess.run([sys.executable, str(HOSTMODE), "up"], env=env, cwd=str(ROOT),
                              capture_output=True, text=True, timeout=STARTUP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        _Session.error = f"`scripts/hostmode.py up` did not finish within {STARTUP_TIMEOUT_S:.0f}s"
        return
    if proc.returncode != 0 or localstack_health(url) is None:
        _Session.error = (f"LocalStack did not come up on {url} (hostmode.py up exit "
                          f"{proc.returncode}):\n{proc.stderr[-4000:]}")
        return
    sys.stderr.write(f"\n[conftest] started host-mode LocalStack on {url} in "
                     f"{time.monotonic() - started:.1f}s\n")
    _Session.url = url


def _start_in_background() -> None:
    """The controller's start: the outcome is written to the startup file when settled."""
    status = Path(tempfile.mkdtemp(prefix="pytest-localstack-")) / "startup.json"
    os.environ[_STARTUP_FILE_ENV] = str(status)  # before the workers start: they inherit it
    start = _prepare_localstack()

    def run() -> None:
        try:
            if start is not None:
                start()
        finally:
            tmp = status.with_suffix(".tmp")
            tmp.write_text(json.dumps({"url": _Session.url, "error": _Session.error}))
            tmp.replace(status)  # whole or absent, never half-written

    _Session.starting = threading.Thread(target=run, name="localstack-start", daemon=True)
    _Session.starting.start()


def _awaits_controller(config: pytest.Config) -> bool:
    """An xdist worker whose controller starts LocalStack in the background."""
    return _is_xdist_worker(config) and bool(os.environ.get(_STARTUP_FILE_ENV))


def localstack_settled() -> bool:
    """Whether the controller's LocalStack is up or failed (True when it starts none)."""
    status = os.environ.get(_STARTUP_FILE_ENV)
    return not status or Path(status).exists()


def _await_controller() -> None:
    """A worker waits for the controller's outcome, then checks LocalStack answers."""
    if _Session.url or _Session.error:
        return
    status = Path(os.environ[_STARTUP_FILE_ENV])
    try:
        polling.wait_until(status.exists, timeout=STARTUP_TIMEOUT_S, interval=0.2,
                           what="the xdist controller's LocalStack start")
    except TimeoutError as e:
        _Session.error = str(e)
        return
    outcome = json.loads(status.read_text())
    if outcome["error"]:
        _Session.error = f"the xdist controller could not start LocalStack: {outcome['error']}"
    else:
        _find_started_localstack()


def _is_xdist_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


def _is_xdist_controller(config: pytest.Config) -> bool:
    return not _is_xdist_worker(config) and bool(getattr(config.option, "numprocesses", None))


def _may_select_integration(config: pytest.Config) -> bool:
    """Whether the xdist controller (which collects nothing itself) may run integration tests."""
    if "not integration" in (config.option.markexpr or ""):
        return False
    paths = [Path(arg.split("::")[0]).resolve() for arg in config.args] or [ROOT / "tests"]
    return any(INTEGRATION_DIR.is_relative_to(p) or p.is_relative_to(INTEGRATION_DIR)
               for p in paths)


def pytest_sessionstart(session: pytest.Session) -> None:
    # With xdist one process owns LocalStack: the controller starts it (in the background)
    # before any worker runs, and stops it after the last one ended (pytest_sessionfinish).
    config = session.config
    if _is_xdist_controller(config) and not config.option.collectonly \
            and _may_select_integration(config):
        _start_in_background()


def pytest_collection_finish(session: pytest.Session) -> None:
    # Start before the first test, so a first-run install (a minute or two) does not count
    # against that test's timeout.
    if not session.config.option.collectonly and any(_is_integration(i) for i in session.items):
        if not _is_xdist_worker(session.config):
            _ensure_localstack()
        elif not _awaits_controller(session.config):
            _find_started_localstack()


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item) -> Iterator[None]:
    # Outside pytest-timeout's timer: waiting for a first-run install is not the test's time.
    if _is_integration(item) and _awaits_controller(item.config):
        _await_controller()
    yield


def _find_started_localstack() -> None:
    """A worker uses the controller's LocalStack; starting one per worker would race."""
    url = endpoint_url()
    os.environ["AWS_ENDPOINT_URL"] = url
    if localstack_health(url) is not None:
        _Session.url = url
    else:
        _Session.error = (f"nothing answers {url}/_localstack/health: the xdist controller "
                          "did not start LocalStack (see its output above)")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if _Session.starting is not None:  # the controller's start (still running if interrupted)
        _Session.starting.join(STARTUP_TIMEOUT_S)
        _Session.starting = None
        shutil.rmtree(Path(os.environ[_STARTUP_FILE_ENV]).parent, ignore_errors=True)
    if _Session.started_env is not None:
        subprocess.run([sys.executable, str(HOSTMODE), "down"], env=_Session.started_env,
                       cwd=str(ROOT), capture_output=True, text=True, timeout=120)
        _Session.started_env = None


@pytest.fixture(scope="session")
def localstack(pytestconfig: pytest.Config) -> str:
    """Endpoint URL of a running LocalStack; started in host mode if nothing answers."""
    if _awaits_controller(pytestconfig):
        _await_controller()
    else:
        _ensure_localstack()
    if _Session.error:
        pytest.fail(_Session.error, pytrace=False)
    assert _Session.url
    return _Session.url


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
    """``polling.wait_until`` for tests: an AssertionError from ``predicate`` counts as "not yet"
    and the last one is re-raised at the deadline; a plain timeout is a test failure too."""
    try:
        return polling.wait_until(predicate, timeout=timeout, interval=interval, what=message)
    except TimeoutError as e:
        raise AssertionError(str(e)) from None


@pytest.fixture(scope="session")
def wait_until() -> Callable[..., Any]:
    """The ``poll_until`` deadline poller as a fixture."""
    return poll_until
