"""The deploy validates the template (cfn-lint, SAM translation included) before any AWS call,
and says which file, line and rule an error is; a stack that was deployed is never deleted."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import cfn_deploy
import deploy
import leftovers
import stack as st
import template_check

VALID = """\
AWSTemplateFormatVersion: '2010-09-09'
Transform: AWS::Serverless-2016-10-31
Resources:
  HelloFunction:
    Type: AWS::Serverless::Function
    Properties: {Handler: index.handler, Runtime: python3.13, InlineCode: "def handler(e, c): 1"}
"""


@pytest.fixture
def no_aws(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[str]:
    """Every AWS client the deploy asks for is recorded and fails the call."""
    asked: list[str] = []

    def client(service: str, **_: Any) -> Any:
        asked.append(service)
        raise AssertionError(f"AWS client {service!r} requested before validation failed")

    monkeypatch.setattr(st, "client", client)
    monkeypatch.setattr(template_check, "CACHE_DIR", tmp_path / "check-cache")
    return asked


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "template.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("broken", "expected"),
    [
        # a YAML syntax error: file:line and the parser's message, no traceback
        (VALID.replace("{Handler: index.handler,", "{Handler: [index.handler,"),
         ["template.yaml:6:", "E0000"]),
        # a resource type AWS does not have (LocalStack would only warn)
        (VALID + "  Mystery:\n    Type: AWS::Foo::Bar\n",
         ["template.yaml:8:", "E3006", "AWS::Foo::Bar"]),
        # a Runtime Lambda does not have (LocalStack fails half-way through an update)
        (VALID.replace("python3.13", "python9.9"), ["E3030", "'python9.9'"]),
    ],
    ids=["yaml-syntax", "unknown-type", "invalid-runtime"],
)
def test_invalid_template_is_rejected_readably_before_any_aws_call(
    tmp_path: Path, no_aws: list[str], broken: str, expected: list[str]
) -> None:
    # GIVEN a broken template
    path = write(tmp_path, broken)

    # WHEN it is deployed
    with pytest.raises(st.DeployError) as err:
        deploy.run(path, "validation-test", hot_reload=False)

    # THEN the error says where and what, in a few lines, and nothing reached AWS
    message = str(err.value)
    assert all(part in message for part in expected), message
    assert "Traceback" not in message and len(message.splitlines()) <= 3, message
    assert no_aws == []


def test_a_valid_template_is_checked_once_per_content(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(template_check, "CACHE_DIR", tmp_path / "check-cache")
    path = write(tmp_path, VALID)
    calls: list[Path] = []
    real = template_check.template_errors
    monkeypatch.setattr(template_check, "template_errors",
                        lambda p, r="us-east-1": calls.append(p) or real(p, r))

    template_check.check_template(path)
    template_check.check_template(path)  # unchanged: no second cfn-lint run
    assert len(calls) == 1
    path.write_text(VALID.replace("c): 1", "c): 2"))
    template_check.check_template(path)
    assert len(calls) == 2


@pytest.mark.parametrize(
    ("deployed_before", "deleted"),
    [(True, False), (False, True)],
    ids=["failed-update-is-kept", "failed-create-is-recreated"],
)
def test_rollback_complete_stack_is_deleted_only_if_it_never_deployed(
    monkeypatch: pytest.MonkeyPatch, deployed_before: bool, deleted: bool
) -> None:
    # GIVEN a stack LocalStack reports as ROLLBACK_COMPLETE, with or without a past success
    deletes: list[str] = []
    monkeypatch.setattr(cfn_deploy, "stack_status", lambda name: "ROLLBACK_COMPLETE")
    monkeypatch.setattr(cfn_deploy, "ever_deployed", lambda name: deployed_before)
    monkeypatch.setattr(cfn_deploy, "recreate_from_scratch", deletes.append)
    monkeypatch.setattr(cfn_deploy, "lost_resources", lambda name: [])

    # WHEN the deploy settles it before its change set
    status = cfn_deploy._settled_status("s")

    # THEN only a stack that never deployed is deleted (and then created again)
    assert (deletes == ["s"]) is deleted
    assert status == (None if deleted else "ROLLBACK_COMPLETE")


def test_failed_update_that_lost_a_resource_recreates_without_leftovers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # GIVEN a failed update after which LocalStack keeps no properties for one function
    calls: list[str] = []
    resources = [
        {"LogicalResourceId": "Alpha", "ResourceType": "AWS::Lambda::Function",
         "PhysicalResourceId": "s-alpha"},
        {"ResourceType": "AWS::Lambda::EventSourceMapping", "PhysicalResourceId": "uuid-1"},
        {"ResourceType": "AWS::IAM::Role", "PhysicalResourceId": "s-role"},
    ]
    monkeypatch.setattr(cfn_deploy, "stack_status", lambda name: "ROLLBACK_COMPLETE")
    monkeypatch.setattr(cfn_deploy, "ever_deployed", lambda name: True)
    monkeypatch.setattr(cfn_deploy, "lost_resources", lambda name: resources[:1])
    monkeypatch.setattr(cfn_deploy, "all_resources", lambda name: resources)
    monkeypatch.setattr(cfn_deploy, "delete_stack", lambda name: calls.append(f"delete {name}"))
    monkeypatch.setitem(leftovers.DELETERS, "AWS::Lambda::Function",
                        lambda pid: calls.append(f"function {pid}"))
    monkeypatch.setitem(leftovers.DELETERS, "AWS::Lambda::EventSourceMapping",
                        lambda pid: calls.append(f"mapping {pid}"))

    # WHEN the next deploy settles the stack
    status = cfn_deploy._settled_status("s")

    # THEN the stack is deleted, then what LocalStack's deletion left (mappings first)
    assert calls == ["delete s", "mapping uuid-1", "function s-alpha"]
    assert status is None


def test_failed_resource_reason_comes_from_localstack_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN LocalStack's log with the service error behind a generic CloudFormation event
    run_dir = tmp_path / "run" / "4999"
    run_dir.mkdir(parents=True)
    (run_dir / "localstack.log").write_text(
        "2026-12-01T07:15:29.154  WARN --- [thread] l.s.c.deployment_utils     : Unexpected "
        "error processing resource type AWS::Lambda::Function: Exception: An error occurred "
        "(InvalidParameterValueException) when calling the UpdateFunctionConfiguration "
        "operation: Value python9.9 at 'runtime' failed - {'Code': {}} - status: None\n"
        # what LocalStack's rollback of that update logs next about the same resource
        "2026-12-01T07:15:29.700  WARN --- [thread] l.s.c.deployment_utils     : Unexpected "
        "error processing resource type AWS::Lambda::Function: Exception: 'FunctionName' - "
        "{'Code': {}}\n"
    )
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:4999")
    monkeypatch.setattr(cfn_deploy.contract, "run_dir_for", lambda port: tmp_path / "run" / "4999")
    since = cfn_deploy.datetime.fromisoformat("2026-12-01T07:15:00").timestamp()

    causes = cfn_deploy.localstack_log_causes(since)
    event = {"LogicalResourceId": "BetaFunction", "ResourceType": "AWS::Lambda::Function",
             "ResourceStatusReason": "Failed to delete resource with id BetaFunction of type "
                                     "AWS::Lambda::Function"}

    line = cfn_deploy.describe_failure(event, causes)
    assert line.startswith("BetaFunction (AWS::Lambda::Function): ")
    assert "InvalidParameterValueException" in line and "python9.9" in line
    assert "{'Code'" not in line
    assert cfn_deploy.localstack_log_causes(since + 3600) == {}


def test_a_restored_deployment_still_gets_its_outputs_rewritten(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN an update that failed and was restored by recreating the stack (a new API id)
    finished: list[str] = []
    for name, value in {"check_template": lambda *a: None, "load_template": lambda p: {},
                        "ensure_bucket": lambda b: None, "stack_parameters": lambda t, a: [],
                        "finish": finished.append}.items():
        monkeypatch.setattr(deploy, name, value)

    def restored(*args: Any, **kwargs: Any) -> str:
        raise cfn_deploy.RestoredError("update failed\nthe previous deployment was restored")

    monkeypatch.setattr(deploy, "deploy_stack", restored)

    # WHEN the deploy reports the failure
    with pytest.raises(cfn_deploy.RestoredError):
        deploy.run(write(tmp_path, VALID), "s", hot_reload=False)

    # THEN the outputs (ApiUrl) and the wiring were refreshed first
    assert finished == ["s"]
