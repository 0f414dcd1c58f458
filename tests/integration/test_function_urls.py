"""Lambda function URLs in host mode: LocalStack's standard names
(`http://<id>.lambda-url.<region>.localhost.localstack.cloud:<port>/`), reached without DNS by
connecting to the endpoint with the URL's host as the Host header (endpoint.without_dns).

One function URL is created through the API, one from a CloudFormation template
(AWS::Lambda::Url); both with AuthType NONE.
"""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from executor_helpers import zip_files

from endpoint import endpoint_url, without_dns

ECHO = '''import base64, json

def handler(event, context):
    if event["rawPath"] == "/boom":
        raise ValueError("boom")
    if event["rawPath"] == "/binary":
        return {"statusCode": 200, "isBase64Encoded": True,
                "headers": {"content-type": "application/octet-stream"},
                "body": base64.b64encode(bytes(range(256))).decode()}
    return {"statusCode": 200, "headers": {"x-echo": "yes", "content-type": "application/json"},
            "body": json.dumps(event)}
'''

TEMPLATE = {
    "Resources": {
        "Role": {"Type": "AWS::IAM::Role", "Properties": {"AssumeRolePolicyDocument": {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                           "Principal": {"Service": "lambda.amazonaws.com"}}],
        }}},
        "Fn": {"Type": "AWS::Lambda::Function", "Properties": {
            "Runtime": "python3.13", "Handler": "index.handler",
            "Role": {"Fn::GetAtt": ["Role", "Arn"]}, "Code": {"ZipFile": ECHO}}},
        "Url": {"Type": "AWS::Lambda::Url", "Properties": {
            "TargetFunctionArn": {"Ref": "Fn"}, "AuthType": "NONE"}},
        "UrlPermission": {"Type": "AWS::Lambda::Permission", "Properties": {
            "FunctionName": {"Ref": "Fn"}, "Action": "lambda:InvokeFunctionUrl",
            "Principal": "*", "FunctionUrlAuthType": "NONE"}},
    },
    "Outputs": {"FunctionUrl": {"Value": {"Fn::GetAtt": ["Url", "FunctionUrl"]}}},
}


def call(url: str, method: str = "GET", body: bytes | None = None,
         headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    """(status, headers, body) of a request to a printed URL, without DNS."""
    target, host_headers = without_dns(url)
    request = urllib.request.Request(target, data=body, method=method,
                                     headers={**(headers or {}), **host_headers})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


@pytest.fixture(scope="module")
def api_url(module_functions, lam) -> str:
    code = {"ZipFile": zip_files({"index.py": ECHO})}
    name = module_functions(handler="index.handler", code=code)
    url = lam.create_function_url_config(FunctionName=name, AuthType="NONE")["FunctionUrl"]
    lam.add_permission(FunctionName=name, StatementId="url", Action="lambda:InvokeFunctionUrl",
                       Principal="*", FunctionUrlAuthType="NONE")
    return url


@pytest.fixture(scope="module")
def template_url(aws_client: Callable[..., Any]) -> Iterator[str]:
    cfn = aws_client("cloudformation")
    stack = f"fn-url-{uuid.uuid4().hex[:8]}"
    cfn.create_stack(StackName=stack, TemplateBody=json.dumps(TEMPLATE),
                     Capabilities=["CAPABILITY_IAM"])
    try:
        cfn.get_waiter("stack_create_complete").wait(
            StackName=stack, WaiterConfig={"Delay": 1, "MaxAttempts": 120})
        outputs = cfn.describe_stacks(StackName=stack)["Stacks"][0]["Outputs"]
        yield {o["OutputKey"]: o["OutputValue"] for o in outputs}["FunctionUrl"]
    finally:
        cfn.delete_stack(StackName=stack)


@pytest.fixture(params=["api", "template"])
def function_url(request: pytest.FixtureRequest) -> str:
    return request.getfixturevalue(f"{request.param}_url")


def test_urls_use_localstacks_standard_names(function_url: str) -> None:
    port = endpoint_url().rsplit(":", 1)[1]
    host = function_url.split("/")[2]
    assert function_url.startswith("http://") and function_url.endswith("/")
    assert host.endswith(f".lambda-url.us-east-1.localhost.localstack.cloud:{port}"), host
    assert "127.0.0.1" not in function_url


def test_get_with_query_string_and_headers(function_url: str) -> None:
    status, headers, body = call(function_url + "items/7?color=red&size=2",
                                 headers={"X-Custom": "Value-1"})
    assert status == 200, body
    assert headers["x-echo"] == "yes"
    event = json.loads(body)
    assert event["version"] == "2.0" and event["routeKey"] == "$default"
    assert event["rawPath"] == "/items/7"
    assert event["rawQueryString"] == "color=red&size=2"
    assert event["queryStringParameters"] == {"color": "red", "size": "2"}
    assert event["headers"]["x-custom"] == "Value-1"
    assert event["requestContext"]["http"]["method"] == "GET"


def test_post_text_body(function_url: str) -> None:
    status, _, body = call(function_url + "submit", "POST", b'{"a": 1}',
                           {"Content-Type": "application/json"})
    assert status == 200, body
    event = json.loads(body)
    assert event["requestContext"]["http"]["method"] == "POST"
    assert event["isBase64Encoded"] is False
    assert json.loads(event["body"]) == {"a": 1}


def test_post_binary_body_arrives_base64(function_url: str) -> None:
    payload = bytes(range(256))
    status, _, body = call(function_url + "upload", "POST", payload,
                           {"Content-Type": "application/octet-stream"})
    assert status == 200, body
    event = json.loads(body)
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == payload


def test_binary_response_is_decoded(function_url: str) -> None:
    status, headers, body = call(function_url + "binary")
    assert status == 200
    assert headers["content-type"] == "application/octet-stream"
    assert body == bytes(range(256))


def test_handler_exception_is_a_502(function_url: str) -> None:
    status, _, body = call(function_url + "boom")
    assert status == 502
    assert body == b"Internal Server Error"


def test_unknown_url_is_403_access_denied(function_url: str) -> None:
    host = function_url.split("/")[2]
    unknown = function_url.replace(host.split(".", 1)[0], "0" * 32)
    status, headers, body = call(unknown)
    assert status == 403
    assert body == b'{"Message":null}'
    assert headers["x-amzn-ErrorType"] == "AccessDeniedException"
