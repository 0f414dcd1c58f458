"""Packaging for the deploy: the artifacts bucket, deterministic zips, the dependencies layer
and the template rewrite that points CodeUri / DefinitionUri / ContentUri at S3 (like
`sam package`). Every upload is keyed by content hash, so an unchanged input is never rebuilt
or uploaded twice.
"""

from __future__ import annotations

import fcntl
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
from content_hash import (
    LAYER_PLATFORMS,
    LAYER_RUNTIME,
    REQUIREMENTS,
    iter_files,
    requirements_hash,
    sha256_file,
    tree_hash,
)
from endpoint import is_local, region
from stack import BUILD_DIR, ROOT, DeployError, log

LAYER_DIR = BUILD_DIR / "layer"
TEMPLATE_CACHE = BUILD_DIR / "template-parsed"
HOT_RELOAD_BUCKET = "hot-reload"
# A fixed timestamp makes the zips byte-identical for identical sources.
ZIP_DATE = (1980, 1, 1, 0, 0, 0)


# --- artifacts bucket -----------------------------------------------------------------------


def artifacts_bucket(stack_name: str) -> str:
    return f"{stack_name.lower()}-artifacts"


def ensure_bucket(name: str) -> None:
    s3 = st.client("s3")
    try:
        s3.head_bucket(Bucket=name)
        return
    except ClientError as e:
        if e.response["Error"]["Code"] not in ("404", "NoSuchBucket", "NotFound"):
            raise
    kwargs: dict[str, Any] = {"Bucket": name}
    if region() != "us-east-1":
        kwargs["CreateBucketConfiguration"] = {"LocationConstraint": region()}
    try:
        s3.create_bucket(**kwargs)
        log(f"created artifacts bucket s3://{name}")
    except ClientError as e:
        if e.response["Error"]["Code"] != "BucketAlreadyOwnedByYou":
            raise


def object_exists(bucket: str, key: str) -> bool:
    try:
        st.client("s3").head_object(Bucket=bucket, Key=key)
        return True
    except ClientError as e:
        if e.response["Error"]["Code"] in ("404", "NoSuchKey", "NotFound"):
            return False
        raise


def upload_once(bucket: str, key: str, build: Any) -> None:
    """Upload the bytes `build()` returns unless the (content-addressed) key already exists."""
    if object_exists(bucket, key):
        return
    st.client("s3").put_object(Bucket=bucket, Key=key, Body=build())
    log(f"uploaded s3://{bucket}/{key}")


# --- zips -----------------------------------------------------------------------------------


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


def build_layer(requirements: Path = REQUIREMENTS, build_dir: Path = BUILD_DIR
                ) -> tuple[Path, str]:
    """pip-install the requirements for the Lambda platform; cached by the requirements hash.
    Deploys running at once (two stacks, parallel tests) build it once: the second waits.
    (`build_dir` other than .build/: the bench times a build from scratch in a scratch dir.)"""
    build_dir.mkdir(parents=True, exist_ok=True)
    with (build_dir / "layer.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return _build_layer_locked(requirements, build_dir)


def _build_layer_locked(requirements: Path, build_dir: Path) -> tuple[Path, str]:
    digest = requirements_hash(requirements)
    layer_dir = build_dir / LAYER_DIR.name
    marker = layer_dir / ".hash"
    zip_path = build_dir / f"layer-{digest[:16]}.zip"
    if marker.exists() and marker.read_text().strip() == digest and zip_path.exists():
        return zip_path, digest
    t0 = time.monotonic()
    log(f"building dependencies layer from {requirements.relative_to(ROOT)} ...")
    staging = Path(tempfile.mkdtemp(prefix="layer-", dir=build_dir))
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
        for old in build_dir.glob("layer-*.zip"):
            old.unlink()
        zip_path.write_bytes(zip_tree(staging))  # zip holds python/... as Lambda layers expect
        shutil.rmtree(layer_dir, ignore_errors=True)
        staging.rename(layer_dir)
        marker.write_text(digest + "\n")
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    size = zip_path.stat().st_size / 1e6
    log(f"built layer in {time.monotonic() - t0:.1f}s ({size:.1f} MB zipped)")
    return zip_path, digest


def layer_version_tagged(tag: str, own: str) -> str | None:
    """The newest version of a layer published from the same requirements (`tag`): of the
    stack's `own` layer if that is one, else of another stack's. One call for a redeploy.

    A layer version is immutable, so one built from the same requirements serves every stack of
    the account: a new stack name then neither uploads and publishes ~30 MB again nor makes
    LocalStack unzip it again before its first function can start (~1-3 s of a first deploy).
    """
    found = None
    paginator = st.client("lambda").get_paginator("list_layers")
    try:
        for page in paginator.paginate(CompatibleRuntime=LAYER_RUNTIME):
            for layer in page.get("Layers", []):
                latest = layer.get("LatestMatchingVersion") or {}
                if latest.get("Description") == tag:
                    if layer.get("LayerName") == own:
                        return latest["LayerVersionArn"]
                    found = found or latest["LayerVersionArn"]
    except ClientError as e:
        # LocalStack 4.14 answers ListLayers with a 500 ("list index out of range") once any
        # layer has lost its last version (`make remove-serverless` deletes its layer's): the
        # stack's own layer is still looked up by name (publish_layer), nothing is shared.
        if not is_local() or e.response["Error"]["Code"] not in ("InternalError",
                                                                  "ServiceException"):
            raise
        log(f"LocalStack could not list the layers ({e.response['Error'].get('Message')}): "
            "using the stack's own layer versions")
    return found


def publish_layer(stack_name: str, bucket: str, requirements: Path = REQUIREMENTS) -> str:
    """The ARN of a layer version built from exactly these requirements: the newest one of any
    stack (layer_version_tagged), else an older one of the stack's own layer (requirements
    changed back), else one built and published now as `<stack>-dependencies`."""
    lam = st.client("lambda")
    layer_name = f"{stack_name}-dependencies"
    digest = requirements_hash(requirements)
    tag = f"requirements sha256:{digest[:16]}"
    if arn := layer_version_tagged(tag, layer_name):
        return arn
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
    loader instead cost ~0.7 s of every deploy. Duplicate keys are cfn-lint's job (template_check,
    before every deploy). The result is kept under .build/ by content hash: importing the
    parser and parsing took ~0.1 s (0.3 s on a busy machine) of every redeploy.
    """
    text = path.read_bytes()
    cached = TEMPLATE_CACHE / f"{hashlib.sha256(text).hexdigest()}.json"
    try:
        return json.loads(cached.read_text())
    except (OSError, ValueError):
        pass
    from samtranslator.yaml_helper import yaml_parse

    parsed = json.dumps(yaml_parse(text.decode()) or {})
    TEMPLATE_CACHE.mkdir(parents=True, exist_ok=True)
    tmp = cached.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(parsed)
    tmp.replace(cached)
    return json.loads(parsed)


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
        self.digests: dict[str, str] = {}  # local path -> content hash, of what was packaged

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
            self.digests[str(path)] = digest
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
