"""The launcher reads LocalStack's own config names from the installed source, without importing
LocalStack: they pass into its sealed environment (tests/unit/lambda_runtime/
test_sealed_environment.py covers the parsing)."""

from __future__ import annotations

from launcher import config


def test_the_installed_localstacks_config_names_are_found(localstack: str) -> None:
    names = config.localstack_config_names()
    assert {"DEBUG", "GATEWAY_LISTEN", "LAMBDA_RUNTIME_EXECUTOR"} <= names
