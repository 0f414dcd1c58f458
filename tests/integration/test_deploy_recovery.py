"""A failed deploy never makes a stack undeployable (issue 7.1), driven through deploy.run on a
small stack of its own: two tiny functions from a temporary SAM template.

1. a good deploy; 2. an update that LocalStack rejects half-way (an environment over Lambda's
4 KB limit, which cfn-lint does not check and AWS rolls back) fails, naming the resource and
Lambda's reason, while the previous version keeps answering; 3. the restored template deploys;
4. so does the next change. An invalid Runtime is rejected before any change to the stack.
An unchanged redeploy is answered by the previous deploy's receipt only while the stack is the
one deployed (issue 10).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import cfn_deploy
import deploy
import deploy_receipt
import stack as st
from artifacts import artifacts_bucket
from leftovers import remove_leftovers

pytestmark = pytest.mark.integration

TEMPLATE = """\
Transform: AWS::Serverless-2016-10-31
Resources:
  AlphaFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: src/
      Handler: app.handler
      Runtime: python3.13
  BetaFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: src/
      Handler: app.handler
      Runtime: {runtime}
      Environment:
        Variables:
          PAD: "{pad}"
Outputs:
  AlphaName:
    Value: !Ref AlphaFunction
  BetaName:
    Value: !Ref BetaFunction
"""
CODE = "def handler(event, context):\n    return {{'version': '{version}'}}\n"


class SmallStack:
    """A uniquely named stack deployed from a template in its own directory."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.name = f"recovery-{uuid.uuid4().hex[:8]}"
        (root / "src").mkdir()

    def write(self, version: str, runtime: str = "python3.13", pad: str = "") -> Path:
        (self.root / "src" / "app.py").write_text(CODE.format(version=version))
        path = self.root / "template.yaml"
        path.write_text(TEMPLATE.format(runtime=runtime, pad=pad))
        return path

    def deploy(self, version: str, **kwargs: str) -> deploy.DeployResult:
        return deploy.run(self.write(version, **kwargs), self.name, hot_reload=False)

    def answers(self, output: str) -> Any:
        lam = st.client("lambda")
        name = st.describe_outputs(self.name)[output]
        response = lam.invoke(FunctionName=name, Payload=b"{}")
        payload = response["Payload"].read().decode()
        assert "FunctionError" not in response, payload
        return payload


@pytest.fixture
def small_stack(tmp_path: Path, localstack: str, monkeypatch: pytest.MonkeyPatch,
                wait_until: Callable[..., Any]) -> Iterator[SmallStack]:
    monkeypatch.setattr(st, "write_outputs", lambda name, outputs: None)  # not the app's file
    s = SmallStack(tmp_path)
    yield s
    cfn = st.client("cloudformation")
    functions = [f["FunctionName"] for f in st.client("lambda").list_functions()["Functions"]
                 if f["FunctionName"].startswith(s.name)]
    cfn.delete_stack(StackName=s.name)
    wait_until(lambda: cfn_deploy.stack_status(s.name) in (None, "DELETE_COMPLETE",
                                                          "DELETE_FAILED"),
               timeout=120, interval=0.2, message=f"{s.name} deleted")
    remove_leftovers(
        [{"ResourceType": "AWS::Lambda::Function", "PhysicalResourceId": f} for f in functions])
    s3 = st.client("s3")
    bucket = artifacts_bucket(s.name)
    for obj in s3.list_objects_v2(Bucket=bucket).get("Contents", []):
        s3.delete_object(Bucket=bucket, Key=obj["Key"])
    s3.delete_bucket(Bucket=bucket)
    deploy_receipt.forget(s.name)


