"""patches/sfn_lambda_in_memory.py (no LocalStack): a Lambda client is short-circuited once,
however often the cache hands it out; other services' clients are left alone."""

from __future__ import annotations

from types import SimpleNamespace

from localstack_hostmode.patches import sfn_lambda_in_memory as patch


def test_a_cached_client_is_short_circuited_once() -> None:
    client, modified = SimpleNamespace(), []
    for _ in range(3):
        assert patch.short_circuit_once(client, modified.append) is client
    assert modified == [client]


def test_only_lambda_clients_go_in_memory(monkeypatch) -> None:
    modified: list[object] = []
    monkeypatch.setattr(patch, "_modify", modified.append)
    clients = {"lambda": SimpleNamespace(), "sqs": SimpleNamespace()}
    creds = SimpleNamespace(role_arn="arn:aws:iam::000000000000:role/sfn")
    for service in ("lambda", "sqs", "lambda"):
        got = patch._lambda_in_memory(lambda s, r, c: clients[s], service, "us-east-1", creds)
        assert got is clients[service]
    assert modified == [clients["lambda"]]
