"""Fixtures shared by the integration tests (tests/conftest.py provides `localstack`,
`aws_client` and `wait_until`).

The executor fixtures deploy functions from tests/integration/executor_functions/ through
executor_helpers.FunctionFactory: unique names, deleted with their log groups after the test
(`make_function`) or after the module (`module_functions`, `probe`).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from dynamodb_helpers import delete_quietly, unique
from executor_helpers import FunctionFactory, invoke, lambda_sandbox


@pytest.fixture(scope="session")
def lam(aws_client: Callable[..., Any]) -> Any:
    """A boto3 Lambda client bound to LocalStack."""
    return aws_client("lambda")


@pytest.fixture(scope="session")
def lambda_role(aws_client: Callable[..., Any]) -> str:
    """A role ARN for test functions (LocalStack does not check that the role exists)."""
    account = aws_client("sts").get_caller_identity()["Account"]
    return f"arn:aws:iam::{account}:role/executor-test-role"


@pytest.fixture
def make_function(lam: Any, lambda_role: str, aws_client: Callable[..., Any]
                  ) -> Iterator[FunctionFactory]:
    """``make_function(handler=..., **create_function_kwargs)`` -> the name of an Active
    function, deleted with its log group after the test."""
    factory = FunctionFactory(lam, lambda_role, aws_client("logs"))
    yield factory
    factory.cleanup()


@pytest.fixture(scope="module")
def module_functions(lam: Any, lambda_role: str, aws_client: Callable[..., Any]
                     ) -> Iterator[FunctionFactory]:
    """Like ``make_function``, for functions shared by a module's tests (deleted after it)."""
    factory = FunctionFactory(lam, lambda_role, aws_client("logs"))
    yield factory
    factory.cleanup()


@pytest.fixture(scope="module")
def probe(module_functions: FunctionFactory, lam: Any) -> str:
    """A shared probe function; skips the module unless LocalStack runs our executor."""
    name = module_functions(
        Environment={"Variables": {"MY_SETTING": "from-function-config"}}, Timeout=10
    )
    result = invoke(lam, name, {"action": "info"})
    assert result.function_error is None, result.raw
    runtime_dir = result.payload["env"].get("LAMBDA_RUNTIME_DIR", "")
    # our sandbox mounts the runtime at /var/runtime too, and the host's interpreter (AWS's
    # images have theirs in /var/lang)
    sandboxed = (runtime_dir == "/var/runtime" and lambda_sandbox() == "bwrap"
                 and not result.payload["executable"].startswith("/var/lang/"))
    if not sandboxed and not runtime_dir.endswith(os.path.join("localstack_hostmode", "runtime")):
        pytest.skip(f"LocalStack does not run the local-process executor ({runtime_dir=})")
    return name


# ----------------------------------------------------------------------------- DynamoDB


@pytest.fixture
def ddb(aws_client: Callable[..., Any]) -> Any:
    return aws_client("dynamodb")


@pytest.fixture
def table_names(ddb: Any) -> Iterator[list[str]]:
    """Names of the tables a test creates itself; each is deleted after the test."""
    names: list[str] = []
    yield names
    for name in names:
        delete_quietly(ddb, name)


@pytest.fixture
def make_table(ddb: Any, table_names: list[str]) -> Callable[..., str]:
    """``make_table(**create_table_kwargs)`` -> name of a new table, deleted after the test."""

    def factory(**kwargs: Any) -> str:
        name = kwargs.pop("TableName", None) or unique("test-ddb")
        kwargs.setdefault("BillingMode", "PAY_PER_REQUEST")
        ddb.create_table(TableName=name, **kwargs)
        table_names.append(name)
        ddb.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 0.2,
                                                                          "MaxAttempts": 50})
        return name

    return factory