def test_failed_update_keeps_serving_and_the_next_deploys_succeed(small_stack: SmallStack
                                                                   ) -> None:
    # GIVEN a deployed stack serving v1
    assert small_stack.deploy("v1").status == "CREATE_COMPLETE"
    assert "v1" in small_stack.answers("BetaName")

    # WHEN an update fails in LocalStack (Lambda rejects BetaFunction's 5 KB environment)
    with pytest.raises(st.DeployError) as err:
        small_stack.deploy("v2", pad="x" * 5000)

    # THEN the error names the resource and Lambda's own reason, and v1 still answers
    message = str(err.value)
    assert "BetaFunction (AWS::Lambda::Function)" in message, message
    assert "4KB limit" in message, message
    assert "v1" in small_stack.answers("BetaName")
    assert "v1" in small_stack.answers("AlphaName")

    # WHEN the template is restored with a code change, and then changed once more
    restored = small_stack.deploy("v3")
    again = small_stack.deploy("v4")

    # THEN both deploys succeed and serve their code
    assert restored.status in ("CREATE_COMPLETE", "UPDATE_COMPLETE"), restored
    assert again.status == "UPDATE_COMPLETE", again
    assert "v4" in small_stack.answers("BetaName")
    assert "v4" in small_stack.answers("AlphaName")


def test_invalid_runtime_is_rejected_before_the_stack_changes(small_stack: SmallStack) -> None:
    # GIVEN a deployed stack serving v1
    assert small_stack.deploy("v1").status == "CREATE_COMPLETE"

    # WHEN a function gets a Runtime that does not exist
    with pytest.raises(st.DeployError) as err:
        small_stack.deploy("v2", runtime="python9.9")

    # THEN the deploy names the value, the stack was not touched, and the next deploy works
    assert "'python9.9'" in str(err.value), err.value
    assert cfn_deploy.stack_status(small_stack.name) == "CREATE_COMPLETE"
    assert "v1" in small_stack.answers("BetaName")
    assert small_stack.deploy("v3").status == "UPDATE_COMPLETE"
    assert "v3" in small_stack.answers("BetaName")


def test_an_unchanged_redeploy_is_answered_until_the_stack_changes_elsewhere(
        small_stack: SmallStack, monkeypatch: pytest.MonkeyPatch,
        wait_until: Callable[..., Any]) -> None:
    # GIVEN a deployed stack, and the deploy's CloudFormation step counted
    assert small_stack.deploy("v1").status == "CREATE_COMPLETE"
    calls: list[str] = []
    real_deploy_stack = deploy.deploy_stack

    def counted(*args: Any, **kwargs: Any) -> str:
        calls.append(args[0])
        return real_deploy_stack(*args, **kwargs)

    monkeypatch.setattr(deploy, "deploy_stack", counted)
    assert deploy_receipt.session_id(deploy_receipt.LocalStack(deploy.endpoint_url()))

    # WHEN it is deployed again unchanged THEN the receipt answers, CloudFormation is not asked
    again = small_stack.deploy("v1")
    assert (again.status, calls) == ("unchanged", []), again
    assert again.outputs == st.describe_outputs(small_stack.name)

    # WHEN someone updates the stack with UpdateStack (LocalStack 4.14 then keeps its
    # LastUpdatedTime and ChangeSetId) THEN the next deploy asks CloudFormation again
    cfn = st.client("cloudformation")
    body = cfn.get_template(StackName=small_stack.name, TemplateStage="Original")["TemplateBody"]
    template = json.loads(body) if isinstance(body, str) else body
    template["Resources"]["AlphaFunction"]["Properties"]["Timeout"] = 7
    cfn.update_stack(StackName=small_stack.name, TemplateBody=json.dumps(template),
                     Capabilities=["CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"])
    wait_until(lambda: cfn_deploy.stack_status(small_stack.name) == "UPDATE_COMPLETE",
               timeout=120, interval=0.2, message="the foreign update")
    small_stack.deploy("v1")  # (LocalStack's change set may find no change to undo)
    assert calls == [small_stack.name]

    # WHEN the stack is deleted behind the deploy's back THEN the next deploy creates it again
    cfn.delete_stack(StackName=small_stack.name)
    wait_until(lambda: cfn_deploy.stack_status(small_stack.name) in (None, "DELETE_COMPLETE"),
               timeout=120, interval=0.2, message="the stack deleted")
    assert small_stack.deploy("v1").status == "CREATE_COMPLETE"
    assert "v1" in small_stack.answers("BetaName")
    # and an edit of the code is deployed, not answered by the receipt
    assert small_stack.deploy("v2").status == "UPDATE_COMPLETE"
    assert "v2" in small_stack.answers("BetaName")
