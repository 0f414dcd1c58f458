"""Past Lambda's limits: an invocation's log output beyond what is kept, request bodies beyond
what API Gateway and Lambda accept. What AWS says there, the kit says too.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from executor_helpers import RUNTIME, invoke, zip_files

pytestmark = pytest.mark.integration

# prints `mb` MiB in 1 KiB lines, more than the 16 MiB the executor keeps of one invocation
LOUD_HANDLER = """
import sys

def handler(event, context):
    line = "x" * 1023 + "\\n"
    for _ in range(event["mb"] * 1024):
        sys.stdout.write(line)
    sys.stdout.flush()
    return {"printed_mb": event["mb"]}
"""


def latest_stream_tail(logs_client: Any, group: str) -> list[str]:
    """The last events of the group's newest stream (raises until it has a REPORT line)."""
    try:
        streams = logs_client.describe_log_streams(
            logGroupName=group, orderBy="LastEventTime", descending=True
        )["logStreams"]
    except logs_client.exceptions.ResourceNotFoundException:
        streams = []
    assert streams, "no log stream yet"
    events = logs_client.get_log_events(
        logGroupName=group, logStreamName=streams[0]["logStreamName"], startFromHead=False,
        limit=20,
    )["events"]
    messages = [e["message"] for e in events]
    assert any(m.startswith("REPORT RequestId") for m in messages), "no REPORT line yet"
    return messages


def test_output_past_the_log_limit_is_marked_and_report_still_arrives(
    probe: str, make_function: Any, lam: Any, aws_client: Any, wait_until: Any
) -> None:
    name = make_function(
        handler="loud.handler", runtime=RUNTIME, Timeout=120, MemorySize=256,
        code={"ZipFile": zip_files({"loud.py": LOUD_HANDLER})},
    )

    result = invoke(lam, name, {"mb": 18})

    assert result.function_error is None, result.raw
    assert "Log output truncated" in result.log
    assert f"REPORT RequestId: {result.request_id}" in result.log
    logs_client = aws_client("logs")
    messages = wait_until(lambda: latest_stream_tail(logs_client, f"/aws/lambda/{name}"),
                          timeout=60, message="the REPORT line in CloudWatch")
    marker = [i for i, m in enumerate(messages) if "Log output truncated" in m]
    end = [i for i, m in enumerate(messages) if m.startswith(f"END RequestId: {result.request_id}")]
    assert marker and end and marker[0] < end[0], messages


BODY_SIZE_HANDLER = """
import json

def handler(event, context):
    return {"statusCode": 200, "body": json.dumps({"received": len(event.get("body") or "")})}
"""


@pytest.fixture
def proxy_api(probe: str, make_function: Any, lam: Any, aws_client: Any,
              localstack: str) -> Iterator[str]:
    """The invoke URL of a one-method REST API whose Lambda proxy answers the body's size."""
    name = make_function(handler="size.handler", runtime=RUNTIME,
                         code={"ZipFile": zip_files({"size.py": BODY_SIZE_HANDLER})})
    arn = lam.get_function(FunctionName=name)["Configuration"]["FunctionArn"]
    apigw = aws_client("apigateway")
    api_id = apigw.create_rest_api(name=f"limits-{name}")["id"]
    try:
        root = apigw.get_resources(restApiId=api_id)["items"][0]["id"]
        apigw.put_method(restApiId=api_id, resourceId=root, httpMethod="POST",
                         authorizationType="NONE")
        apigw.put_integration(
            restApiId=api_id, resourceId=root, httpMethod="POST", type="AWS_PROXY",
            integrationHttpMethod="POST",
            uri=f"arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/{arn}/invocations",
        )
        apigw.create_deployment(restApiId=api_id, stageName="test")
        yield f"{localstack}/restapis/{api_id}/test/_user_request_/"
    finally:
        apigw.delete_rest_api(restApiId=api_id)


def post(url: str, size: int) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=b"a" * size, method="POST",
                                     headers={"Content-Type": "text/plain"})
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


MB = 1024 * 1024


def test_body_within_the_limits_reaches_the_function(proxy_api: str) -> None:
    status, body = post(proxy_api, 5 * MB)
    assert (status, json.loads(body)) == (200, {"received": 5 * MB})


def test_body_over_lambdas_6_mb_answers_413_request_too_long(proxy_api: str) -> None:
    status, body = post(proxy_api, 7 * MB)
    assert (status, json.loads(body)) == (413, {"message": "Request Too Long"})


def test_body_over_api_gateways_10_mb_answers_413(proxy_api: str) -> None:
    status, body = post(proxy_api, 11 * MB)
    assert status == 413
    assert json.loads(body) == {"message": "HTTP content length exceeded 10485760 bytes."}
