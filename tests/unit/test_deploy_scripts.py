"""Unit tests for scripts/invoke.py, scripts/logs.py and scripts/demo.py (no network)."""

from __future__ import annotations

from pathlib import Path

import pytest

import demo
import invoke
import logs


def test_invoke_usage_errors_exit_2_before_any_call(tmp_path: Path, capsys) -> None:
    assert invoke.main([]) == 2
    assert invoke.main(["Fn", str(tmp_path / "missing.json")]) == 2
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    assert invoke.main(["Fn", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "missing.json" in err and "not JSON" in err


class FakeLogs:
    def __init__(self, pages: list[list[dict]]) -> None:
        self.pages = pages
        self.kwargs: dict = {}

    def get_paginator(self, name: str):
        assert name == "filter_log_events"
        fake = self

        class Paginator:
            def paginate(self, **kwargs):
                fake.kwargs = kwargs
                return ({"events": page} for page in fake.pages)

        return Paginator()


def test_logs_fetch_returns_newest_n_oldest_first(monkeypatch: pytest.MonkeyPatch) -> None:
    events = [{"eventId": str(i), "timestamp": 1000 + i, "message": f"m{i}"} for i in range(7)]
    fake = FakeLogs([events[4:], events[:4][::-1]])  # pages in no particular order
    monkeypatch.setattr(logs, "client", lambda service: fake)
    got = logs.fetch("/aws/lambda/fn", 999, 3)
    assert [e["message"] for e in got] == ["m4", "m5", "m6"]
    assert fake.kwargs == {"logGroupName": "/aws/lambda/fn", "interleaved": True, "startTime": 999}
    assert len(logs.fetch("/aws/lambda/fn", None, 0)) == 7


def test_demo_covers_every_flow_with_a_method() -> None:
    methods = [method for _, method in demo.FLOWS]
    assert len(methods) == len(set(methods))
    assert all(callable(getattr(demo.Demo, m, None)) for m in methods)
    for flow in ("users_api", "welcome_email", "thumbnail", "order_queue", "saga_success",
                 "saga_validation", "saga_payment", "saga_out_of_stock", "cleanup_job",
                 "kinesis_archive"):  # fmt: skip
        assert flow in methods


def test_demo_run_flow_reports_failures_without_raising() -> None:
    class Broken:
        def boom(self):
            raise AssertionError("expected 201, got 500")

        def fine(self):
            return "evidence"

    ok, detail, _ = demo.run_flow(Broken(), "boom")
    assert not ok and "expected 201, got 500" in detail
    assert demo.run_flow(Broken(), "fine")[:2] == (True, "evidence")
