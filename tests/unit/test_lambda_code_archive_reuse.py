"""patches/lambda_code_archive_reuse.py (no LocalStack): a stored archive's bytes are unpacked
from memory once, anything else is downloaded from S3 as before; the kept bytes are bounded."""

from __future__ import annotations

import io
from types import SimpleNamespace
from typing import Any

import pytest

from localstack_hostmode.patches import lambda_code_archive_reuse as patch
from localstack_hostmode.patches import registry


@pytest.fixture
def archives(monkeypatch: pytest.MonkeyPatch) -> patch.StoredArchives:
    kept = patch.StoredArchives(limit=10)
    monkeypatch.setattr(patch, "ARCHIVES", kept)
    return kept


def code(key: str, version: str | None = None) -> Any:
    return SimpleNamespace(s3_bucket="awslambda-us-east-1-tasks", s3_key=key,
                           s3_object_version=version)


def test_the_first_download_after_the_store_reads_memory_then_s3(archives) -> None:
    stored = patch._store_and_keep(lambda data, **kw: code("k1"), archive_file=b"zip-1",
                                   function_name="f", region_name="r", account_id="a")
    downloads: list[str] = []

    def from_s3(self: Any, target: io.BytesIO) -> None:
        downloads.append(self.s3_key)
        target.write(b"from-s3")

    first, second = io.BytesIO(), io.BytesIO()
    patch._download_kept(from_s3, stored, first)
    patch._download_kept(from_s3, stored, second)
    assert (first.getvalue(), second.getvalue(), downloads) == (b"zip-1", b"from-s3", ["k1"])


def test_a_versioned_object_is_always_read_from_s3(archives) -> None:
    archives.keep("awslambda-us-east-1-tasks", "k1", b"zip")
    target = io.BytesIO()
    patch._download_kept(lambda self, t: t.write(b"s3"), code("k1", version="v1"), target)
    assert target.getvalue() == b"s3"


def test_kept_bytes_are_bounded_oldest_first(archives) -> None:
    archives.keep("b", "old", b"123456")
    archives.keep("b", "new", b"12345")  # 11 > 10: "old" goes
    archives.keep("b", "huge", b"x" * 11)  # over the limit alone: not kept
    assert archives.take("b", "old") is None
    assert archives.take("b", "huge") is None
    assert archives.take("b", "new") == b"12345"
    assert archives.take("b", "new") is None


def test_registered_with_its_opt_out() -> None:
    assert "lambda_code_archive_reuse" in registry.PATCH_MODULES
    assert patch.PATCH.opt_out == "HOSTMODE_LAMBDA_ARCHIVE_REUSE"
