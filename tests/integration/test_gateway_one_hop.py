"""Requests and answers of every size and shape through the gateway, byte for byte.

plugins/localstack_hostmode/patches/gateway_one_hop.py serves a request whose body is at most
1 MB (declared, not chunked) in one hop to the gateway's worker thread, and collects an answer of
at most 1 MB there; larger or chunked requests and larger or unsized answers keep rolo's
streaming path. These tests cross each boundary: S3 objects of 0 bytes to 3 MB up and down (and
HEAD), a chunked request, and several requests on one kept-alive connection. They pass with
``HOSTMODE_GATEWAY_ONE_HOP=0`` too (the patch changes no bytes on the wire, only the threads that
move them); `make bench` measures the speed.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import uuid
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlparse

import pytest

pytestmark = pytest.mark.integration

MB = 1 << 20
SIZES = [0, 1, 4096, MB - 1, MB, MB + 1, 3 * MB]


@pytest.fixture
def s3(aws_client: Callable[..., Any]) -> Any:
    return aws_client("s3")


@pytest.fixture
def bucket(s3: Any) -> Iterator[str]:
    name = f"one-hop-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=name)
    yield name
    for item in s3.list_objects_v2(Bucket=name).get("Contents", []):
        s3.delete_object(Bucket=name, Key=item["Key"])
    s3.delete_bucket(Bucket=name)


def test_objects_across_the_size_limits_round_trip(s3: Any, bucket: str) -> None:
    for size in SIZES:
        body = os.urandom(size)
        s3.put_object(Bucket=bucket, Key=f"o{size}", Body=body)
        head = s3.head_object(Bucket=bucket, Key=f"o{size}")
        assert head["ContentLength"] == size
        got = s3.get_object(Bucket=bucket, Key=f"o{size}")["Body"].read()
        assert hashlib.sha256(got).digest() == hashlib.sha256(body).digest(), size


def _connection(localstack: str) -> http.client.HTTPConnection:
    url = urlparse(localstack)
    return http.client.HTTPConnection(url.hostname, url.port, timeout=30)


def _list_tables(conn: http.client.HTTPConnection, chunked: bool) -> dict:
    body = json.dumps({"Limit": 1}).encode()
    headers = {
        "Content-Type": "application/x-amz-json-1.0",
        "X-Amz-Target": "DynamoDB_20120810.ListTables",
        "Authorization": "AWS4-HMAC-SHA256 SignedHeaders=host, Signature=0, "
                         "Credential=test/20260101/us-east-1/dynamodb/aws4_request",
    }
    if chunked:
        conn.request("POST", "/", body=iter([body[:5], body[5:]]), headers=headers,
                     encode_chunked=True)
    else:
        conn.request("POST", "/", body=body, headers=headers)
    response = conn.getresponse()
    payload = response.read()
    assert response.status == 200, payload
    return json.loads(payload)


def test_chunked_and_sized_requests_share_a_kept_alive_connection(localstack: str) -> None:
    conn = _connection(localstack)
    try:
        answers = [_list_tables(conn, chunked) for chunked in (False, True, False, False, True)]
    finally:
        conn.close()
    assert all("TableNames" in answer for answer in answers)
    assert len({json.dumps(answer, sort_keys=True) for answer in answers}) == 1
