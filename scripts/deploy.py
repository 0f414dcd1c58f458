"""Build and deploy the SAM stack (template.yaml) to LocalStack, or to AWS.

    .venv/bin/python scripts/deploy.py [--template template.yaml] [--stack-name NAME] [--hot-reload]

Steps, each skipped when its input did not change:
0. validate: cfn-lint (the SAM translation included); an error stops the deploy before any AWS
   call, printed as file:line:column -- template_check.py;
1. layer: `pip install --platform manylinux2014_x86_64 (+ _2_28, _2_34) --python-version 3.13
   --only-binary=:all:` of requirements/functions.txt into .build/layer/python, zipped, and
   published as a Lambda layer version whose Description carries the requirements hash (so a
   redeploy, another stack with the same requirements, or a fresh LocalStack with the same
   requirements, reuses the build and the published version); the upload and publish run
   while step 2 packages the code -- artifacts.py;
2. package: every local CodeUri / DefinitionUri / ContentUri is uploaded once to the
   `<stack>-artifacts` bucket under a content-hash key and rewritten to an S3 location, like
   `sam package` (HOT_RELOAD=1: CodeUri -> {Bucket: hot-reload, Key: <absolute dir>})
   -- artifacts.py;
3. parameters: the data-layer names from the spec (data_layer.py), PARAM_<Name> overrides;
4. CloudFormation: one change set (create or update), executed and followed by polling the
   stack (every 0.1 s) and its events (every 1 s); a template + parameters identical to the
   deployed ones is a no-op; a failed update is rolled back to the previous deployment
   (LocalStack does not) -- cfn_deploy.py;
5. wiring SAM cannot express for pre-existing resources: images-bucket -> thumbnail function
   -- app_wiring.py;
6. outputs (ApiUrl rewritten to the LocalStack form) printed and written to .build/outputs.json;
7. (LocalStack only) a receipt of the deploy, so that the next one with nothing to do is
   answered in a few requests, before boto3 is even imported -- deploy_receipt.py.
"""

from __future__ import annotations

import sys

# `make deploy-local` with nothing to deploy is answered here, before the imports below (boto3
# and its clients cost ~0.5-1 s of a redeploy that has nothing to do).
if __name__ == "__main__":
    import deploy_receipt

    if deploy_receipt.main(sys.argv[1:]):
        sys.exit(0)

import json
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

import consumers
import data_layer
import deploy_receipt
import service_warmup
import stack as st
from app_wiring import wire_thumbnail_notification
from artifacts import (
    Packager,
    artifacts_bucket,
    ensure_bucket,
    load_template,
    package_template,
    publish_layer,
)
from cfn_deploy import RestoredError, deploy_stack
from endpoint import check_endpoint, endpoint_url, is_local, localstack_health, region
from polling import wait_until
from stack import ROOT, DeployError, log
from template_check import check_template

LAYER_PARAMETER = "DependenciesLayerArn"


@dataclass(frozen=True)
class DeployResult:
    """What a deploy did: the stack outputs, and how it went."""

    stack_name: str
    status: str  # the stack's final status, or "unchanged"
    seconds: float
    outputs: dict[str, str]
    wired: str | None  # the notification app_wiring put in place, if any


# --- parameters -----------------------------------------------------------------------------


def _table_stream_arn(table: str) -> str:
    desc = st.client("dynamodb").describe_table(TableName=table)["Table"]
    arn = desc.get("LatestStreamArn")
    if not arn:
        raise DeployError(f"table {table} has no stream (init-aws.sh enables it)")
    return arn


def resolve_parameter(name: str, layer_arn: str | None) -> str | None:
    """Value for a template parameter, or None to keep its default.

    The data-layer parameters come from the spec (functions/common/data_layer.json), with the
    same env var overrides init-aws.sh honours; PARAM_<Name>=value overrides any parameter.
    """
    override = os.environ.get(f"PARAM_{name}")
    if override is not None:
        return override
    if name == LAYER_PARAMETER:
        return layer_arn
    source = data_layer.template_parameters().get(name)
    if source is None:
        return None
    var, kind = source
    value = data_layer.name(var)
    return _table_stream_arn(value) if kind == "stream" else value


def stack_parameters(template: dict[str, Any], layer_arn: str | None) -> list[dict[str, str]]:
    params, missing = [], []
    for name, spec in template.get("Parameters", {}).items():
        value = resolve_parameter(name, layer_arn)
        if value is not None:
            params.append({"ParameterKey": name, "ParameterValue": value})
        elif "Default" not in spec:
            missing.append(name)
    if missing:
        raise DeployError(f"no value for parameter(s) {', '.join(missing)} (set PARAM_<Name>)")
    return params


def stream_tables(template: dict[str, Any]) -> dict[str, str]:
    """Template parameter -> the table whose stream ARN resolve_parameter gives it."""
    found = {}
    for name in template.get("Parameters", {}):
        source = data_layer.template_parameters().get(name)
        if source and source[1] == "stream" and os.environ.get(f"PARAM_{name}") is None:
            found[name] = data_layer.name(source[0])
    return found


