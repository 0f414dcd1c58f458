"""A failed Serverless deploy keeps the previous one serving; remove leaves nothing behind."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

import serverless_deploy as sls
import stack as st

from .conftest import SlsStack

pytestmark = pytest.mark.integration

SCRIPT = st.ROOT / "scripts" / "serverless_deploy.py"
# A table whose key is not among its attribute definitions: DynamoDB (and so CloudFormation)
# refuses it during the update, after the Framework has uploaded and started the deploy.
BROKEN_RESOURCE = """
    BrokenTable:
      Type: AWS::DynamoDB::Table
      Properties:
        TableName: broken-${self:provider.stage}
        BillingMode: PAY_PER_REQUEST
        AttributeDefinitions:
          - AttributeName: id
            AttributeType: S
        KeySchema:
          - AttributeName: not_defined
            KeyType: HASH
"""


def broken_service_dir(tmp_path: Path) -> Path:
    """serverless.yml plus a failing resource, in a service dir of its own that shares the
    project's node_modules, build output and local plugin."""
    original = (st.ROOT / "serverless.yml").read_text()
    anchor = "resources:\n  Resources:\n"
    assert anchor in original
    (tmp_path / "serverless.yml").write_text(original.replace(anchor, anchor + BROKEN_RESOURCE))
    for shared in ("node_modules", ".build", "scripts"):
        (tmp_path / shared).symlink_to(st.ROOT / shared)
    return tmp_path


def test_failed_deploy_prints_the_error_and_keeps_serving(
    sls_stack: SlsStack, new_user, tmp_path: Path
) -> None:
    # GIVEN a user served by the current deployment
    status, user = new_user()
    assert status == 201, user

    # WHEN a broken configuration is deployed to the same stage
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "deploy", "--stage", sls_stack.stage,
         "--service-dir", str(broken_service_dir(tmp_path))],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    output = proc.stdout + proc.stderr

    # THEN it fails, showing the Framework's error and the failing resource
    assert proc.returncode != 0, output
    assert "BrokenTable" in output, output
    assert "deploy failed: serverless deploy exited" in output, output

    # AND the previous deployment still answers
    status, got = sls_stack.http("GET", f"/users/{user['user_id']}")
    assert status == 200, got
    status, created = new_user()
    assert status == 201, created
    # AND the failed resource was not left behind
    tables = st.client("dynamodb").list_tables()["TableNames"]
    assert f"broken-{sls_stack.stage}" not in tables

    # AND the next good deploy succeeds (LocalStack cannot update the rolled-back stack, so the
    # script removes it and creates it afresh) and serves again
    outputs = sls.deploy(sls_stack.stage)
    outputs.pop("_seconds")
    sls_stack.outputs.update(outputs)
    status, again = new_user()
    assert status == 201, again
    status, got = sls_stack.http("GET", f"/users/{again['user_id']}")
    assert status == 200, got


def _gone(call, *missing_codes: str) -> bool:
    try:
        call()
    except ClientError as e:
        return e.response["Error"]["Code"] in missing_codes
    return False


def test_remove_leaves_nothing_behind(sls_stack: SlsStack) -> None:
    # GIVEN what the deployment created
    cfn = st.client("cloudformation")
    resources = cfn.describe_stack_resources(StackName=sls_stack.name)["StackResources"]
    physical = {r["LogicalResourceId"]: r.get("PhysicalResourceId") for r in resources}
    functions = [sls_stack.function(p) for p in ("CreateUser", "GetUser", "ListUsers")]
    functions.append(sls_stack.function("CleanupInactive"))
    prefix = f"{sls_stack.name}-"

    # WHEN the stack is removed
    assert sls.remove(sls_stack.stage) == f"stack {sls_stack.name} removed"

    # THEN nothing of it is left: stack, functions, table, rule, API, bucket, layer, role, logs
    lam, events = st.client("lambda"), st.client("events")
    assert _gone(lambda: cfn.describe_stacks(StackName=sls_stack.name), "ValidationError")
    for fn in functions:
        assert _gone(lambda fn=fn: lam.get_function(FunctionName=fn), "ResourceNotFoundException")
    assert sls_stack.table not in st.client("dynamodb").list_tables()["TableNames"]
    assert events.list_rules(NamePrefix=prefix)["Rules"] == []
    apis = st.client("apigateway").get_rest_apis()["items"]
    assert sls_stack.outputs["RestApiId"] not in [a["id"] for a in apis]
    bucket = physical["ServerlessDeploymentBucket"]
    assert bucket not in [b["Name"] for b in st.client("s3").list_buckets()["Buckets"]]
    layer = f"{prefix}dependencies"
    assert _gone(lambda: lam.list_layer_versions(LayerName=layer), "ResourceNotFoundException") or (
        lam.list_layer_versions(LayerName=layer)["LayerVersions"] == []
    )
    role = physical["IamRoleLambdaExecution"]
    assert _gone(lambda: st.client("iam").get_role(RoleName=role), "NoSuchEntity")
    groups = st.client("logs").describe_log_groups(logGroupNamePrefix=f"/aws/lambda/{prefix}")
    assert groups["logGroups"] == []

    # AND removing again is a no-op that says so
    assert "nothing to remove" in sls.remove(sls_stack.stage)
