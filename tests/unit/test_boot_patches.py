"""The boot patches runtime_ready_poll, openapi_validation_lazy and botocore_shared_models (no
LocalStack needed: a fake ``localstack.config``, a fake upstream module, botocore's real Loader)."""

from __future__ import annotations

import importlib
import sys
import threading
import types
from typing import Any

import pytest
from botocore.loaders import Loader

from localstack_hostmode.patches import botocore_shared_models, runtime_ready_poll
from localstack_hostmode.patches import openapi_validation_lazy as lazy

# --- runtime_ready_poll ---------------------------------------------------------------------


@pytest.fixture
def fake_gateway_wait(monkeypatch: pytest.MonkeyPatch) -> types.SimpleNamespace:
    """Fake ``localstack.utils.net``/``sync``: the port opens on the ``opens_at``-th look
    (None: never); records the polls and upstream's wait."""
    state = types.SimpleNamespace(opens_at=3, looks=[], polls=[], upstream=[])

    def is_port_open(port: int) -> bool:
        state.looks.append(port)
        return state.opens_at is not None and len(state.looks) >= state.opens_at

    def poll_condition(condition: Any, timeout: float, interval: float) -> bool:
        state.polls.append((timeout, interval))
        return any(condition() for _ in range(5))  # five looks, then "timed out"

    net = types.SimpleNamespace(is_port_open=is_port_open)
    sync = types.SimpleNamespace(poll_condition=poll_condition)
    for name, module in (("localstack", types.SimpleNamespace()),
                         ("localstack.utils", types.SimpleNamespace(net=net, sync=sync)),
                         ("localstack.utils.net", net), ("localstack.utils.sync", sync)):
        monkeypatch.setitem(sys.modules, name, module)
    return state


def _runtime(port: int) -> Any:
    listen = types.SimpleNamespace(port=port)
    return types.SimpleNamespace(config=types.SimpleNamespace(GATEWAY_LISTEN=[listen]))


def test_gateway_wait_polls_the_port_every_20_ms_within_upstreams_limit(
        fake_gateway_wait: Any) -> None:
    runtime_ready_poll._wait_for_gateway_fast(fake_gateway_wait.upstream.append, _runtime(4599))

    assert fake_gateway_wait.polls == [(15.0, 0.02)]
    assert fake_gateway_wait.looks == [4599, 4599, 4599]
    assert fake_gateway_wait.upstream == []  # open: upstream's 0.3 s wait is not run


def test_gateway_wait_falls_back_to_upstreams_wait_and_its_error(fake_gateway_wait: Any) -> None:
    fake_gateway_wait.opens_at = None

    runtime_ready_poll._wait_for_gateway_fast(fake_gateway_wait.upstream.append, _runtime(4599))

    assert len(fake_gateway_wait.looks) == 5
    assert len(fake_gateway_wait.upstream) == 1


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


# --- botocore_shared_models -----------------------------------------------------------------


class CountingModelLoader(Loader):
    """botocore's Loader, counting the service lists and models it builds (what the patch
    wraps)."""

    built: list[str] = []

    def list_available_services(self, type_name: str) -> list[str]:
        CountingModelLoader.built.append(f"list {type_name}")
        return super().list_available_services(type_name)

    def load_service_model(self, service_name: str, type_name: str,
                           api_version: str | None = None) -> Any:
        CountingModelLoader.built.append(f"{service_name} {type_name}")
        return super().load_service_model(service_name, type_name, api_version)


@pytest.fixture
def fresh_model_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(botocore_shared_models, "_cache", {})
    CountingModelLoader.built = []


def _model(loader: Loader, service: str, type_name: str = "service-2") -> Any:
    return botocore_shared_models.load_service_model_shared(
        CountingModelLoader.load_service_model, loader, service, type_name)


def _models_built() -> list[str]:
    return [b for b in CountingModelLoader.built if not b.startswith("list ")]


def _services(loader: Loader) -> list[str]:
    return botocore_shared_models.list_available_services_shared(
        CountingModelLoader.list_available_services, loader, "service-2")


@pytest.mark.usefixtures("fresh_model_cache")
def test_a_service_model_is_built_once_for_every_new_loader() -> None:
    first, second = CountingModelLoader(), CountingModelLoader()

    model = _model(first, "s3")
    assert _model(second, "s3") is model
    assert model["metadata"]["endpointPrefix"] == "s3"
    assert _models_built() == ["s3 service-2"]


@pytest.mark.usefixtures("fresh_model_cache")
def test_other_search_paths_and_other_model_types_are_not_shared() -> None:
    default, extra = CountingModelLoader(), CountingModelLoader(extra_search_paths=["/nonexistent"])

    assert _model(default, "sqs") is not _model(extra, "sqs")
    _model(default, "sqs", "paginators-1")
    _model(extra, "sqs", "paginators-1")
    assert CountingModelLoader.built.count("sqs paginators-1") == 2


@pytest.mark.usefixtures("fresh_model_cache")
def test_the_service_list_is_built_once_and_copied_for_each_caller() -> None:
    first, second = CountingModelLoader(), CountingModelLoader()

    services = _services(first)
    again = _services(second)
    assert services == again and services is not again and "dynamodb" in services
    assert CountingModelLoader.built == ["list service-2"]


@pytest.mark.usefixtures("fresh_model_cache")
def test_concurrent_first_loads_build_one_model() -> None:
    loaders = [CountingModelLoader() for _ in range(4)]
    results: list[Any] = []
    threads = [threading.Thread(target=lambda loader=loader: results.append(_model(loader, "ses")))
               for loader in loaders]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(results) == 4 and all(r is results[0] for r in results)
    assert _models_built() == ["ses service-2"]


@pytest.mark.usefixtures("fresh_model_cache")
def test_an_endpoint_rule_set_is_shared_too() -> None:
    first, second = CountingModelLoader(), CountingModelLoader()

    rules = _model(first, "s3", "endpoint-rule-set-1")
    assert _model(second, "s3", "endpoint-rule-set-1") is rules and "rules" in rules
    assert _models_built() == ["s3 endpoint-rule-set-1"]
