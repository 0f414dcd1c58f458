"""patches/sfn_jsonpath_cache.py's cache (no LocalStack): a path is parsed once, a failing path
is parsed again each time, and a cached parse is not wrapped twice."""

from __future__ import annotations

import pytest

from localstack_hostmode.patches.sfn_jsonpath_cache import cached


def test_each_path_is_parsed_once() -> None:
    calls: list[str] = []

    def parse(path: str) -> tuple[str, int]:
        calls.append(path)
        return (path, len(calls))

    cached_parse = cached(parse)
    first = cached_parse("$.order_id")
    assert cached_parse("$.order_id") is first
    cached_parse("$.payment")
    assert calls == ["$.order_id", "$.payment"]
    assert cached(cached_parse) is cached_parse


def test_a_parse_error_is_not_cached() -> None:
    calls: list[str] = []

    def parse(path: str) -> None:
        calls.append(path)
        raise ValueError(f"bad path {path}")

    cached_parse = cached(parse)
    for _ in range(2):
        with pytest.raises(ValueError):
            cached_parse("$..[")
    assert calls == ["$..[", "$..["]
