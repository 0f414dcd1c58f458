"""The deployed stack as scripts and tests see it: boto3 clients, outputs, function names,
and the small HTTP client plus LocalStack's SES mailbox the flows are checked against.

The endpoint and region come from endpoint.py, the stack name from STACK_NAME (the Makefile
exports all three), so the scripts and the tests address the same LocalStack and stack.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import urllib.error
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from endpoint import endpoint_url, is_local, region

ROOT = Path(__file__).resolve().parent.parent
BUILD_DIR = ROOT / ".build"
# STACK_OUTPUTS_FILE: another place for them (tests on their own port use one of their own)
OUTPUTS_FILE = Path(os.environ.get("STACK_OUTPUTS_FILE") or BUILD_DIR / "outputs.json")

DEFAULT_STACK = "serverless-app"

if TYPE_CHECKING:
    import boto3


class DeployError(RuntimeError):
    """A deploy step failed; the message says which and why."""


def stack_name() -> str:
    return os.environ.get("STACK_NAME") or DEFAULT_STACK


_session: boto3.session.Session | None = None
_clients: dict[tuple[str, str, str], Any] = {}
_clients_lock = threading.Lock()


def client(service: str, **config: Any) -> Any:
    """A cached boto3 client for LocalStack (test credentials unless the env has others).

    boto3 is imported here, on the first client (~0.3 s): a deploy with nothing to do never
    makes one (deploy_receipt.py)."""
    key = (service, endpoint_url(), json.dumps(config, sort_keys=True))
    if key in _clients:
        return _clients[key]
    with _clients_lock:  # the deploy makes clients from two threads; a session is not safe
        return _make_client(key, service, config)


def _make_client(key: tuple[str, str, str], service: str, config: dict[str, Any]) -> Any:
    global _session
    if key not in _clients:
        import boto3
        from botocore.config import Config

        if _session is None:
            _session = boto3.session.Session(
                aws_access_key_id=os.environ.get("AWS_ACCESS_KEY_ID", "test"),
                aws_secret_access_key=os.environ.get("AWS_SECRET_ACCESS_KEY", "test"),
                region_name=region(),
            )
        cfg = Config(retries={"max_attempts": 3, "mode": "standard"}, **config)
        _clients[key] = _session.client(service, endpoint_url=endpoint_url(), config=cfg)
    return _clients[key]


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# --- stack outputs -------------------------------------------------------------------------


def api_url_for_endpoint(api_url: str, endpoint: str | None = None) -> str:
    """Rewrite an execute-api URL to the form LocalStack serves without DNS.

    `https://<id>.execute-api.<region>.amazonaws.com/<stage>` ->
    `<endpoint>/restapis/<id>/<stage>/_user_request_`. Against real AWS the URL is returned as is.
    """
    endpoint = (endpoint or endpoint_url()).rstrip("/")
    if not is_local(endpoint):
        return api_url
    parts = urlsplit(api_url)
    host = parts.hostname or ""
    if ".execute-api." not in host:
        return api_url
    api_id = host.split(".", 1)[0]
    stage = parts.path.strip("/").split("/", 1)[0]
    return f"{endpoint}/restapis/{api_id}/{stage}/_user_request_"


def describe_outputs(name: str | None = None) -> dict[str, str]:
    stacks = client("cloudformation").describe_stacks(StackName=name or stack_name())["Stacks"]
    return {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])}


# .build/outputs.json: the outputs plus which stack and endpoint they belong to
_OUTPUTS_META = ("_stack", "_endpoint")


def write_outputs(name: str, outputs: dict[str, str]) -> None:
    BUILD_DIR.mkdir(parents=True, exist_ok=True)
    data = {"_stack": name, "_endpoint": endpoint_url(), **outputs}
    # one temp file per process: deploys to other ports may finish at the same moment
    tmp = OUTPUTS_FILE.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    tmp.replace(OUTPUTS_FILE)


def load_outputs(refresh: bool = False) -> dict[str, str]:
    """Stack outputs as written by deploy.py (.build/outputs.json), else read from the stack."""
    if not refresh and OUTPUTS_FILE.exists():
        data = json.loads(OUTPUTS_FILE.read_text())
        if data.get("_stack") == stack_name() and data.get("_endpoint") == endpoint_url():
            return {k: v for k, v in data.items() if k not in _OUTPUTS_META}
    outputs = describe_outputs()
    if "ApiUrl" in outputs:
        outputs["ApiUrl"] = api_url_for_endpoint(outputs["ApiUrl"])
    return outputs


def resolve_function_name(fn: str) -> str:
    """Accept a stack logical id (CreateUserFunction), an output key or a function name/ARN."""
    cfn = client("cloudformation")
    try:
        res = cfn.describe_stack_resource(StackName=stack_name(), LogicalResourceId=fn)
        detail = res["StackResourceDetail"]
        if detail["ResourceType"] == "AWS::Lambda::Function":
            return detail["PhysicalResourceId"]
    except cfn.exceptions.ClientError:
        pass
    # Logical ids without the conventional "Function" suffix (CreateUser -> CreateUserFunction).
    if not fn.endswith("Function") and ":" not in fn:
        try:
            res = cfn.describe_stack_resource(
                StackName=stack_name(), LogicalResourceId=fn + "Function"
            )
            return res["StackResourceDetail"]["PhysicalResourceId"]
        except cfn.exceptions.ClientError:
            pass
    return fn


def stack_functions(name: str | None = None) -> dict[str, str]:
    """Logical id -> physical function name for every Lambda function in the stack (one still
    being created, or that failed to, has no physical id yet and is left out)."""
    paginator = client("cloudformation").get_paginator("list_stack_resources")
    found: dict[str, str] = {}
    for page in paginator.paginate(StackName=name or stack_name()):
        for r in page["StackResourceSummaries"]:
            if r["ResourceType"] == "AWS::Lambda::Function" and r.get("PhysicalResourceId"):
                found[r["LogicalResourceId"]] = r["PhysicalResourceId"]
    return found


# --- HTTP and LocalStack internals -----------------------------------------------------------


def http(
    method: str, url: str, body: Any = None, raw: bytes | None = None, timeout: float = 30.0
) -> tuple[int, Any]:
    """Tiny HTTP client for API calls: returns (status, parsed JSON body or text)."""
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    req = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            status, payload = resp.status, resp.read()
    except urllib.error.HTTPError as e:
        status, payload = e.code, e.read()
    text = payload.decode("utf-8", "replace")
    try:
        return status, json.loads(text) if text else None
    except json.JSONDecodeError:
        return status, text


def ses_messages(endpoint: str | None = None) -> list[dict[str, Any]]:
    """Mails LocalStack's SES 'sent' (GET /_aws/ses, LocalStack's own inspection endpoint)."""
    base = (endpoint or endpoint_url()).rstrip("/")
    status, body = http("GET", f"{base}/_aws/ses")
    if status != 200 or not isinstance(body, dict):
        raise RuntimeError(f"GET /_aws/ses answered {status}: {body!r}")
    return body.get("messages", [])


def mails_to(address: str, endpoint: str | None = None) -> list[dict[str, Any]]:
    return [
        m
        for m in ses_messages(endpoint)
        if address in (m.get("Destination") or {}).get("ToAddresses", [])
    ]
