"""Fixtures for serverless.yml deployed by the Serverless Framework (serverless_deploy.py).

The package deploys its own stage (`it<hex>`: stack user-service-it<hex>, table users-it<hex>),
so a developer's `make deploy-serverless` (stage local) is never touched, and removes it at the
end. The first deploy on a fresh clone runs `npm ci` (see the README for its time).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

import deploy
import serverless_deploy as sls
import stack as st

STAGE = f"it{uuid.uuid4().hex[:8]}"
# Runs last in this package: it removes the stack the other tests use.
REMOVE_TEST = "test_serverless_lifecycle.py::test_remove_leaves_nothing_behind"


@dataclass
class SlsStack:
    stage: str
    outputs: dict[str, str]

    @property
    def name(self) -> str:
        return sls.stack_name(self.stage)

    @property
    def api(self) -> str:
        return self.outputs["ApiUrl"]

    @property
    def table(self) -> str:
        return self.outputs["UsersTableName"]

    def function(self, logical_prefix: str) -> str:
        names = [v for k, v in self.outputs.items()
                 if k.startswith(logical_prefix) and k.endswith("LambdaFunctionName")]  # fmt: skip
        assert len(names) == 1, f"{logical_prefix}: no single function in {sorted(self.outputs)}"
        return names[0]

    def http(self, method: str, path: str, body: Any = None, raw: bytes | None = None):
        return st.http(method, f"{self.api}{path}", body=body, raw=raw)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Move the remove test behind the last test of this package (not to the session's end)."""
    ours = [i for i, item in enumerate(items) if "/serverless/" in item.nodeid]
    remove = [item for item in items if item.nodeid.endswith(REMOVE_TEST)]
    if not ours or not remove:
        return
    items.remove(remove[0])
    last = max(i for i, item in enumerate(items) if "/serverless/" in item.nodeid)
    items.insert(last + 1, remove[0])


@pytest.fixture(scope="package")
def sls_stack(localstack: str) -> Iterator[SlsStack]:
    """serverless.yml deployed to this package's own stage; removed after the package."""
    os.environ["AWS_ENDPOINT_URL"] = localstack
    try:
        outputs = sls.deploy(STAGE)
    except deploy.DeployError as e:
        sls.remove(STAGE)
        pytest.fail(f"serverless deploy failed: {e}", pytrace=False)
    outputs.pop("_seconds", None)
    yield SlsStack(stage=STAGE, outputs=outputs)
    sls.remove(STAGE)  # a no-op when the remove test already removed it


@pytest.fixture(scope="package")
def sam_api(localstack: str) -> str:
    """The SAM stack's API (template.yaml through `make deploy-local`'s code; a no-op when
    current), to compare answers with."""
    os.environ["AWS_ENDPOINT_URL"] = localstack
    try:
        outputs = deploy.deploy()
    except deploy.DeployError as e:
        pytest.fail(f"deploy-local failed: {e}", pytrace=False)
    return outputs["ApiUrl"].rstrip("/")


@pytest.fixture
def new_user(sls_stack: SlsStack):
    """Factory: POST /users on the Serverless API; deletes the users it created afterwards."""
    created: list[str] = []

    def create(email: str | None = None, name: str = "Ada Lovelace") -> tuple[int, Any]:
        email = email or f"sls-{uuid.uuid4().hex[:12]}@example.com"
        status, body = sls_stack.http("POST", "/users", {"email": email, "name": name})
        if status == 201:
            created.append(body["user_id"])
        return status, body

    yield create
    ddb = st.client("dynamodb")
    for user_id in created:
        ddb.delete_item(TableName=sls_stack.table, Key={"user_id": {"S": user_id}})
