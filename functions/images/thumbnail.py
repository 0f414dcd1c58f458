"""S3 `uploads/` object created -> JPEG thumbnail (fits in THUMBNAIL_SIZE x THUMBNAIL_SIZE).

`uploads/<path>/<name>.<ext>` becomes `thumbnails/<path>/<name>.jpg` in the same bucket.
Keys arrive URL-encoded in S3 events (spaces as '+'), hence unquote_plus. Anything that is not
an image Pillow can open, or is larger than MAX_SOURCE_BYTES, is logged and skipped: raising
would only make the asynchronous invoke retry a file that can never succeed. The notification
is filtered on the `uploads/` prefix and the code checks it again, so thumbnails never
re-trigger this function.
"""

from __future__ import annotations

import io
import posixpath
from typing import Any
from urllib.parse import unquote_plus

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import ClientError
from PIL import Image, ImageOps, UnidentifiedImageError

from common.aws import client
from common.dynamo import error_code
from common.settings import SETTINGS

logger = Logger()
s3 = client("s3")

SOURCE_PREFIX = "uploads/"
THUMBNAIL_PREFIX = "thumbnails/"
MAX_SOURCE_BYTES = 20 * 1024 * 1024
MAX_PIXELS = 50_000_000  # refuse decompression bombs well before Pillow's own limit
JPEG_QUALITY = 85


class NotAnImageError(Exception):
    """The object cannot be turned into a thumbnail; skip it."""


def thumbnail_key(source_key: str) -> str:
    relative = source_key[len(SOURCE_PREFIX) :]
    stem, _ = posixpath.splitext(relative)
    return f"{THUMBNAIL_PREFIX}{stem or relative}.jpg"


def make_thumbnail(data: bytes, size: int) -> bytes:
    try:
        with Image.open(io.BytesIO(data)) as img:
            if img.width * img.height > MAX_PIXELS:
                raise NotAnImageError(f"image too large ({img.width}x{img.height})")
            img = ImageOps.exif_transpose(img)  # keep phone photos upright
            img.thumbnail((size, size))
            if img.mode not in ("RGB", "L"):
                img = img.convert("RGB")  # JPEG has no alpha or palette
            out = io.BytesIO()
            img.save(out, "JPEG", quality=JPEG_QUALITY)
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, ValueError) as e:
        raise NotAnImageError(type(e).__name__) from e
    return out.getvalue()


def process_object(bucket: str, key: str, size: int) -> str | None:
    """Create the thumbnail for one object; returns its key, or None when skipped."""
    if not key.startswith(SOURCE_PREFIX) or key.endswith("/"):
        logger.info("skipped: not under uploads/", extra={"key": key})
        return None
    if size > MAX_SOURCE_BYTES:
        logger.warning("skipped: object too large", extra={"key": key, "size": size})
        return None
    try:
        data = s3.get_object(Bucket=bucket, Key=key)["Body"].read(MAX_SOURCE_BYTES + 1)
    except ClientError as e:
        if error_code(e) in ("NoSuchKey", "404"):
            logger.warning("skipped: object no longer exists", extra={"key": key})
            return None
        raise
    try:
        thumb = make_thumbnail(data, SETTINGS.thumbnail_size)
    except NotAnImageError as e:
        logger.warning("skipped: not a usable image", extra={"key": key, "reason": str(e)})
        return None
    target = thumbnail_key(key)
    s3.put_object(Bucket=bucket, Key=target, Body=thumb, ContentType="image/jpeg")
    logger.info("thumbnail created", extra={"key": key, "thumbnail": target, "bytes": len(thumb)})
    return target


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    created: list[str] = []
    for record in event.get("Records", []):
        s3_info = record.get("s3", {})
        key = unquote_plus(s3_info.get("object", {}).get("key", ""))
        result = process_object(
            s3_info.get("bucket", {}).get("name", ""),
            key,
            int(s3_info.get("object", {}).get("size", 0)),
        )
        if result:
            created.append(result)
    return {"thumbnails": created}
