"""patches/lambda_code_url_client.py (no LocalStack): one client per endpoint, the URL signed
for the code's bucket, key and version."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from localstack_hostmode.patches import lambda_code_url_client as patch


class FakeS3:
    def __init__(self, endpoint_url: str) -> None:
        self.endpoint_url = endpoint_url

    def generate_presigned_url(self, operation: str, Params: dict[str, Any]) -> str:
        return f"{self.endpoint_url}|{operation}|{sorted(Params.items())}"


def test_a_client_is_made_once_per_endpoint(monkeypatch) -> None:
    made: list[str] = []

    def make(endpoint_url: str) -> FakeS3:
        made.append(endpoint_url)
        return FakeS3(endpoint_url)

    monkeypatch.setattr(patch, "CLIENTS", patch.ClientsByEndpoint(make))
    code = SimpleNamespace(s3_bucket="b", s3_key="k", s3_object_version=None)
    versioned = SimpleNamespace(s3_bucket="b", s3_key="k", s3_object_version="v2")

    first = patch.presigned_url(None, code, "http://a:4566")
    again = patch.presigned_url(None, versioned, "http://a:4566")
    other = patch.presigned_url(None, code, "http://b:4566")

    assert made == ["http://a:4566", "http://b:4566"]
    assert first == "http://a:4566|get_object|[('Bucket', 'b'), ('Key', 'k')]"
    assert again == "http://a:4566|get_object|[('Bucket', 'b'), ('Key', 'k'), ('VersionId', 'v2')]"
    assert other.startswith("http://b:4566|")
