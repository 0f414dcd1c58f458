"""The app's wiring SAM cannot express: images-bucket belongs to the data layer (init-aws.sh),
not to the stack, so its S3 -> thumbnail-function notification is put in place after the
deploy (idempotent; an older wiring of the same prefix is replaced, other ones are kept).
"""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

import data_layer
import stack as st
from stack import log

UPLOADS_PREFIX = "uploads/"


def bucket_arn(bucket: str) -> str:
    return f"arn:aws:s3:::{bucket}"


def _s3_may_invoke(fn_arn: str, bucket: str) -> bool:
    lam = st.client("lambda")
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
        if service == "s3.amazonaws.com" and source in (None, bucket_arn(bucket)):
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
    bucket = data_layer.name("IMAGES_BUCKET")
    s3, lam = st.client("s3"), st.client("lambda")
    account = fn_arn.split(":")[4]
    if not _s3_may_invoke(fn_arn, bucket):  # the template usually grants it already
        lam.add_permission(
            FunctionName=fn_arn,
            StatementId=f"{bucket}-invoke",
            Action="lambda:InvokeFunction",
            Principal="s3.amazonaws.com",
            SourceArn=bucket_arn(bucket),
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
