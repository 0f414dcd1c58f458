"""`serverless remove` that exits non-zero while CloudFormation still deletes the stack
(LocalStack reports DELETE_FAILED for one resource and goes on with the others)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import serverless_deploy as sls
from stack import DeployError


class FakeCloudFormation:
    def describe_stack_resources(self, StackName: str) -> dict[str, Any]:
        return {"StackResources": []}


@pytest.fixture
def failing_framework(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[str]:
    deleted: list[str] = []
    monkeypatch.setattr(sls, "outputs_file", lambda stage: tmp_path / f"outputs-{stage}.json")
    monkeypatch.setattr(sls, "stack_exists", lambda name: True)
    monkeypatch.setattr(sls, "ensure_cli", lambda: None)
    monkeypatch.setattr(sls.st, "client", lambda service: FakeCloudFormation())
    monkeypatch.setattr(sls, "run_framework", lambda *args: 1)
    monkeypatch.setattr(sls.endpoint, "is_local", lambda endpoint=None: True)
    monkeypatch.setattr(sls, "delete_stack", deleted.append)
    return deleted


def test_a_stack_cloudformation_goes_on_deleting_is_removed(
        failing_framework: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sls, "wait_deleted", lambda name: None)

    assert sls.remove("s1") == "stack user-service-s1 removed"
    assert failing_framework == []  # no second deletion of a stack that is gone


def test_a_stack_that_stays_delete_failed_is_deleted_again(
        failing_framework: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sls, "wait_deleted", lambda name: "DELETE_FAILED")

    assert sls.remove("s1") == "stack user-service-s1 removed"
    assert failing_framework == ["user-service-s1"]


def test_a_stack_that_cannot_be_deleted_is_an_error(
        failing_framework: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sls, "wait_deleted", lambda name: "DELETE_FAILED")

    def still_failing(name: str) -> None:
        raise DeployError(f"could not delete stack {name}: DELETE_FAILED")

    monkeypatch.setattr(sls, "delete_stack", still_failing)

    with pytest.raises(DeployError, match="serverless remove exited 1.*could not delete"):
        sls.remove("s1")


def test_against_aws_a_failed_remove_is_an_error_with_no_local_fallback(
        failing_framework: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sls.endpoint, "is_local", lambda endpoint=None: False)
    waited: list[str] = []
    monkeypatch.setattr(sls, "wait_deleted", waited.append)
    monkeypatch.setattr(sls, "sweep", lambda resources: pytest.fail("swept on AWS"))

    with pytest.raises(DeployError, match="serverless remove exited 1"):
        sls.remove("s1")
    assert waited == [] and failing_framework == []
