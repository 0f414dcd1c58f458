"""Deploy or remove serverless.yml (the seed's user-service) with the Serverless Framework.

    .venv/bin/python scripts/serverless_deploy.py deploy|remove [--stage local] [--service-dir .]

1. CLI: the pinned, login-free Framework v3 fork `osls` and the `serverless-localstack` plugin
   from package-lock.json, installed into ./node_modules by `npm ci` when missing or stale;
2. artifacts the Framework cannot build itself (see serverless.yml): the dependencies layer
   (the same pip build as `make deploy-local`, scripts/artifacts.py build_layer) and a zip of
   functions/, both under .build/serverless/;
3. `serverless deploy|remove --stage <stage>` against LocalStack (AWS_ENDPOINT_URL, else
   LOCALSTACK_PORT), its output passed through: a failure shows the Framework's own error and
   CloudFormation rolls the stack back to the deployment that was serving;
4. the API URL printed in the form LocalStack serves without DNS, like `make deploy-local`.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

import endpoint
import stack as st
from artifacts import build_layer, zip_tree
from cfn_deploy import delete_stack, stack_status, wait_deleted
from stack import BUILD_DIR, ROOT, DeployError, log

SERVICE = "user-service"
DEFAULT_STAGE = "local"
ARTIFACTS_DIR = BUILD_DIR / "serverless"
FUNCTIONS_ZIP = ARTIFACTS_DIR / "functions.zip"
LAYER_ZIP = ARTIFACTS_DIR / "dependencies-layer.zip"
NODE_MODULES = ROOT / "node_modules"
CLI = NODE_MODULES / "osls" / "bin" / "serverless.js"
# npm writes this after every install; older than the lock means node_modules is stale
INSTALLED_LOCK = NODE_MODULES / ".package-lock.json"
NPM_CI = ["npm", "ci", "--no-audit", "--no-fund", "--prefer-offline", "--loglevel=error"]
# The Framework without its network side effects: no telemetry, no update notices.
QUIET_ENV = {"SLS_TELEMETRY_DISABLED": "1", "SLS_NOTIFICATIONS_MODE": "off"}
# Where LocalStack's CloudFormation leaves a stack whose update failed: the previous deployment
# keeps serving, but the Framework cannot update the stack again ("No deployed instances of
# resource ..."). The next deploy removes it first and creates it afresh.
NOT_UPDATABLE = {
    "ROLLBACK_COMPLETE", "ROLLBACK_FAILED", "CREATE_FAILED", "UPDATE_FAILED",
    "UPDATE_ROLLBACK_FAILED", "DELETE_FAILED", "REVIEW_IN_PROGRESS",
}  # fmt: skip


def stack_name(stage: str) -> str:
    return f"{SERVICE}-{stage}"


def cli_installed() -> bool:
    lock = ROOT / "package-lock.json"
    return (
        CLI.exists()
        and INSTALLED_LOCK.exists()
        and INSTALLED_LOCK.stat().st_mtime >= lock.stat().st_mtime
    )


def ensure_cli() -> None:
    """`npm ci` from the committed lock when node_modules is missing or older than the lock."""
    if cli_installed():
        return
    if shutil.which("npm") is None:
        raise DeployError("npm is not on PATH: install Node.js >= 20.19 (with npm) first")
    t0 = time.monotonic()
    log("installing the Serverless Framework (osls) and serverless-localstack from npm ...")
    proc = subprocess.run(NPM_CI, cwd=ROOT)
    if proc.returncode != 0 or not CLI.exists():
        raise DeployError(f"npm ci failed (exit {proc.returncode})")
    INSTALLED_LOCK.touch()
    log(f"installed in {time.monotonic() - t0:.1f}s")


def write_if_changed(path: Path, data: bytes) -> None:
    if path.exists() and path.read_bytes() == data:
        return
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_bytes(data)
    tmp.replace(path)


def build_artifacts() -> None:
    """The layer zip and the functions/ zip that serverless.yml's package.artifact name."""
    ARTIFACTS_DIR.mkdir(parents=True, exist_ok=True)
    layer_zip, _ = build_layer()
    write_if_changed(LAYER_ZIP, layer_zip.read_bytes())
    write_if_changed(FUNCTIONS_ZIP, zip_tree(ROOT / "functions"))


def framework_env(stage: str) -> dict[str, str]:
    env = dict(os.environ, **QUIET_ENV)
    env["AWS_ENDPOINT_URL"] = endpoint.endpoint_url()  # serverless-localstack reads it
    env["AWS_DEFAULT_REGION"] = endpoint.region()
    env.setdefault("AWS_ACCESS_KEY_ID", "test")
    env.setdefault("AWS_SECRET_ACCESS_KEY", "test")
    env["SLS_LOCALSTACK_STAGE"] = stage
    return env


def run_framework(command: str, stage: str, service_dir: Path) -> int:
    """Run the Framework with its output on our stdout/stderr; returns its exit code."""
    cmd = ["node", str(CLI), command, "--stage", stage, "--region", endpoint.region()]
    return subprocess.run(cmd, cwd=service_dir, env=framework_env(stage)).returncode


def stack_exists(name: str) -> bool:
    return stack_status(name) not in (None, "DELETE_COMPLETE")


def _delete_rule(name: str) -> None:
    events = st.client("events")
    targets = [t["Id"] for t in events.list_targets_by_rule(Rule=name)["Targets"]]
    if targets:
        events.remove_targets(Rule=name, Ids=targets, Force=True)
    events.delete_rule(Name=name)


