"""Bodies through LocalStack's gateway (patch gateway_thread_handoffs): small ones are read and
answered in one piece, large or chunked ones stream; the bytes are the same either way."""

from __future__ import annotations

import contextlib
import http.client
import os
import uuid
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest

from endpoint import endpoint_url

SIZES = [0, 10, (1 << 20) - 1, (1 << 20) + 1, 3 << 20]  # around the 1 MiB limit


@pytest.fixture(scope="module")
def bucket(aws_client: Callable[..., Any]) -> Iterator[tuple[Any, str]]:
    s3 = aws_client("s3")
    name = f"gateway-bodies-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=name)
    yield s3, name
    for item in s3.list_objects_v2(Bucket=name).get("Contents", []):
        s3.delete_object(Bucket=name, Key=item["Key"])
    s3.delete_bucket(Bucket=name)


@pytest.mark.parametrize("size", SIZES)
def test_object_round_trip_around_the_limit(bucket: tuple[Any, str], size: int) -> None:
    s3, name = bucket
    data = os.urandom(size)
    s3.put_object(Bucket=name, Key=f"o{size}", Body=data)
    got = s3.get_object(Bucket=name, Key=f"o{size}")
    assert got["ContentLength"] == size
    assert got["Body"].read() == data


def test_chunked_upload_streams(bucket: tuple[Any, str]) -> None:
    """A body without Content-Length (Transfer-Encoding: chunked) is read by the handler as
    before; a HEAD answer announces the length without a body."""
    _, name = bucket
    url = urlsplit(endpoint_url())
    with contextlib.closing(http.client.HTTPConnection(url.hostname, url.port, timeout=30)) as conn:
        chunks = [b"a" * 70000, b"b" * 5, b"c" * 300000]
        conn.request("PUT", f"/{name}/chunked", body=iter(chunks), encode_chunked=True,
                     headers={"Transfer-Encoding": "chunked"})
        put = conn.getresponse()
        put.read()
        assert put.status == 200
        conn.request("GET", f"/{name}/chunked")
        answer = conn.getresponse()
        assert answer.status == 200
        assert answer.read() == b"".join(chunks)
        conn.request("HEAD", f"/{name}/chunked")
        head = conn.getresponse()
        assert head.status == 200
        assert int(head.getheader("Content-Length")) == sum(map(len, chunks))
        assert head.read() == b""
