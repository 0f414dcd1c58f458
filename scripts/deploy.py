"""Build and deploy the SAM stack (template.yaml) to LocalStack, or to AWS.

    .venv/bin/python scripts/deploy.py [--template template.yaml] [--stack-name NAME] [--hot-reload]

Steps, each skipped when its input did not change:
1. layer: `pip install --platform manylinux2014_x86_64 (+ _2_28, _2_34) --python-version 3.13
   --only-binary=:all:` of requirements/functions.txt into .build/layer/python, zipped, and
   published as a Lambda layer version whose Description carries the requirements hash (so a
   redeploy, or a fresh LocalStack with the same requirements, reuses the build and the
   published version);
2. package: every local CodeUri / DefinitionUri / ContentUri is uploaded once to the
   `<stack>-artifacts` bucket under a content-hash key and rewritten to an S3 location, like
   `sam package` (HOT_RELOAD=1: CodeUri -> {Bucket: hot-reload, Key: <absolute dir>});
3. CloudFormation: one change set (create or update), executed and followed by polling the
   stack events every 0.25 s; a template + parameters identical to the deployed ones is a no-op;
4. wiring SAM cannot express for pre-existing resources: images-bucket -> thumbnail function;
5. outputs (ApiUrl rewritten to the LocalStack form) printed and written to .build/outputs.json.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

import stack as st
from stack import ROOT, client, log

BUILD_DIR = ROOT / ".build"
LAYER_DIR = BUILD_DIR / "layer"
REQUIREMENTS = ROOT / "requirements" / "functions.txt"
LAYER_RUNTIME = "python3.13"
# Lambda's python3.13 runs on Amazon Linux 2023 (glibc 2.34): manylinux2014 wheels and the
# newer manylinux_2_28 ones (Pillow >= 12 ships only those) both load there.
LAYER_PLATFORMS = ("manylinux2014_x86_64", "manylinux_2_28_x86_64", "manylinux_2_34_x86_64")
HOT_RELOAD_BUCKET = "hot-reload"
POLL_SECONDS = 0.25
# CloudFormation's limit for an inline TemplateBody; larger templates go through S3.
MAX_INLINE_TEMPLATE = 51_200
UPLOADS_PREFIX = "uploads/"
# Files never shipped with the function code.
EXCLUDE_DIRS = {"__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache"}
EXCLUDE_SUFFIXES = (".pyc", ".pyo")
# A fixed timestamp makes the zips byte-identical for identical sources.
ZIP_DATE = (1980, 1, 1, 0, 0, 0)

TERMINAL_OK = {"CREATE_COMPLETE", "UPDATE_COMPLETE", "IMPORT_COMPLETE"}
TERMINAL_BAD = {
    "CREATE_FAILED",
    "ROLLBACK_COMPLETE",
    "ROLLBACK_FAILED",
    "UPDATE_ROLLBACK_COMPLETE",
    "UPDATE_ROLLBACK_FAILED",
    "UPDATE_FAILED",
    "DELETE_FAILED",
    "DELETE_COMPLETE",
}
# A stack in one of these states cannot be updated: it is deleted and created again.
RECREATE = {"ROLLBACK_COMPLETE", "ROLLBACK_FAILED", "CREATE_FAILED", "DELETE_FAILED"}

# Data-layer names (created by init-aws.sh), overridable by the same env vars it reads.
DATA_LAYER_DEFAULTS = {
    "USERS_TABLE": "users",
    "ORDERS_TABLE": "orders",
    "IDEMPOTENCY_TABLE": "idempotency",
    "INVENTORY_TABLE": "inventory",
    "IMAGES_BUCKET": "images-bucket",
    "ARCHIVE_BUCKET": "stream-archive-bucket",
    "ORDERS_QUEUE": "orders-queue",
    "ORDERS_DLQ": "orders-dlq",
    "SES_SENDER": "orders@example.com",
    "EVENTS_STREAM": "events-stream",
}


class DeployError(RuntimeError):
    """A deploy step failed; the message says which and why."""


def data_layer_name(var: str) -> str:
    return os.environ.get(var) or DATA_LAYER_DEFAULTS[var]


def sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --- artifacts bucket -----------------------------------------------------------------------


def artifacts_bucket(stack_name: str) -> str:
    return f"{stack_name.lower()}-artifacts"


def ensure_bucket(name: str) -> None:
    s3 = client("s3")
    try:
        s3.head_bucket(Bucket=name)
        return
    except ClientError as e:
        if e.response["Error"]["Code"] not in ("404", "NoSuchBucket", "NotFound"):
            raise
    kwargs: dict[str, Any] = {"Bucket": name}
    if st.region() != "us-east-1":
        kwargs["CreateBucketConfiguration"] = {"LocationConstraint": st.region()}
    try:
        s3.create_bucket(**kwargs)
        log(f"created artifacts bucket s3://{name}")
    except ClientError as e:
        if e.response["Error"]["Code"] != "BucketAlreadyOwnedByYou":
            raise


def object_exists(bucket: str, key: str) -> bool:
    try:
        client("s3").head_object(Bucket=bucket, Key=key)
        return True
    except ClientError as e:
        if e.response["Error"]["Code"] in ("404", "NoSuchKey", "NotFound"):
            return False
        raise


def upload_once(bucket: str, key: str, build: Any) -> None:
    """Upload the bytes `build()` returns unless the (content-addressed) key already exists."""
    if object_exists(bucket, key):
        return
    client("s3").put_object(Bucket=bucket, Key=key, Body=build())
    log(f"uploaded s3://{bucket}/{key}")


# --- zips -----------------------------------------------------------------------------------


def iter_files(src: Path) -> list[Path]:
    files = []
    for dirpath, dirnames, filenames in os.walk(src):
        dirnames[:] = sorted(
            d for d in dirnames if d not in EXCLUDE_DIRS and not d.endswith(".egg-info")
        )
        for name in sorted(filenames):
            if not name.endswith(EXCLUDE_SUFFIXES):
                files.append(Path(dirpath) / name)
    return files


def tree_hash(src: Path) -> str:
    h = hashlib.sha256()
    for f in iter_files(src):
        h.update(f.relative_to(src).as_posix().encode() + b"\0")
        h.update(hashlib.sha256(f.read_bytes()).digest())
    return h.hexdigest()


def zip_tree(src: Path, prefix: str = "") -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as zf:
        for f in iter_files(src):
            info = zipfile.ZipInfo(prefix + f.relative_to(src).as_posix(), ZIP_DATE)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, f.read_bytes())
    return buf.getvalue()


# --- dependencies layer ---------------------------------------------------------------------


def requirements_hash(requirements: Path = REQUIREMENTS) -> str:
    h = hashlib.sha256(requirements.read_bytes())
    h.update(f"{LAYER_RUNTIME}/{','.join(LAYER_PLATFORMS)}".encode())
    return h.hexdigest()


def build_layer(requirements: Path = REQUIREMENTS) -> tuple[Path, str]:
    """pip-install the requirements for the Lambda platform; cached by the requirements hash."""
    digest = requirements_hash(requirements)
    marker = LAYER_DIR / ".hash"
    zip_path = BUILD_DIR / f"layer-{digest[:16]}.zip"
    if marker.exists() and marker.read_text().strip() == digest and zip_path.exists():
        return zip_path, digest
    t0 = time.monotonic()
    log(f"building dependencies layer from {requirements.relative_to(ROOT)} ...")
    BUILD_DIR.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix="layer-", dir=BUILD_DIR))
    try:
        cmd = [
            sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
            "--no-compile", *(a for p in LAYER_PLATFORMS for a in ("--platform", p)),
            "--python-version", LAYER_RUNTIME.removeprefix("python"),
            "--implementation", "cp", "--only-binary=:all:",
            "--target", str(staging / "python"), "-r", str(requirements),
        ]  # fmt: skip
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            raise DeployError(f"pip could not build the layer:\n{proc.stderr or proc.stdout}")
        for old in BUILD_DIR.glob("layer-*.zip"):
            old.unlink()
        zip_path.write_bytes(zip_tree(staging))  # zip holds python/... as Lambda layers expect
        shutil.rmtree(LAYER_DIR, ignore_errors=True)
        staging.rename(LAYER_DIR)
        marker.write_text(digest + "\n")
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    size = zip_path.stat().st_size / 1e6
    log(f"built layer in {time.monotonic() - t0:.1f}s ({size:.1f} MB zipped)")
    return zip_path, digest


def publish_layer(stack_name: str, bucket: str, requirements: Path = REQUIREMENTS) -> str:
    """The ARN of a layer version built from exactly these requirements (published if needed)."""
    lam = client("lambda")
    layer_name = f"{stack_name}-dependencies"
    digest = requirements_hash(requirements)
    tag = f"requirements sha256:{digest[:16]}"
    try:
        versions = lam.list_layer_versions(LayerName=layer_name).get("LayerVersions", [])
    except ClientError as e:
        if e.response["Error"]["Code"] != "ResourceNotFoundException":
            raise
        versions = []
    for v in versions:  # newest first
        if v.get("Description") == tag:
            return v["LayerVersionArn"]
    zip_path, _ = build_layer(requirements)
    key = f"layers/{digest[:16]}.zip"
    upload_once(bucket, key, zip_path.read_bytes)
    resp = lam.publish_layer_version(
        LayerName=layer_name,
        Description=tag,
        Content={"S3Bucket": bucket, "S3Key": key},
        CompatibleRuntimes=[LAYER_RUNTIME],
        CompatibleArchitectures=["x86_64"],
    )
    log(f"published layer {layer_name}:{resp['Version']}")
    return resp["LayerVersionArn"]


# --- template -------------------------------------------------------------------------------


def load_template(path: Path) -> dict[str, Any]:
    """Parse YAML with CloudFormation tags (!Ref, !Sub ...) into plain JSON-able data.

    SAM's own parser (the one `sam` and `aws cloudformation package` use): importing cfn-lint's
    loader instead cost ~0.7 s of every deploy. Duplicate keys are cfn-lint's job (`make lint`).
    """
    from samtranslator.yaml_helper import yaml_parse

    return json.loads(json.dumps(yaml_parse(path.read_text()) or {}))


def _local_path(value: Any, base: Path) -> Path | None:
    if not isinstance(value, str) or value.startswith("s3://"):
        return None
    p = (base / value).resolve()
    return p if p.exists() else None


class Packager:
    """Uploads local artifacts referenced by the template, once per content hash."""

    def __init__(self, bucket: str, base: Path, hot_reload: bool) -> None:
        self.bucket = bucket
        self.base = base
        self.hot_reload = hot_reload
        self._done: dict[Path, dict[str, str]] = {}

    def code(self, value: Any) -> Any:
        path = _local_path(value, self.base)
        if path is None:
            return value
        if self.hot_reload and path.is_dir():
            # LocalStack serves the directory itself: handler edits apply without a redeploy.
            return {"Bucket": HOT_RELOAD_BUCKET, "Key": str(path)}
        return self.upload(path)

    def upload(self, path: Path) -> dict[str, str]:
        if path not in self._done:
            if path.is_dir():
                digest = tree_hash(path)
                key = f"code/{path.name}-{digest[:16]}.zip"
                upload_once(self.bucket, key, lambda: zip_tree(path))
            else:
                digest = sha256_file(path)
                key = f"files/{path.stem}-{digest[:16]}{path.suffix}"
                upload_once(self.bucket, key, path.read_bytes)
            self._done[path] = {"Bucket": self.bucket, "Key": key}
        return self._done[path]


def package_template(template: dict[str, Any], packager: Packager) -> dict[str, Any]:
    """Rewrite local CodeUri / DefinitionUri / ContentUri to S3 locations (like `sam package`)."""
    glob_fn = template.get("Globals", {}).get("Function", {})
    if "CodeUri" in glob_fn:
        glob_fn["CodeUri"] = packager.code(glob_fn["CodeUri"])
    for res in template.get("Resources", {}).values():
        props = res.get("Properties") or {}
        rtype = res.get("Type")
        if rtype == "AWS::Serverless::Function" and "CodeUri" in props:
            props["CodeUri"] = packager.code(props["CodeUri"])
        elif rtype in ("AWS::Serverless::StateMachine", "AWS::Serverless::Api",
                       "AWS::Serverless::HttpApi") and "DefinitionUri" in props:  # fmt: skip
            path = _local_path(props["DefinitionUri"], packager.base)
            if path is not None:
                props["DefinitionUri"] = packager.upload(path)
        elif rtype == "AWS::Serverless::LayerVersion" and "ContentUri" in props:
            path = _local_path(props["ContentUri"], packager.base)
            if path is not None:
                props["ContentUri"] = packager.upload(path)
        elif rtype == "AWS::Lambda::Function" and isinstance(props.get("Code"), str):
            path = _local_path(props["Code"], packager.base)
            if path is not None:
                loc = packager.code(props["Code"])
                props["Code"] = {"S3Bucket": loc["Bucket"], "S3Key": loc["Key"]}
    return template


# --- parameters -----------------------------------------------------------------------------


def _table_stream_arn(table: str) -> str:
    desc = client("dynamodb").describe_table(TableName=table)["Table"]
    arn = desc.get("LatestStreamArn")
    if not arn:
        raise DeployError(f"table {table} has no stream (init-aws.sh enables it)")
    return arn


def _queue_url(queue: str) -> str:
    return client("sqs").get_queue_url(QueueName=queue)["QueueUrl"]


def _bucket_arn(bucket: str) -> str:
    return f"arn:aws:s3:::{bucket}"


def _from(var: str, kind: str = "name") -> Any:
    def resolve() -> str:
        value = data_layer_name(var)
        return _table_stream_arn(value) if kind == "stream" else value

    return resolve


# template.yaml's data-layer parameters -> their values in this environment. Parameters not
# listed keep their template default; PARAM_<Name>=value in the environment overrides any.
PARAMETERS: dict[str, Any] = {
    "UsersTableName": _from("USERS_TABLE"),
    "UsersTableStreamArn": _from("USERS_TABLE", "stream"),
    "OrdersTableName": _from("ORDERS_TABLE"),
    "InventoryTableName": _from("INVENTORY_TABLE"),
    "IdempotencyTableName": _from("IDEMPOTENCY_TABLE"),
    "ImagesBucketName": _from("IMAGES_BUCKET"),
    "StreamArchiveBucketName": _from("ARCHIVE_BUCKET"),
    "OrdersQueueName": _from("ORDERS_QUEUE"),
    "OrdersDlqName": _from("ORDERS_DLQ"),
    "EventsStreamName": _from("EVENTS_STREAM"),
    "SenderEmail": _from("SES_SENDER"),
}
LAYER_PARAMETER = "DependenciesLayerArn"


def resolve_parameter(name: str, layer_arn: str | None) -> str | None:
    """Value for a template parameter, or None to keep its default."""
    override = os.environ.get(f"PARAM_{name}")
    if override is not None:
        return override
    if name == LAYER_PARAMETER:
        return layer_arn
    resolver = PARAMETERS.get(name)
    return resolver() if resolver else None


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


# --- CloudFormation -------------------------------------------------------------------------


def stack_status(stack_name: str) -> str | None:
    cfn = client("cloudformation")
    try:
        return cfn.describe_stacks(StackName=stack_name)["Stacks"][0]["StackStatus"]
    except ClientError as e:
        if "does not exist" in e.response["Error"].get("Message", ""):
            return None
        raise


def _same_deployment(stack_name: str, body: str, params: list[dict[str, str]]) -> bool:
    """True when the stack already runs exactly this template with these parameters."""
    cfn = client("cloudformation")
    try:
        current = cfn.get_template(StackName=stack_name, TemplateStage="Original")["TemplateBody"]
        deployed = cfn.describe_stacks(StackName=stack_name)["Stacks"][0].get("Parameters", [])
    except ClientError:
        return False
    if isinstance(current, dict):
        current = json.dumps(current, separators=(",", ":"), sort_keys=True)
    try:
        same_body = json.loads(current) == json.loads(body)
    except (TypeError, ValueError):
        same_body = current == body
    have = {p["ParameterKey"]: p.get("ParameterValue") for p in deployed}
    want = {p["ParameterKey"]: p["ParameterValue"] for p in params}
    return same_body and all(have.get(k) == v for k, v in want.items())


class EventPrinter:
    """Prints stack events once each, oldest first, as they appear."""

    def __init__(self, stack_name: str, since: float) -> None:
        self.stack_name = stack_name
        self.since = since
        self.seen: set[str] = set()
        self.failures: list[dict[str, Any]] = []

    def poll(self) -> None:
        cfn = client("cloudformation")
        try:
            events = cfn.describe_stack_events(StackName=self.stack_name)["StackEvents"]
        except ClientError:
            return
        fresh = [
            e
            for e in events
            if e["EventId"] not in self.seen and e["Timestamp"].timestamp() >= self.since - 1
        ]
        for e in sorted(fresh, key=lambda e: e["Timestamp"]):
            self.seen.add(e["EventId"])
            status = e.get("ResourceStatus", "")
            reason = e.get("ResourceStatusReason") or ""
            line = f"  {status:<28} {e.get('ResourceType', ''):<36} {e['LogicalResourceId']}"
            if "FAILED" in status:
                self.failures.append(e)
                line += f"  -- {reason}"
            log(line)


def wait_stack(stack_name: str, since: float, timeout: float = 600) -> str:
    printer = EventPrinter(stack_name, since)
    deadline = time.monotonic() + timeout
    cfn = client("cloudformation")
    while True:
        printer.poll()
        stack = cfn.describe_stacks(StackName=stack_name)["Stacks"][0]
        status = stack["StackStatus"]
        if status in TERMINAL_OK or status in TERMINAL_BAD:
            printer.poll()
            if status in TERMINAL_BAD:
                why = [
                    f"{e['LogicalResourceId']} ({e.get('ResourceType')}): "
                    f"{e.get('ResourceStatusReason') or 'no reason given'}"
                    for e in printer.failures
                    if e["LogicalResourceId"] != stack_name
                ] or [stack.get("StackStatusReason") or "no reason given"]
                raise DeployError(f"stack {stack_name} ended {status}:\n  " + "\n  ".join(why))
            return status
        if time.monotonic() > deadline:
            raise DeployError(f"stack {stack_name} still {status} after {timeout:.0f}s")
        time.sleep(POLL_SECONDS)


def delete_stack(stack_name: str, attempts: int = 2) -> None:
    """Delete the stack and wait; a DELETE_FAILED is retried once (LocalStack sometimes fails
    to delete a resource a failed update left half-replaced, and succeeds the second time)."""
    cfn = client("cloudformation")
    for attempt in range(1, attempts + 1):
        cfn.delete_stack(StackName=stack_name)
        started = time.monotonic()
        while (status := stack_status(stack_name)) not in (None, "DELETE_COMPLETE"):
            # a retry may still show the previous attempt's DELETE_FAILED for a moment
            settled = attempt == 1 or time.monotonic() - started > 5
            if (status == "DELETE_FAILED" and settled) or time.monotonic() - started > 300:
                break
            time.sleep(POLL_SECONDS)
        else:
            return
        if attempt == attempts:
            raise DeployError(f"could not delete stack {stack_name}: {status}")
        log(f"stack {stack_name} is {status}: deleting it again")


def deploy_stack(stack_name: str, body: str, params: list[dict[str, str]], bucket: str) -> str:
    """Create or update the stack through one change set; returns what happened."""
    cfn = client("cloudformation")
    status = stack_status(stack_name)
    if status in RECREATE:
        log(f"stack {stack_name} is {status}: deleting it before creating it again")
        delete_stack(stack_name)
        status = None
    if status and status.endswith("_IN_PROGRESS") and status != "REVIEW_IN_PROGRESS":
        log(f"stack {stack_name} is {status}: waiting for it to settle")
        try:
            wait_stack(stack_name, time.time())
        except DeployError as e:
            log(str(e))
        return deploy_stack(stack_name, body, params, bucket)
    # Only a cleanly deployed stack can be "unchanged" (after a rollback, the template
    # CloudFormation reports may be the one that failed).
    if status in ("CREATE_COMPLETE", "UPDATE_COMPLETE") and _same_deployment(
        stack_name, body, params
    ):
        return "unchanged"

    change_type = "UPDATE" if status and status != "REVIEW_IN_PROGRESS" else "CREATE"
    template_arg: dict[str, str] = {"TemplateBody": body}
    if len(body.encode()) > MAX_INLINE_TEMPLATE:  # go through S3 like sam
        key = f"templates/{hashlib.sha256(body.encode()).hexdigest()[:16]}.json"
        upload_once(bucket, key, body.encode)
        url = (
            f"{st.endpoint_url()}/{bucket}/{key}"
            if st.is_local()
            else f"https://{bucket}.s3.{st.region()}.amazonaws.com/{key}"
        )
        template_arg = {"TemplateURL": url}
    name = f"deploy-{int(time.time() * 1000)}"
    since = time.time()
    cfn.create_change_set(
        StackName=stack_name,
        ChangeSetName=name,
        ChangeSetType=change_type,
        Parameters=params,
        Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"],
        **template_arg,
    )
    deadline = time.monotonic() + 120
    while True:
        cs = cfn.describe_change_set(StackName=stack_name, ChangeSetName=name)
        if cs["Status"] == "CREATE_COMPLETE":
            break
        if cs["Status"] == "FAILED":
            reason = cs.get("StatusReason") or ""
            if "didn't contain changes" in reason or "No updates" in reason:
                cfn.delete_change_set(StackName=stack_name, ChangeSetName=name)
                return "unchanged"
            raise DeployError(f"change set failed: {reason}")
        if time.monotonic() > deadline:
            raise DeployError(f"change set still {cs['Status']} after 120s")
        time.sleep(0.2)
    if change_type == "UPDATE" and not cs.get("Changes"):
        cfn.delete_change_set(StackName=stack_name, ChangeSetName=name)
        return "unchanged"
    log(f"{'creating' if change_type == 'CREATE' else 'updating'} stack {stack_name} ...")
    cfn.execute_change_set(StackName=stack_name, ChangeSetName=name)
    return wait_stack(stack_name, since)


# --- wiring SAM cannot express -----------------------------------------------------------------


def _s3_may_invoke(fn_arn: str, bucket: str) -> bool:
    lam = client("lambda")
    try:
        policy = json.loads(lam.get_policy(FunctionName=fn_arn)["Policy"])
    except ClientError as e:
        if e.response["Error"]["Code"] == "ResourceNotFoundException":
            return False
        raise
    for stmt in policy.get("Statement", []):
        principal = stmt.get("Principal")
        service = principal.get("Service") if isinstance(principal, dict) else principal
        source = (stmt.get("Condition", {}).get("ArnLike", {}) or {}).get("AWS:SourceArn")
        if service == "s3.amazonaws.com" and source in (None, _bucket_arn(bucket)):
            return True
    return False


def _prefix(config: dict[str, Any]) -> str:
    rules = config.get("Filter", {}).get("Key", {}).get("FilterRules", [])
    return next((r["Value"] for r in rules if r.get("Name", "").lower() == "prefix"), "")


def _shape(config: dict[str, Any]) -> tuple[str, tuple[str, ...], str]:
    """What a notification does, whatever the spelling S3 returns it in ("Prefix"/"prefix")."""
    return config.get("LambdaFunctionArn", ""), tuple(sorted(config["Events"])), _prefix(config)


def _overlapping(configs: list[dict[str, Any]], config_id: str) -> list[dict[str, Any]]:
    """Other configurations whose prefix overlaps uploads/ (AWS refuses such overlaps)."""
    found = []
    for c in configs:
        if c.get("Id") == config_id:
            continue
        prefix = _prefix(c)
        if UPLOADS_PREFIX.startswith(prefix) or prefix.startswith(UPLOADS_PREFIX):
            found.append(c)
    return found


def wire_thumbnail_notification(stack_name: str, outputs: dict[str, str]) -> str | None:
    """images-bucket (owned by the data layer) -> thumbnail function, prefix uploads/."""
    fn_arn = outputs.get("ThumbnailFunctionArn")
    if not fn_arn:
        return None
    bucket = data_layer_name("IMAGES_BUCKET")
    s3, lam = client("s3"), client("lambda")
    account = fn_arn.split(":")[4]
    if not _s3_may_invoke(fn_arn, bucket):  # the template usually grants it already
        lam.add_permission(
            FunctionName=fn_arn,
            StatementId=f"{bucket}-invoke",
            Action="lambda:InvokeFunction",
            Principal="s3.amazonaws.com",
            SourceArn=_bucket_arn(bucket),
            SourceAccount=account,
        )
    config_id = f"{stack_name}-thumbnail"
    current = s3.get_bucket_notification_configuration(Bucket=bucket)
    current.pop("ResponseMetadata", None)
    ours = {
        "Id": config_id,
        "LambdaFunctionArn": fn_arn,
        "Events": ["s3:ObjectCreated:*"],
        "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": UPLOADS_PREFIX}]}},
    }
    existing = current.get("LambdaFunctionConfigurations", [])
    same = [c for c in existing if c.get("Id") == config_id and _shape(c) == _shape(ours)]
    if same and not _overlapping(existing, config_id):
        return f"s3://{bucket}/{UPLOADS_PREFIX}* -> {fn_arn.rsplit(':', 1)[-1]}"
    # AWS rejects overlapping prefixes for one event type: an older wiring of uploads/ (another
    # stack name, a stale function) is replaced, not added to.
    for c in _overlapping(existing, config_id):
        log(f"replacing notification {c.get('Id')} on s3://{bucket}/{UPLOADS_PREFIX}")
    keep = [
        c
        for c in existing
        if c.get("Id") != config_id and c not in _overlapping(existing, config_id)
    ]
    current["LambdaFunctionConfigurations"] = [*keep, ours]
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration=current)
    return f"s3://{bucket}/{UPLOADS_PREFIX}* -> {fn_arn.rsplit(':', 1)[-1]}"


def wait_event_sources(stack_name: str, timeout: float = 30) -> int:
    """Wait until the stack's event source mappings are Enabled (pollers running), so events
    sent right after the deploy (a LATEST stream position in particular) are not missed."""
    names = set(st.stack_functions(stack_name).values())
    lam = client("lambda")
    deadline = time.monotonic() + timeout
    while True:
        mappings = [
            m
            for page in lam.get_paginator("list_event_source_mappings").paginate()
            for m in page["EventSourceMappings"]
            if m["FunctionArn"].rsplit(":", 1)[-1] in names
        ]
        pending = [m for m in mappings if m["State"] not in ("Enabled", "Disabled")]
        if not pending:
            return len(mappings)
        if time.monotonic() > deadline:
            states = ", ".join(
                f"{m['FunctionArn'].rsplit(':', 1)[-1]}: {m['State']}" for m in pending
            )
            raise DeployError(f"event source mappings not enabled after {timeout:.0f}s: {states}")
        time.sleep(0.2)


# --- outputs --------------------------------------------------------------------------------


def collect_outputs(stack_name: str) -> dict[str, str]:
    outputs = st.describe_outputs(stack_name)
    if "ApiUrl" in outputs:
        outputs["ApiUrl"] = st.api_url_for_endpoint(outputs["ApiUrl"]).rstrip("/")
    if st.is_local():
        # queue URLs in the form the endpoint serves (the AWS form works too, but is misleading)
        for key, value in list(outputs.items()):
            if key.endswith("QueueUrl") and value.startswith("https://sqs."):
                try:
                    outputs[key] = _queue_url(value.rstrip("/").rsplit("/", 1)[-1])
                except ClientError:
                    pass
    return outputs


def write_outputs(stack_name: str, outputs: dict[str, str]) -> None:
    BUILD_DIR.mkdir(parents=True, exist_ok=True)
    data = {"_stack": stack_name, "_endpoint": st.endpoint_url(), **outputs}
    # one temp file per process: deploys to other ports may finish at the same moment
    tmp = st.OUTPUTS_FILE.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    tmp.replace(st.OUTPUTS_FILE)


def deploy(
    template_path: Path | None = None,
    stack_name: str | None = None,
    hot_reload: bool | None = None,
) -> dict[str, str]:
    """Deploy and return the stack outputs (ApiUrl in its reachable form)."""
    t0 = time.monotonic()
    template_path = (template_path or ROOT / "template.yaml").resolve()
    stack_name = stack_name or st.stack_name()
    if hot_reload is None:
        hot_reload = os.environ.get("HOT_RELOAD", "0") not in ("", "0", "false", "False")
    if hot_reload and not st.is_local():
        raise DeployError("HOT_RELOAD=1 only works against LocalStack")
    if not template_path.exists():
        raise DeployError(f"no template at {template_path}")

    template = load_template(template_path)
    bucket = artifacts_bucket(stack_name)
    ensure_bucket(bucket)
    needs_layer = LAYER_PARAMETER in template.get("Parameters", {})
    layer_arn = publish_layer(stack_name, bucket) if needs_layer else None
    packager = Packager(bucket, template_path.parent, hot_reload)
    template = package_template(template, packager)
    body = json.dumps(template, separators=(",", ":"), sort_keys=True)
    params = stack_parameters(template, layer_arn)
    result = deploy_stack(stack_name, body, params, bucket)

    outputs = collect_outputs(stack_name)
    wired = wire_thumbnail_notification(stack_name, outputs)
    wait_event_sources(stack_name)
    write_outputs(stack_name, outputs)
    outputs["_result"] = result
    outputs["_seconds"] = f"{time.monotonic() - t0:.1f}"
    if wired:
        outputs["_wired"] = wired
    return outputs


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--template", type=Path, default=ROOT / "template.yaml")
    ap.add_argument("--stack-name", default=None)
    ap.add_argument("--hot-reload", action="store_true", default=None)
    args = ap.parse_args(argv)
    if problem := st.check_endpoint():
        log(f"deploy failed: {problem}")
        return 1
    try:
        outputs = deploy(args.template, args.stack_name, args.hot_reload)
    except DeployError as e:
        log(f"deploy failed: {e}")
        return 1
    except ClientError as e:
        log(f"deploy failed: {e}")
        return 1
    name = args.stack_name or st.stack_name()
    print(f"stack {name}: {outputs.pop('_result')} in {outputs.pop('_seconds')}s")
    if "_wired" in outputs:
        print(f"  wired {outputs.pop('_wired')}")
    width = max((len(k) for k in outputs), default=0)
    for key in sorted(outputs):
        print(f"  {key:<{width}}  {outputs[key]}")
    print(f"  (written to {st.OUTPUTS_FILE.relative_to(ROOT)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
