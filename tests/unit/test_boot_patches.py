"""The boot patches runtime_ready_poll and openapi_validation_lazy (no LocalStack needed: a fake
``localstack.config`` and a fake upstream module)."""

from __future__ import annotations

import importlib
import sys
import threading
import time
import types
from typing import Any

import pytest

from localstack_hostmode.patches import openapi_validation_lazy as lazy
from localstack_hostmode.patches import runtime_ready_poll

# --- runtime_ready_poll ---------------------------------------------------------------------


def test_poll_until_returns_soon_after_the_condition_holds() -> None:
    opened = threading.Event()
    threading.Timer(0.1, opened.set).start()
    t0 = time.monotonic()

    assert runtime_ready_poll.poll_until(opened.is_set, timeout=5)
    assert time.monotonic() - t0 < 0.1 + 0.2  # upstream's 0.3 s poll could take up to 0.4


def test_poll_until_gives_up_after_the_timeout() -> None:
    t0 = time.monotonic()

    assert not runtime_ready_poll.poll_until(lambda: False, timeout=0.1)
    assert time.monotonic() - t0 >= 0.1


# --- openapi_validation_lazy ----------------------------------------------------------------


@pytest.fixture
def fake_localstack(monkeypatch: pytest.MonkeyPatch) -> types.SimpleNamespace:
    """``from localstack import config`` gets this config; the upstream module is a fake that
    records the requests its handlers get."""
    config = types.SimpleNamespace(OPENAPI_VALIDATE_REQUEST=False, OPENAPI_VALIDATE_RESPONSE=False)
    monkeypatch.setitem(sys.modules, "localstack", types.SimpleNamespace(config=config))
    seen: list[tuple[str, Any]] = []

    class Upstream:
        def __init__(self, kind: str) -> None:
            self.kind = kind

        def __call__(self, chain: Any, context: Any, response: Any) -> None:
            seen.append((self.kind, context))

    upstream = types.SimpleNamespace(
        OpenAPIRequestValidator=lambda: Upstream("request"),
        OpenAPIResponseValidator=lambda: Upstream("response"),
        LOG="upstream's LOG")
    monkeypatch.setattr(lazy, "_upstream", {"module": upstream})
    return types.SimpleNamespace(config=config, seen=seen)


def test_handlers_do_nothing_while_validation_is_off(fake_localstack: Any) -> None:
    lazy.OpenAPIRequestValidator()(None, "ctx", None)
    lazy.OpenAPIResponseValidator()(None, "ctx", None)

    assert fake_localstack.seen == []


def test_handlers_hand_over_to_upstream_once_the_flag_is_on(fake_localstack: Any) -> None:
    request, response = lazy.OpenAPIRequestValidator(), lazy.OpenAPIResponseValidator()
    fake_localstack.config.OPENAPI_VALIDATE_REQUEST = True

    request(None, "ctx1", None)
    response(None, "ctx1", None)
    fake_localstack.config.OPENAPI_VALIDATE_RESPONSE = True
    response(None, "ctx2", None)

    assert fake_localstack.seen == [("request", "ctx1"), ("response", "ctx2")]


def test_the_finder_serves_the_stand_in_for_that_module_only(
    monkeypatch: pytest.MonkeyPatch, fake_localstack: Any
) -> None:
    monkeypatch.setattr(sys, "meta_path", [lazy.FINDER, *sys.meta_path])
    monkeypatch.delitem(sys.modules, lazy.MODULE, raising=False)
    handlers = types.ModuleType("localstack.aws.handlers")
    handlers.__path__ = []  # a package
    monkeypatch.setitem(sys.modules, "localstack.aws.handlers", handlers)

    module = importlib.import_module(lazy.MODULE)
    try:
        assert module.OpenAPIRequestValidator is lazy.OpenAPIRequestValidator
        assert module.OpenAPIResponseValidator is lazy.OpenAPIResponseValidator
        assert module.LOG == "upstream's LOG"  # any other name: upstream's
        assert lazy.FINDER.find_spec("localstack.aws.handlers.other") is None
    finally:
        sys.modules.pop(lazy.MODULE, None)


@pytest.mark.parametrize(("environ", "requested"), [
    ({}, False),
    ({"OPENAPI_VALIDATE_REQUEST": "0"}, False),
    ({"OPENAPI_VALIDATE_REQUEST": "1"}, True),
    ({"OPENAPI_VALIDATE_RESPONSE": "true"}, True),
])
def test_validation_requested_reads_localstack_s_flags(environ: dict, requested: bool) -> None:
    assert lazy.validation_requested(environ) is requested


def test_apply_stays_out_of_the_way_when_validation_is_wanted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sys, "meta_path", list(sys.meta_path))
    monkeypatch.setenv("OPENAPI_VALIDATE_REQUEST", "1")

    lazy.apply()

    assert lazy.FINDER not in sys.meta_path
    monkeypatch.delenv("OPENAPI_VALIDATE_REQUEST")
    monkeypatch.delenv("OPENAPI_VALIDATE_RESPONSE", raising=False)
    monkeypatch.delitem(sys.modules, lazy.MODULE, raising=False)
    lazy.apply()
    assert sys.meta_path[0] is lazy.FINDER
