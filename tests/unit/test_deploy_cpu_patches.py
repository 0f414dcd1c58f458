"""Patches that cut LocalStack's CPU in a full deploy (no LocalStack): protocol_parser_cache's
cache (one parser per model content), werkzeug_lazy_builders (a rule builds URLs as before,
its builders compiled on the first build) and lambda_log_shipping's lazy client."""

from __future__ import annotations

import queue
import threading
import time

import pytest
from werkzeug.routing import Map, Rule
from werkzeug.routing.rules import Rule as RuleClass

from localstack_hostmode.patches import lambda_log_shipping as shipping
from localstack_hostmode.patches.protocol_parser_cache import ParserCache
from localstack_hostmode.patches.werkzeug_lazy_builders import lazy_compile_builder

# --- protocol_parser_cache -------------------------------------------------------------------


class Model:
    """A botocore ServiceModel's parts the cache reads."""

    def __init__(self, description: dict, name: str = "lambda") -> None:
        self._service_description = description
        self.service_name = name


def counting_build() -> tuple[list, ParserCache]:
    built: list = []

    def build(service, protocol):
        built.append((service, protocol))
        return object()

    return built, ParserCache(build)


def test_models_of_one_description_share_a_parser() -> None:
    built, cache = counting_build()
    description = {"operations": {}}
    # two clients' models of the same (shared) description: one parser
    first = cache(Model(description), "rest-json")
    assert cache(Model(description), "rest-json") is first
    assert len(built) == 1
    # another protocol, another service name or another description: parsers of their own
    assert cache(Model(description), None) is not first
    assert cache(Model(description, "lambda-alt"), "rest-json") is not first
    assert cache(Model({"operations": {}}), "rest-json") is not first
    assert len(built) == 4


def test_a_model_without_description_is_built_each_time() -> None:
    built, cache = counting_build()
    cache(object(), "json")
    cache(object(), "json")
    assert len(built) == 2


def test_a_reused_id_never_returns_another_descriptions_parser() -> None:
    built, cache = counting_build()
    cache.size = 1
    a = {"a": 1}
    parser_a = cache(Model(a), "json")
    cache(Model({"b": 2}), "json")  # evicts a's entry (size 1): a rebuilt below
    assert cache(Model(a), "json") is not parser_a
    assert len(built) == 3 and len(cache._entries) == 1


def test_concurrent_first_requests_build_one_parser() -> None:
    calls = []

    def slow_build(service, protocol):
        calls.append(1)
        time.sleep(0.05)
        return object()

    cache = ParserCache(slow_build)
    description = {}
    results = []
    threads = [threading.Thread(target=lambda: results.append(cache(Model(description), "q")))
               for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1 and len({id(r) for r in results}) == 1


# --- werkzeug_lazy_builders ------------------------------------------------------------------


@pytest.fixture
def lazy_rules(monkeypatch):
    """werkzeug's Rule._compile_builder behind the patch's stand-in; the compilations counted."""
    original = RuleClass._compile_builder
    compiled = []

    def counted(rule, append_unknown=True):
        compiled.append(rule.rule)
        return original(rule, append_unknown)

    monkeypatch.setattr(RuleClass, "_compile_builder",
                        lambda self, append_unknown=True:
                        lazy_compile_builder(counted, self, append_unknown))
    return compiled


def test_rules_match_without_compiling_builders(lazy_rules) -> None:
    url_map = Map([Rule("/2015-03-31/functions/<name>", endpoint="get_function"),
                   Rule("/restapis/<api_id>/<stage>/_user_request_/<path:rest>", endpoint="api")])
    adapter = url_map.bind("localhost")
    assert adapter.match("/2015-03-31/functions/fn") == ("get_function", {"name": "fn"})
    assert adapter.match("/restapis/a/dev/_user_request_/x/y")[1]["rest"] == "x/y"
    assert lazy_rules == []


def test_url_building_is_unchanged_and_compiles_once(lazy_rules) -> None:
    url_map = Map([Rule("/items/<int:item>", endpoint="item", defaults={"page": 1}),
                   Rule("/items/<int:item>/<int:page>", endpoint="item")])
    adapter = url_map.bind("localhost")
    assert adapter.build("item", {"item": 3}) == "/items/3"
    assert adapter.build("item", {"item": 3, "page": 2}) == "/items/3/2"
    assert adapter.build("item", {"item": 3, "q": "a b"}) == "/items/3?q=a+b"
    built = list(lazy_rules)
    assert adapter.build("item", {"item": 4}) == "/items/4"
    assert lazy_rules == built  # each builder compiled once, then reused


# --- lambda_log_shipping: the client is made at the first shipment ---------------------------


def test_the_log_thread_makes_its_client_at_the_first_shipment(monkeypatch) -> None:
    import sys
    import types

    shutdown = object()
    upstream = types.SimpleNamespace(QUEUE_SHUTDOWN=shutdown)
    pkg = "localstack.services.lambda_.invocation"
    for name in ("localstack", "localstack.services", "localstack.services.lambda_", pkg):
        monkeypatch.setitem(sys.modules, name, sys.modules.get(name) or types.ModuleType(name))
    monkeypatch.setitem(sys.modules, f"{pkg}.logs", upstream)
    monkeypatch.setattr(sys.modules[pkg], "logs", upstream, raising=False)
    monkeypatch.setattr(shipping, "BATCH_WINDOW_S", 0.01)
    made, shipped = [], []

    class Client:
        def put_log_events(self, **kw):
            shipped.append(kw["logEvents"])

    monkeypatch.setattr(shipping, "_logs_client", lambda handler: made.append(1) or Client())
    handler = types.SimpleNamespace(log_queue=queue.Queue(), region="us-east-1", role_arn="r",
                                    _shutdown_event=threading.Event())

    # a version that is stopped without an invoke makes no client
    handler.log_queue.put(shutdown)
    shipping._run_log_loop(None, handler)
    assert made == []

    # one that logs makes it once, for every shipment
    item = types.SimpleNamespace(logs="START\nEND\n", log_group="/aws/lambda/f", log_stream="s")
    for entry in ((item, 1), (item, 2), shutdown):
        handler.log_queue.put(entry)
    shipping._run_log_loop(None, handler)
    assert made == [1] and sum(len(events) for events in shipped) == 4
