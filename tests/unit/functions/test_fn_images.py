"""images.thumbnail: S3 uploads/ -> thumbnails/<name>.jpg."""

from __future__ import annotations

import copy
import io
from urllib.parse import quote_plus

import pytest
from fnhelpers import event
from PIL import Image


def _png(size: tuple[int, int], mode: str = "RGBA") -> bytes:
    out = io.BytesIO()
    Image.new(mode, size, (200, 10, 10, 128) if mode == "RGBA" else 120).save(out, "PNG")
    return out.getvalue()


def _s3_event(key: str, size: int = 1024) -> dict:
    ev = event("s3_put_upload.json")
    ev["Records"][0]["s3"]["object"]["key"] = quote_plus(key, safe="/")
    ev["Records"][0]["s3"]["object"]["size"] = size
    return ev


def _keys(aws, prefix: str) -> list[str]:
    out = aws.s3.list_objects_v2(Bucket="images-bucket", Prefix=prefix)
    return [o["Key"] for o in out.get("Contents", [])]


def test_encoded_key_gets_a_bounded_jpeg_thumbnail(load, context, aws):
    # GIVEN an upload whose key has spaces, '+' and non-ASCII (sample event is URL-encoded)
    key = "uploads/my photo+1 été.png"
    aws.s3.put_object(Bucket="images-bucket", Key=key, Body=_png((800, 400)))
    # WHEN S3 notifies the function
    result = load("images.thumbnail").handler(event("s3_put_upload.json"), context)
    # THEN the thumbnail is a JPEG inside 200x200 keeping the aspect ratio
    assert result == {"thumbnails": ["thumbnails/my photo+1 été.jpg"]}
    obj = aws.s3.get_object(Bucket="images-bucket", Key="thumbnails/my photo+1 été.jpg")
    assert obj["ContentType"] == "image/jpeg"
    with Image.open(io.BytesIO(obj["Body"].read())) as img:
        assert img.format == "JPEG"
        assert img.size == (200, 100)


def test_nested_key_and_grayscale(load, context, aws):
    key = "uploads/albums/2026/cat.png"
    aws.s3.put_object(Bucket="images-bucket", Key=key, Body=_png((50, 300), mode="L"))
    load("images.thumbnail").handler(_s3_event(key), context)
    body = aws.s3.get_object(Bucket="images-bucket", Key="thumbnails/albums/2026/cat.jpg")["Body"]
    with Image.open(io.BytesIO(body.read())) as img:
        assert max(img.size) <= 200 and img.size[1] == 200


@pytest.mark.parametrize("payload", [b"hello, not an image", b"", b"\x89PNG\r\n\x1a\n broken"])
def test_non_image_is_skipped_without_error(load, context, aws, payload):
    key = "uploads/readme.txt"
    aws.s3.put_object(Bucket="images-bucket", Key=key, Body=payload)
    result = load("images.thumbnail").handler(_s3_event(key, len(payload)), context)
    assert result == {"thumbnails": []}
    assert _keys(aws, "thumbnails/") == []


def test_thumbnails_never_retrigger(load, context, aws):
    key = "thumbnails/cat.jpg"
    aws.s3.put_object(Bucket="images-bucket", Key=key, Body=_png((10, 10)))
    result = load("images.thumbnail").handler(_s3_event(key), context)
    assert result == {"thumbnails": []}
    assert _keys(aws, "thumbnails/") == ["thumbnails/cat.jpg"]


def test_missing_object_and_oversized_are_skipped(load, context, aws):
    module = load("images.thumbnail")
    assert module.handler(_s3_event("uploads/gone.png"), context) == {"thumbnails": []}
    huge = _s3_event("uploads/huge.png", size=module.MAX_SOURCE_BYTES + 1)
    assert module.handler(huge, context) == {"thumbnails": []}


def test_one_bad_record_does_not_stop_the_others(load, context, aws):
    aws.s3.put_object(Bucket="images-bucket", Key="uploads/bad.png", Body=b"nope")
    aws.s3.put_object(Bucket="images-bucket", Key="uploads/good.png", Body=_png((300, 300)))
    ev = _s3_event("uploads/bad.png")
    good = copy.deepcopy(ev["Records"][0])
    good["s3"]["object"]["key"] = "uploads/good.png"
    ev["Records"].append(good)
    assert load("images.thumbnail").handler(ev, context) == {"thumbnails": ["thumbnails/good.jpg"]}


def test_thumbnail_key(load):
    module = load("images.thumbnail")
    assert module.thumbnail_key("uploads/a.b.PNG") == "thumbnails/a.b.jpg"
    assert module.thumbnail_key("uploads/noext") == "thumbnails/noext.jpg"
    assert module.thumbnail_key("uploads/.hidden") == "thumbnails/.hidden.jpg"
