"""CloudFormation stacks with Lambda functions, with the host-mode patch in place.

plugins/localstack_hostmode/patches/cloudformation_lambda_waits.py makes LocalStack's
AWS::Lambda::Function provider poll the function's state every few milliseconds instead of every
second, and gives the Lambda service's task pool room for the version rollovers of a stack
update; cloudformation_lambda_updates.py makes an update call only the APIs for what changed.
These tests check that the waits still wait for the real state: an updated stack serves the NEW
code and configuration from every function, a second update right after the first (code only)
and a third (configuration only) do too, and a function that cannot start still fails its stack.
Timings are not asserted here; `make bench` measures them.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import urllib.request
import uuid
import zipfile
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from endpoint import without_dns

pytestmark = pytest.mark.integration

FUNCTIONS = 6  # several functions, so one update rolls over several versions at once
CODE = (
    "import os\n"
    "def handler(event, context):\n"
    "    return {{'code': '{marker}', 'greeting': os.environ.get('GREETING')}}\n"
)


def template(marker: str, greeting: str, runtime: str = "python3.13", code: str = CODE) -> str:
    resources: dict[str, Any] = {
        "Role": {
            "Type": "AWS::IAM::Role",
            "Properties": {
                "AssumeRolePolicyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": "lambda.amazonaws.com"},
                            "Action": "sts:AssumeRole",
                        }
                    ],
                }
            },
        }
    }
    for i in range(FUNCTIONS):
        resources[f"Fn{i}"] = {
            "Type": "AWS::Lambda::Function",
            "Properties": {
                "Runtime": runtime,
                "Handler": "index.handler",
                "Role": {"Fn::GetAtt": ["Role", "Arn"]},
                "Timeout": 10,
                "Code": {"ZipFile": code.format(marker=marker)},
                "Environment": {"Variables": {"GREETING": greeting}},
            },
        }
    outputs = {f"Fn{i}Name": {"Value": {"Ref": f"Fn{i}"}} for i in range(FUNCTIONS)}
    return json.dumps({"Resources": resources, "Outputs": outputs})


class Stack:
    """One uniquely named stack; create/update wait for a terminal status."""

    def __init__(self, cfn: Any, wait_until: Callable[..., Any]) -> None:
        self.cfn = cfn
        self.wait_until = wait_until
        self.name = f"cfn-patch-{uuid.uuid4().hex[:8]}"

    def status(self) -> str:
        return self.cfn.describe_stacks(StackName=self.name)["Stacks"][0]["StackStatus"]

    def settle(self, timeout: float = 120) -> str:
        def done() -> str | None:
            status = self.status()
            return None if status.endswith("_IN_PROGRESS") else status

        return self.wait_until(done, timeout=timeout, interval=0.2, message=f"{self.name} settles")

    def failures(self) -> list[str]:
        events = self.cfn.describe_stack_events(StackName=self.name)["StackEvents"]
        return [
            f"{e['LogicalResourceId']}: {e.get('ResourceStatusReason')}"
            for e in events
            if "FAILED" in e["ResourceStatus"]
        ]

    def create(self, body: str) -> str:
        self.cfn.create_stack(StackName=self.name, TemplateBody=body,
                              Capabilities=["CAPABILITY_IAM"])
        return self.settle()

    def update(self, body: str) -> str:
        self.cfn.update_stack(StackName=self.name, TemplateBody=body,
                              Capabilities=["CAPABILITY_IAM"])
        return self.settle()

    def function_names(self) -> list[str]:
        outputs = self.cfn.describe_stacks(StackName=self.name)["Stacks"][0].get("Outputs", [])
        return sorted(o["OutputValue"] for o in outputs)


@pytest.fixture
def stack(aws_client: Callable[..., Any], wait_until: Callable[..., Any]) -> Iterator[Stack]:
    s = Stack(aws_client("cloudformation"), wait_until)
    yield s
    try:
        s.cfn.delete_stack(StackName=s.name)

        def gone() -> bool:
            stacks = s.cfn.describe_stacks(StackName=s.name)["Stacks"]
            return not stacks or stacks[0]["StackStatus"] == "DELETE_COMPLETE"

        wait_until(gone, timeout=120, interval=0.2, message=f"{s.name} deleted")
    except s.cfn.exceptions.ClientError as e:
        if "does not exist" not in str(e):
            raise


def serves(lam: Any, name: str) -> dict[str, Any]:
    response = lam.invoke(FunctionName=name, Payload=b"{}")
    body = json.loads(response["Payload"].read())
    assert "FunctionError" not in response, body
    return body


def test_fast_wait_hook_is_loaded(localstack: str) -> None:
    # GIVEN LocalStack's own plugin listing
    import urllib.request

    with urllib.request.urlopen(f"{localstack}/_localstack/plugins", timeout=10) as resp:
        plugins = json.loads(resp.read())
    providers = {p["name"] for p in plugins.get("localstack.aws.provider", [])}
    if "dynamodb:moto" not in providers:
        pytest.skip("LocalStack runs without the localstack-hostmode plugins (Docker mode)")

    # THEN the hook that applies the host-mode patches (CloudFormation waits among them) ran
    hooks = {p["name"]: p for p in plugins.get("localstack.hooks.on_infra_start", [])}
    assert hooks.get("hostmode_patches", {}).get("is_loaded"), hooks.keys()


def test_updated_stack_serves_the_new_code_from_every_function(
    stack: Stack, aws_client: Callable[..., Any]
) -> None:
    lam = aws_client("lambda")
    # GIVEN a stack of functions serving v1
    assert stack.create(template("v1", "hello")) == "CREATE_COMPLETE", stack.failures()
    names = stack.function_names()
    assert len(names) == FUNCTIONS
    for name in names:
        assert serves(lam, name) == {"code": "v1", "greeting": "hello"}

    # WHEN the code and the environment change in one update
    assert stack.update(template("v2", "bonjour")) == "UPDATE_COMPLETE", stack.failures()

    # THEN every function is Active, its update Successful, and it serves the new code at once
    for name in names:
        config = lam.get_function_configuration(FunctionName=name)
        assert (config["State"], config["LastUpdateStatus"]) == ("Active", "Successful"), config
        assert serves(lam, name) == {"code": "v2", "greeting": "bonjour"}

    # WHEN the code changes again right away (the previous rollovers' stops may still run)
    assert stack.update(template("v3", "bonjour")) == "UPDATE_COMPLETE", stack.failures()

    # THEN the newest code is what runs
    for name in names:
        assert serves(lam, name) == {"code": "v3", "greeting": "bonjour"}

    # WHEN only the configuration changes (the code update is skipped, not the configuration)
    assert stack.update(template("v3", "hola")) == "UPDATE_COMPLETE", stack.failures()

    # THEN the new configuration runs with the code it had
    for name in names:
        config = lam.get_function_configuration(FunctionName=name)
        assert (config["State"], config["LastUpdateStatus"]) == ("Active", "Successful"), config
        assert serves(lam, name) == {"code": "v3", "greeting": "hola"}


def test_function_that_cannot_start_still_fails_its_stack(stack: Stack) -> None:
    # GIVEN functions the host cannot run (the host-mode executor runs Python only)
    body = template("v1", "hello", runtime="nodejs20.x",
                    code="exports.handler = async () => ({{code: '{marker}'}});\n")

    # WHEN the stack is created
    status = stack.create(body)

    # THEN the create fails instead of waiting forever or reporting success
    assert status in ("ROLLBACK_COMPLETE", "CREATE_FAILED", "ROLLBACK_FAILED"), status
    assert any(f.startswith("Fn") for f in stack.failures()), stack.failures()


def test_a_resource_whose_condition_is_false_is_not_created(
    stack: Stack, aws_client: Callable[..., Any]
) -> None:
    # GIVEN resources deployed side by side (cloudformation_concurrent_resources), one of them
    # under a condition that is false
    body = json.dumps({
        "Parameters": {"Extra": {"Type": "String", "Default": "no"}},
        "Conditions": {"WithExtra": {"Fn::Equals": [{"Ref": "Extra"}, "yes"]}},
        "Resources": {
            "Always": {"Type": "AWS::SQS::Queue"},
            "Also": {"Type": "AWS::SQS::Queue"},
            "OnlyWithExtra": {"Type": "AWS::SQS::Queue", "Condition": "WithExtra"},
        },
    })

    # WHEN the stack is created
    assert stack.create(body) == "CREATE_COMPLETE", stack.failures()

    # THEN only the unconditional resources exist
    resources = stack.cfn.describe_stack_resources(StackName=stack.name)["StackResources"]
    assert sorted(r["LogicalResourceId"] for r in resources) == ["Also", "Always"]
    urls = aws_client("sqs").list_queues(QueueNamePrefix=stack.name).get("QueueUrls", [])
    assert not any("OnlyWithExtra" in url for url in urls), urls
    assert len(urls) == 2, urls


def test_stack_functions_run_and_keep_the_code_they_stored(
    stack: Stack, aws_client: Callable[..., Any]
) -> None:
    # cloudformation_in_memory_clients: the provider's calls and the code copy go in memory;
    # lambda_code_archive_reuse: a new version unpacks the stored archive from memory
    lam = aws_client("lambda")
    assert stack.create(template("v1", "hello")) == "CREATE_COMPLETE", stack.failures()
    # WHEN the code is updated (each update stores a new archive and unpacks it)
    assert stack.update(template("v2", "hello")) == "UPDATE_COMPLETE", stack.failures()
    for name in stack.function_names():
        # THEN it runs the new code, and S3 still holds exactly the archive GetFunction names
        assert serves(lam, name) == {"code": "v2", "greeting": "hello"}
        function = lam.get_function(FunctionName=name)
        url, headers = without_dns(function["Code"]["Location"])
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers),
                                    timeout=30) as response:
            archive = response.read()
        digest = base64.b64encode(hashlib.sha256(archive).digest()).decode()
        assert digest == function["Configuration"]["CodeSha256"]
        assert b"'v2'" in zipfile.ZipFile(io.BytesIO(archive)).read("index.py")