def wait_event_sources(stack_name: str, timeout: float = 30,
                       functions: set[str] | None = None) -> int:
    """Wait until the stack's event source mappings are Enabled (pollers running), so events
    sent right after the deploy (a LATEST stream position in particular) are not missed."""
    names = functions if functions is not None else set(st.stack_functions(stack_name).values())
    lam = st.client("lambda")

    def settled() -> list[list[dict[str, Any]]]:
        mappings = [
            m
            for page in lam.get_paginator("list_event_source_mappings").paginate()
            for m in page["EventSourceMappings"]
            if m["FunctionArn"].rsplit(":", 1)[-1] in names
        ]
        pending = [m for m in mappings if m["State"] not in ("Enabled", "Disabled")]
        assert not pending, "event source mappings not enabled after {:.0f}s: {}".format(
            timeout, ", ".join(f"{m['FunctionArn'].rsplit(':', 1)[-1]}: {m['State']}"
                               for m in pending))
        return [mappings]  # truthy also for a stack without event sources

    try:
        (mappings,) = wait_until(settled, timeout=timeout, interval=0.2)
    except AssertionError as e:
        raise DeployError(str(e)) from None
    return len(mappings)


# --- LocalStack's services -------------------------------------------------------------------

# LocalStack loads a service's provider on the service's first request: ~0.3-1.5 s each (several
# seconds on a busy machine) that the CloudFormation engine otherwise spends in the middle of the
# first deploy after `make up`, one resource after another. One cheap request per service the
# template needs, sent in the background once the template is valid, loads them while the
# deploy packages and CloudFormation creates the first resources. In the order the stack needs
# them: service -> (markers in the template, X-Amz-Target or REST path, body).
WARM_REQUESTS: dict[str, tuple[tuple[str, ...], str, bytes]] = {
    # the deploy's own first calls: ListLayers (publish_layer), then CloudFormation (the
    # consumers check, the change set); each took ~0.5-2 s to load in the deploy's critical path
    "lambda": (("AWS::Serverless::Function", "AWS::Lambda::"), "/2015-03-31/functions/", b""),
    "cloudformation": (('"Resources"',), "", b"Action=ListStacks&Version=2010-05-15"),
    # moto answers ListInstanceProfiles (ListRoles is LocalStack's own): its first IAM request
    # loads moto's IAM model (~7% of LocalStack's CPU in a full deploy, py-spy), which the
    # first role's creation otherwise does in the middle of the stack
    "iam": (("AWS::Serverless::Function", "AWS::IAM::"), "",
            b"Action=ListInstanceProfiles&MaxItems=1&Version=2010-05-08"),
    "sts": (("AWS::Serverless::Function", "AWS::Lambda::Function"), "",
            b"Action=GetCallerIdentity&Version=2011-06-15"),
    # a definition validated: the first one builds the ASL parser (antlr) that creating the
    # state machine needs (~5% of LocalStack's CPU in a full deploy)
    "states": (("StateMachine",), "AWSStepFunctions.ValidateStateMachineDefinition",
               json.dumps({"definition": json.dumps(
                   {"StartAt": "A", "States": {"A": {"Type": "Pass", "End": True}}})}).encode()),
    "apigateway": (("AWS::Serverless::Api", "AWS::ApiGateway::", '"Type":"Api"'), "/restapis",
                   b""),
    "events": (("AWS::Events::", '"Type":"Schedule"', '"Type":"EventBridgeRule"'),
               "AWSEvents.DescribeEventBus", b"{}"),
}
JSON_VERSIONS = {"states": "1.0", "events": "1.1"}
HEALTH_NAMES = {"states": "stepfunctions"}  # LocalStack's names, where they differ


def services_to_warm(body: str) -> list[str]:
    """The services of WARM_REQUESTS the template (compact JSON text) uses, in their order."""
    return [svc for svc, (markers, _, _) in WARM_REQUESTS.items()
            if any(m in body for m in markers)]


def _warm(service: str) -> None:
    _, target, body = WARM_REQUESTS[service]
    service_warmup.warm(endpoint_url(), service, target, body,
                        JSON_VERSIONS.get(service, "1.0"), region())


def _warm_all(services: list[str]) -> None:
    running = (localstack_health() or {}).get("services", {})
    for service in services:
        if running.get(HEALTH_NAMES.get(service, service)) != "running":
            _warm(service)


def warm_services(body: str) -> threading.Thread | None:
    """Load the template's services LocalStack has not loaded yet, in the background."""
    services = services_to_warm(body)
    if not is_local() or not services:
        return None
    thread = threading.Thread(target=_warm_all, args=(services,), name="warm-services",
                              daemon=True)
    thread.start()
    return thread


# --- outputs --------------------------------------------------------------------------------


