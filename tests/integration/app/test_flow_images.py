"""S3 upload under uploads/ -> thumbnail function (S3 notification) -> thumbnails/<name>.jpg."""

from __future__ import annotations

import io
import json
import time

import pytest
from PIL import Image

from polling import wait_until

from .helpers import App, unique

pytestmark = pytest.mark.integration


def png(width: int, height: int) -> bytes:
    buf = io.BytesIO()
    Image.new("RGBA", (width, height), (200, 30, 30, 128)).save(buf, "PNG")
    return buf.getvalue()


def log_records(app: App, function: str, start_ms: int) -> list[dict]:
    """The function's structured (JSON) log lines since start_ms."""
    logs = app.client("logs")
    group = f"/aws/lambda/{function}"
    records = []
    try:
        pages = logs.get_paginator("filter_log_events").paginate(
            logGroupName=group, startTime=start_ms
        )
        for page in pages:
            for e in page["events"]:
                try:
                    records.append(json.loads(e["message"]))
                except ValueError:
                    continue
    except logs.exceptions.ResourceNotFoundException:
        return []
    return records


def now_ms() -> int:
    # LocalStack runs on this machine's clock; a second of slack covers rounding.
    return int(time.time() * 1000) - 1000


@pytest.fixture
def images(app: App, cleanup):
    s3 = app.client("s3")
    bucket = app.name("IMAGES_BUCKET")

    def put(key: str, body: bytes, content_type: str = "image/png") -> str:
        s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType=content_type)
        cleanup(lambda: s3.delete_object(Bucket=bucket, Key=key))
        return key

    def forget(key: str) -> None:
        cleanup(lambda: s3.delete_object(Bucket=bucket, Key=key))

    put.forget = forget  # type: ignore[attr-defined]
    put.bucket = bucket  # type: ignore[attr-defined]
    return put


def test_thumbnails_for_awkward_keys(app: App, images) -> None:
    s3 = app.client("s3")
    start = now_ms()
    uid = unique("img")
    # GIVEN uploads whose keys need URL-decoding in the S3 event (space, '+', non-ASCII)
    sources = {
        f"uploads/{uid}/holiday photo.png": f"thumbnails/{uid}/holiday photo.jpg",
        f"uploads/{uid}/a+b.png": f"thumbnails/{uid}/a+b.jpg",
        f"uploads/{uid}/фото-ü.png": f"thumbnails/{uid}/фото-ü.jpg",
    }
    for target in sources.values():
        images.forget(target)
    # WHEN they are uploaded (one large, one tall, one tiny)
    for (key, _), size in zip(sources.items(), [(1200, 800), (300, 900), (50, 40)], strict=True):
        images(key, png(*size))

    # THEN each gets a JPEG thumbnail that fits in 200x200, keeping the aspect ratio
    def all_thumbnails() -> dict[str, tuple[int, int]]:
        found = {}
        for target in sources.values():
            try:
                body = s3.get_object(Bucket=images.bucket, Key=target)["Body"].read()
            except s3.exceptions.NoSuchKey as e:
                raise AssertionError(f"no {target} yet") from e
            with Image.open(io.BytesIO(body)) as img:
                assert img.format == "JPEG"
                found[target] = img.size
        return found

    sizes = wait_until(all_thumbnails, timeout=30, what="thumbnails")
    assert all(w <= 200 and h <= 200 for w, h in sizes.values()), sizes
    assert sizes[f"thumbnails/{uid}/holiday photo.jpg"] == (200, 133)
    assert sizes[f"thumbnails/{uid}/a+b.jpg"] == (67, 200)
    assert sizes[f"thumbnails/{uid}/фото-ü.jpg"] == (50, 40)

    # AND the thumbnails did not trigger the function again (prefix filter on uploads/)
    listed = s3.list_objects_v2(Bucket=images.bucket, Prefix=f"thumbnails/{uid}/")["Contents"]
    assert sorted(o["Key"] for o in listed) == sorted(sources.values())
    listed = s3.list_objects_v2(Bucket=images.bucket, Prefix=f"thumbnails/thumbnails/{uid}")
    assert listed.get("KeyCount", 0) == 0

    # the function saw exactly our three uploads, once each, and none of its own thumbnails
    def created_logged() -> list[str]:
        seen = [
            r["key"]
            for r in log_records(app, app.function("Thumbnail"), start)
            if uid in str(r.get("key", "")) and r.get("message") == "thumbnail created"
        ]
        assert sorted(seen) == sorted(sources), seen
        return seen

    wait_until(created_logged, timeout=15, what="thumbnail logs")
    others = [
        r
        for r in log_records(app, app.function("Thumbnail"), start)
        if str(r.get("key", "")).startswith(f"thumbnails/{uid}")
    ]
    assert not others, others
    # and the wiring is what keeps it so: only uploads/ notifies the function
    config = s3.get_bucket_notification_configuration(Bucket=images.bucket)
    rules = [
        r["Value"]
        for c in config.get("LambdaFunctionConfigurations", [])
        if c["LambdaFunctionArn"].endswith(f":{app.function('Thumbnail')}")
        for r in c["Filter"]["Key"]["FilterRules"]
        if r["Name"].lower() == "prefix"
    ]
    assert rules == ["uploads/"]


def test_non_image_upload_is_skipped_once(app: App, images) -> None:
    fn = app.function("Thumbnail")
    start = now_ms()
    uid = unique("notimg")
    key = images(f"uploads/{uid}/notes.png", b"this is not a PNG", "image/png")
    images.forget(f"thumbnails/{uid}/notes.jpg")

    # THEN the function logs exactly one skip for it, and no error that would cause retries
    def skipped_once() -> list[dict]:
        mine = [r for r in log_records(app, fn, start) if r.get("key") == key]
        assert mine, f"no log records for {key} yet"
        return mine

    mine = wait_until(skipped_once, timeout=30, what="skip log")
    skips = [r for r in mine if "skipped" in str(r.get("message", ""))]
    assert len(skips) == 1, mine
    assert not [r for r in mine if r.get("level") in ("ERROR", "CRITICAL")], mine
    # AND no thumbnail was written
    s3 = app.client("s3")
    listed = s3.list_objects_v2(Bucket=images.bucket, Prefix=f"thumbnails/{uid}/")
    assert listed.get("KeyCount", 0) == 0