SWEEPERS: dict[str, Any] = {
    "AWS::Events::Rule": _delete_rule,
    "AWS::Lambda::Function": lambda n: st.client("lambda").delete_function(FunctionName=n),
    "AWS::DynamoDB::Table": lambda n: st.client("dynamodb").delete_table(TableName=n),
    "AWS::Logs::LogGroup": lambda n: st.client("logs").delete_log_group(logGroupName=n),
    "AWS::ApiGateway::RestApi": lambda n: st.client("apigateway").delete_rest_api(restApiId=n),
}


def sweep(resources: list[dict[str, Any]]) -> list[str]:
    """Delete what a removed stack left behind; returns what was still there.

    LocalStack's CloudFormation skips some resources (the schedule rule) when it deletes a stack
    whose update had failed; AWS would not. Resources already gone are skipped quietly.
    """
    swept = []
    for r in resources:
        delete, name = SWEEPERS.get(r["ResourceType"]), r.get("PhysicalResourceId")
        if delete is None or not name:
            continue
        try:
            delete(name)
        except ClientError as e:
            if "NotFound" in e.response["Error"]["Code"]:
                continue
            raise
        swept.append(f"{r['ResourceType']} {name}")
    return swept


def collect_outputs(stage: str) -> dict[str, str]:
    """ApiUrl (DNS-free LocalStack form), table and function names of the deployed stack."""
    name = stack_name(stage)
    cfn = st.client("cloudformation")
    resources = cfn.describe_stack_resources(StackName=name)["StackResources"]
    by_id = {r["LogicalResourceId"]: r for r in resources}
    api_id = by_id["ApiGatewayRestApi"]["PhysicalResourceId"]
    aws_form = f"https://{api_id}.execute-api.{endpoint.region()}.amazonaws.com/{stage}"
    outputs: dict[str, str] = {
        "ApiUrl": st.api_url_for_endpoint(aws_form).rstrip("/"),
        "RestApiId": api_id,
        "StackName": name,
        "UsersTableName": by_id["UsersTable"]["PhysicalResourceId"],
    }
    for r in resources:
        if r["ResourceType"] == "AWS::Lambda::Function":
            outputs[r["LogicalResourceId"] + "Name"] = r["PhysicalResourceId"]
    return outputs


def outputs_file(stage: str) -> Path:
    return ARTIFACTS_DIR / f"outputs-{stage}.json"


def deploy(stage: str = DEFAULT_STAGE, service_dir: Path = ROOT) -> dict[str, Any]:
    t0 = time.monotonic()
    ensure_cli()
    build_artifacts()
    status = stack_status(stack_name(stage))
    if status in NOT_UPDATABLE:
        log(
            f"stack {stack_name(stage)} is {status} after a failed deploy, which LocalStack "
            "cannot update: removing it first (its table starts empty)"
        )
        remove(stage, service_dir)
    code = run_framework("deploy", stage, service_dir)
    if code != 0:
        raise DeployError(
            f"serverless deploy exited {code} (its error is above); "
            f"stack {stack_name(stage)} keeps the deployment it had"
        )
    outputs = collect_outputs(stage)
    data = {"_endpoint": endpoint.endpoint_url(), **outputs}
    outputs_file(stage).write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    return {**outputs, "_seconds": f"{time.monotonic() - t0:.1f}"}


def finish_local_remove(name: str, code: int, resources: list[dict[str, Any]]) -> None:
    """What LocalStack's stack deletion leaves to do after `serverless remove` exited ``code``."""
    if code != 0:
        # LocalStack reports DELETE_FAILED for one resource while it goes on deleting the
        # others (after a failed update: a schedule rule whose target it no longer resolves),
        # and the Framework gives up on that event. CloudFormation's own wait decides.
        log(f"serverless remove exited {code}: waiting for CloudFormation to finish deleting "
            f"stack {name}")
        try:
            if wait_deleted(name) not in (None, "DELETE_COMPLETE"):
                delete_stack(name)
        except DeployError as e:
            raise DeployError(f"serverless remove exited {code} (its error is above); {e}"
                              ) from None
    for leftover in sweep(resources):
        log(f"deleted {leftover}: the stack's deletion left it behind")


def remove(stage: str = DEFAULT_STAGE, service_dir: Path = ROOT) -> str:
    name = stack_name(stage)
    if not stack_exists(name):
        return f"stack {name} does not exist: nothing to remove"
    ensure_cli()
    resources = st.client("cloudformation").describe_stack_resources(StackName=name)
    code = run_framework("remove", stage, service_dir)
    if endpoint.is_local():
        finish_local_remove(name, code, resources["StackResources"])
    elif code != 0:  # against AWS the Framework's word is final (and Retain'd resources stay)
        raise DeployError(f"serverless remove exited {code} (its error is above)")
    outputs_file(stage).unlink(missing_ok=True)
    return f"stack {name} removed"


def report(stage: str, outputs: dict[str, Any]) -> str:
    seconds = outputs.pop("_seconds")
    width = max(map(len, outputs))
    lines = [f"  {key:<{width}}  {value}" for key, value in sorted(outputs.items())]
    written = outputs_file(stage).relative_to(ROOT)
    return "\n".join([f"stack {stack_name(stage)}: deployed in {seconds}s", *lines,
                      f"  (written to {written})"])  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("command", choices=["deploy", "remove"])
    ap.add_argument("--stage", default=DEFAULT_STAGE)
    ap.add_argument("--service-dir", type=Path, default=ROOT, help="where serverless.yml is")
    args = ap.parse_args(argv)
    if problem := endpoint.check_endpoint():
        log(f"{args.command} failed: {problem}")
        return 1
    try:
        if args.command == "remove":
            print(remove(args.stage, args.service_dir.resolve()))
            return 0
        outputs = deploy(args.stage, args.service_dir.resolve())
    except (DeployError, ClientError) as e:
        log(f"{args.command} failed: {e}")
        return 1
    print(report(args.stage, outputs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
