"""patches/sfn_task_clients.py's cache (no LocalStack): one client per key within the TTL, a new
one after it, and expired clients are dropped."""

from __future__ import annotations

from types import SimpleNamespace

from localstack_hostmode.patches import sfn_task_clients
from localstack_hostmode.patches.sfn_task_clients import ClientCache


def test_a_client_is_reused_within_its_ttl_and_remade_after() -> None:
    now = [0.0]
    cache = ClientCache(ttl=600, clock=lambda: now[0])
    made: list[tuple] = []

    def make(key: tuple) -> object:
        made.append(key)
        return object()

    first = cache.get(("lambda", "us-east-1", "arn:role/a"), lambda: make(("a",)))
    now[0] = 599.0
    assert cache.get(("lambda", "us-east-1", "arn:role/a"), lambda: make(("a",))) is first
    other = cache.get(("lambda", "us-east-1", "arn:role/b"), lambda: make(("b",)))
    assert other is not first
    now[0] = 600.0
    again = cache.get(("lambda", "us-east-1", "arn:role/a"), lambda: make(("a",)))
    assert again is not first
    assert made == [("a",), ("b",), ("a",)]
    now[0] = 5000.0
    cache.get(("sqs", "us-east-1", "arn:role/a"), lambda: make(("c",)))
    assert list(cache.clients) == [("sqs", "us-east-1", "arn:role/a")]  # the expired are gone


def test_the_patched_function_keys_on_service_region_and_role(monkeypatch) -> None:
    monkeypatch.setattr(sfn_task_clients, "CACHE", ClientCache())
    calls: list[tuple] = []

    def boto_client_for(service: str, region: str, creds: SimpleNamespace) -> tuple:
        calls.append((service, region, creds.role_arn))
        return (service, region, creds.role_arn, len(calls))

    role = SimpleNamespace(role_arn="arn:aws:iam::000000000000:role/sfn")
    a = sfn_task_clients._cached_client(boto_client_for, "lambda", "us-east-1", role)
    b = sfn_task_clients._cached_client(boto_client_for, "lambda", "us-east-1",
                                        SimpleNamespace(role_arn=role.role_arn))
    c = sfn_task_clients._cached_client(boto_client_for, "lambda", "eu-west-1", role)
    assert a is b and c != a and len(calls) == 2