def collect_outputs(stack_name: str) -> dict[str, str]:
    outputs = st.describe_outputs(stack_name)
    if "ApiUrl" in outputs:
        outputs["ApiUrl"] = st.api_url_for_endpoint(outputs["ApiUrl"]).rstrip("/")
    if is_local():
        # queue URLs in the form the endpoint serves (the AWS form works too, but is misleading)
        sqs = st.client("sqs")
        for key, value in list(outputs.items()):
            if key.endswith("QueueUrl") and value.startswith("https://sqs."):
                try:
                    queue = value.rstrip("/").rsplit("/", 1)[-1]
                    outputs[key] = sqs.get_queue_url(QueueName=queue)["QueueUrl"]
                except ClientError:
                    pass
    return outputs


def run(
    template_path: Path | None = None,
    stack_name: str | None = None,
    hot_reload: bool | None = None,
) -> DeployResult:
    """Deploy: package, create or update the stack, wire, and write the outputs; nothing but
    the outputs when the stack is current (deploy_receipt.check)."""
    t0 = time.monotonic()
    template_path = (template_path or ROOT / "template.yaml").resolve()
    stack_name = stack_name or st.stack_name()
    if hot_reload is None:
        hot_reload = deploy_receipt.hot_reload_from_env()
    if hot_reload and not is_local():
        raise DeployError("HOT_RELOAD=1 only works against LocalStack")
    if not template_path.exists():
        raise DeployError(f"no template at {template_path}")
    receipt = deploy_receipt.check(template_path, stack_name, hot_reload)
    if not isinstance(receipt, str):
        st.write_outputs(stack_name, receipt["outputs"])
        return DeployResult(stack_name, "unchanged", time.monotonic() - t0, receipt["outputs"],
                            receipt["wired"])
    deploy_receipt.forget(stack_name)
    deployed_from = deploy_receipt.inputs(template_path, hot_reload) if is_local() else {}

    try:
        template: dict[str, Any] | None = load_template(template_path)
    except Exception:  # not even YAML: cfn-lint (below) says where
        template = None
    if template is not None:  # LocalStack loads them while cfn-lint (a changed template) runs
        warm_services(json.dumps(template, separators=(",", ":")))
    check_template(template_path, region())
    if template is None:
        template = load_template(template_path)
    bucket = artifacts_bucket(stack_name)
    ensure_bucket(bucket)
    needs_layer = LAYER_PARAMETER in template.get("Parameters", {})
    # The layer's upload and publish (10.8 MB: ~0.5-1 s of a first deploy, mostly I/O) go on
    # while the code is packaged; its ARN is needed only by the parameters.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="layer") as pool:
        layer = pool.submit(publish_layer, stack_name, bucket) if needs_layer else None
        packager = Packager(bucket, template_path.parent, hot_reload)
        template = package_template(template, packager)
        layer_arn = layer.result() if layer is not None else None
    body = json.dumps(template, separators=(",", ":"), sort_keys=True)
    params = stack_parameters(template, layer_arn)
    try:  # one consumer per data-layer event source, checked when the stack is to change
        status = deploy_stack(stack_name, body, params, bucket,
                              before_change=lambda: consumers.check(stack_name, template))
    except RestoredError:
        finish(stack_name)  # a restore may have recreated the API (a new id) and the mappings
        raise
    outputs, wired, functions = finish(stack_name)
    deploy_receipt.record(stack_name, deployed_from, packager.digests, stream_tables(template),
                          functions, outputs, wired)
    return DeployResult(stack_name, status, time.monotonic() - t0, outputs, wired)


def finish(stack_name: str) -> tuple[dict[str, str], str | None, list[str]]:
    """Wire, wait for the event sources and write the outputs of the deployed stack; the
    outputs, the wiring and the stack's functions."""
    outputs = collect_outputs(stack_name)
    wired = wire_thumbnail_notification(stack_name, outputs)
    functions = set(st.stack_functions(stack_name).values())
    wait_event_sources(stack_name, functions=functions)
    st.write_outputs(stack_name, outputs)
    return outputs, wired, sorted(functions)


def deploy(
    template_path: Path | None = None,
    stack_name: str | None = None,
    hot_reload: bool | None = None,
) -> dict[str, str]:
    """Deploy and return the stack outputs only (ApiUrl in its reachable form)."""
    return run(template_path, stack_name, hot_reload).outputs


def main(argv: list[str] | None = None) -> int:
    args = deploy_receipt.cli_parser(__doc__.split("\n\n")[0]).parse_args(argv)
    if problem := check_endpoint():
        log(f"deploy failed: {problem}")
        return 1
    try:
        result = run(args.template, args.stack_name, args.hot_reload)
    except (DeployError, ClientError) as e:
        log(f"deploy failed: {e}")
        return 1
    deploy_receipt.print_result(result.stack_name, result.status, result.seconds,
                                result.outputs, result.wired)
    return 0


if __name__ == "__main__":
    code = main()
    # Everything is written and closed by now: skip the interpreter's teardown of botocore's
    # models and clients (~0.1 s of every deploy, ~0.5 s on a busy machine).
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
