"""`make bench`'s pure parts: percentiles, target evaluation, the rows built from raw results,
the table / Markdown / JSON report and the settings (no LocalStack, no network)."""

from __future__ import annotations

import json
import os
import subprocess
import zipfile
from pathlib import Path

import pytest

from bench import report, settings, stats, targets
from bench.targets import MET, MISSED, NOT_MEASURED, Row

# --- stats --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "q", "expected"),
    [
        ([5.0], 50, 5.0),
        ([1.0, 2.0, 3.0, 4.0], 50, 2.5),  # between the two middle ranks
        ([1.0, 2.0, 3.0, 4.0, 5.0], 90, 4.6),
        ([3.0, 1.0, 2.0], 0, 1.0),  # unsorted input
        ([3.0, 1.0, 2.0], 100, 3.0),
        (list(range(1, 101)), 99, 99.01),
    ],
)
def test_percentile_is_linear_between_closest_ranks(values, q, expected) -> None:
    assert stats.percentile(values, q) == pytest.approx(expected)


def test_percentile_matches_statistics_median() -> None:
    import statistics

    values = [12.5, 3.0, 99.0, 7.25, 40.0, 41.0]
    assert stats.percentile(values, 50) == pytest.approx(statistics.median(values))


@pytest.mark.parametrize(("values", "q"), [([], 50), ([1.0], -1), ([1.0], 101)])
def test_percentile_rejects_bad_input(values, q) -> None:
    with pytest.raises(ValueError):
        stats.percentile(values, q)


def test_summary_of_samples_and_of_none() -> None:
    s = stats.summary([10.0, 20.0, 30.0, 40.0])
    assert s["n"] == 4 and s["min"] == 10 and s["max"] == 40
    assert s["p50"] == pytest.approx(25) and s["mean"] == pytest.approx(25)
    assert s["p90"] == pytest.approx(37) and s["p99"] == pytest.approx(39.7)
    assert stats.summary([]) == {"n": 0}
    assert stats.rounded({"n": 3, "p50": 1.23456}) == {"n": 3, "p50": 1.2}


# --- targets ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "op", "limit", "expected"),
    [
        (20.0, "<=", 20, MET),
        (20.1, "<=", 20, MISSED),
        (60.0, ">=", 60, MET),
        (59.9, ">=", 60, MISSED),
        (None, "<=", 20, NOT_MEASURED),
        (5.0, "", None, targets.INFO),
        (0.0, "<=", 0, MET),
    ],
)
def test_evaluate(value, op, limit, expected) -> None:
    assert targets.evaluate(value, op, limit) == expected


def test_evaluate_rejects_a_target_without_limit() -> None:
    with pytest.raises(ValueError):
        targets.evaluate(1.0, "<=", None)
    with pytest.raises(ValueError):
        targets.evaluate(1.0, "<", 3)


@pytest.mark.parametrize(
    ("value", "unit", "text"),
    [(None, "ms", "—"), (3.14159, "s", "3.14 s"), (42.42, "ms", "42.4 ms"),
     (412.7, "MB", "413 MB"), (190.0, "s", "3 min 10 s"), (1.0, "", "1"), (0.5, "", "0.50")],
)
def test_fmt(value, unit, text) -> None:
    assert targets.fmt(value, unit) == text


def level(c: int, rps: float, p50: float, p99: float, errors: int = 0) -> dict:
    return {"concurrency": c, "throughput_rps": rps, "errors": errors,
            "latency_ms": {"n": 10, "p50": p50, "p99": p99}, "samples_ms": [p50] * 10}


def raw_results() -> dict:
    return {
        "http": {
            "sts": [level(1, 200, 4, 9), level(32, 400, 60, 120)],
            "get_user": [level(1, 50, 18, 30), level(8, 70, 90, 400), level(32, 80, 300, 900)],
            "post_user": [level(1, 20, 45, 80), level(32, 30, 700, 2000, errors=2)],
        },
        "flows": {
            "order_processing": {"samples_ms": [200.0, 240.0, 260.0]},
            "saga": {"samples_ms": [300.0, 310.0, 320.0]},
            "thumbnail": {"samples_ms": [60.0, 70.0, 80.0, 500.0]},
        },
        "invoke": {"cold_ms": [40.0, 50.0, 60.0], "warm_ms": [10.0, 12.0, 14.0],
                   "trivial_ms": [5.0, 6.0, 7.0]},
        "log_cost": {"lines": 100, "samples_ms": {"0": [10.0, 10.0], "1": [10.5, 10.5],
                                                  "100": [30.0, 30.0]}},
        "up": {"up_s": [2.5, 3.5, 2.9], "first_start_idle_rss_mb": 400.0,
               "idle_rss_mb": [300.0, 320.0]},
        "deploy": {"deploy_full_s": 2.0, "deploy_no_change_s": 0.7},
        "floors": {"python_boto3_s": [0.2, 0.3, 0.25]},
        "after_demo": {"rss_mb": 1200.0, "pss_mb": 700.0, "processes": 20},
    }


def by_id(rows: list[Row]) -> dict[str, Row]:
    return {r.id: r for r in rows}


def test_rows_from_raw_results_evaluate_each_target() -> None:
    rows = by_id(targets.build_rows(raw_results()))
    assert len(rows) == len(targets.build_rows(raw_results()))  # ids are unique
    expect = {
        "get_c1_p50": MET, "get_c8_p99": MET, "get_c32_p99": MET, "get_c32_rps": MET,
        "get_errors": MET, "get_scaling": MET,
        "post_c32_rps": MISSED, "post_c32_p99": MISSED, "post_errors": MISSED,
        "order_processing_p50": MET, "saga_p50": MISSED, "thumbnail_p50": MET,
        "thumbnail_p90": MISSED, "welcome_mail_p50": NOT_MEASURED,
        "cold_start": MET, "warm_minus_trivial": MET, "log_line_cost": MET,
        "make_up": MET, "deploy_full": MET, "deploy_no_change": MISSED,
        "deploy_code_change": NOT_MEASURED, "idle_rss_first": MISSED, "idle_rss": MET,
        "rss_after_demo": MET, "rss_after_bursts": NOT_MEASURED, "make_test": NOT_MEASURED,
    }
    assert {k: rows[k].status for k in expect} == expect


def test_rows_carry_their_floor_and_derived_values() -> None:
    rows = by_id(targets.build_rows(raw_results()))
    assert rows["get_c1_p50"].floor == 4 and "STS" in rows["get_c1_p50"].floor_label
    assert rows["get_c32_rps"].floor == 400
    assert rows["get_scaling"].value == pytest.approx(70 / 50)
    assert rows["warm_minus_trivial"].value == pytest.approx(6.0)
    assert rows["log_line_cost"].value == pytest.approx(0.5)
    assert rows["log_line_slope"].value == pytest.approx(0.2)
    assert rows["thumbnail_p50"].floor == 12  # direct Invoke p50
    assert rows["make_up"].value == pytest.approx(2.9)
    assert rows["deploy_full"].floor == pytest.approx(0.25)


def test_throughput_below_concurrency_one_misses_scaling() -> None:
    raw = raw_results()
    raw["http"]["get_user"][1] = level(8, 40, 90, 400)
    assert by_id(targets.build_rows(raw))["get_scaling"].status == MISSED


def test_empty_results_give_every_target_not_measured() -> None:
    rows = targets.build_rows({})
    assert rows and all(r.status in (NOT_MEASURED, targets.INFO) for r in rows)


# --- report -------------------------------------------------------------------------------------


def test_table_lists_every_row_and_the_misses() -> None:
    rows = targets.build_rows(raw_results())
    text = report.table(rows)
    for row in rows:
        assert row.label in text
    assert "missed: " in text and "post_c32_rps" in text
    assert "18.0 ms" in text and "4.00 ms (STS GetCallerIdentity p50, c=1)" in text


def test_markdown_has_one_line_per_row_and_escapes_pipes() -> None:
    rows = [Row("a", "x | y", 1.0, "ms", "<=", 2)]
    lines = report.markdown(rows).splitlines()
    assert len(lines) == 3 and "x \\| y" in lines[2] and "| met |" in lines[2]


def test_document_round_trips_and_validates(tmp_path) -> None:
    rows = targets.build_rows(raw_results())
    doc = report.document(rows, raw_results(), {
        "started_at": "2026-12-01T10:00:00+00:00", "machine": {"cpus": 2},
        "settings": settings.from_env().as_dict(),
    })
    path = tmp_path / "results" / "latest.json"
    report.write(doc, path)
    loaded = json.loads(path.read_text())
    assert report.validate(loaded) == []
    assert loaded["rows"][0]["target"] == "<= 20 ms" and loaded["rows"][0]["status"] == MET
    assert report.rows_of(loaded) == rows


def test_validate_names_what_is_wrong() -> None:
    doc = {"schema": "other", "rows": [{"id": "a", "status": "great"}, {"id": "a"}]}
    problems = report.validate(doc)
    assert "missing raw" in problems and any("schema" in p for p in problems)
    assert any("twice" in p for p in problems) and any("great" in p for p in problems)


# --- settings -----------------------------------------------------------------------------------


def test_quick_settings_and_overrides(monkeypatch) -> None:
    for name in [n for n in os.environ if n.startswith("BENCH_")]:  # the bench's own make test
        monkeypatch.delenv(name)
    monkeypatch.setenv("BENCH_QUICK", "1")
    monkeypatch.setenv("BENCH_GET_LEVELS", "1,4 16")
    monkeypatch.setenv("BENCH_PORT", "4777")
    s = settings.from_env()
    assert s.quick and s.up_runs == 1 and s.load_seconds == 3
    assert s.get_levels == [1, 4, 16] and s.post_levels == [1, 8, 32]
    assert s.endpoint == "http://127.0.0.1:4777"
    monkeypatch.delenv("BENCH_QUICK")
    assert settings.from_env().load_seconds == 10 and not settings.from_env().make_test


def test_sts_floor_request_names_the_service() -> None:
    pytest.importorskip("aiohttp")  # a bench-only dependency (requirements/bench.txt)
    from bench.load import LoadResult, sts_caller_identity

    method, url, headers, body = sts_caller_identity("http://127.0.0.1:4599")(0)
    assert method == "POST" and url == "http://127.0.0.1:4599/"
    assert "/us-east-1/sts/aws4_request" in headers["Authorization"]
    assert body == b"Action=GetCallerIdentity&Version=2011-06-15"
    result = LoadResult(concurrency=2, elapsed_s=2.0, latencies_ms=[10.0, 20.0], errors=1,
                        error_kinds={"HTTP 502": 1})
    d = result.as_dict()
    assert d["throughput_rps"] == 1.0 and d["requests"] == 3 and d["latency_ms"]["p50"] == 15


def test_a_failed_make_test_is_not_reported_as_a_time() -> None:
    raw = raw_results()
    raw["make_test"] = {"make_test_s": 90.0, "make_test_rc": 2, "make_test_failures": ["FAILED x"]}
    assert by_id(targets.build_rows(raw))["make_test"].status == NOT_MEASURED
    raw["make_test"]["make_test_rc"] = 0
    assert by_id(targets.build_rows(raw))["make_test"].status == MET


# --- deploy rows: the layer's pip build is its own row, outside the timed full deploy ---------


def test_layer_build_is_an_informational_row_beside_the_full_deploy() -> None:
    raw = raw_results()
    raw["deploy"].update(layer_build_s=3.2, layer_zip_mb=10.8)
    rows = by_id(targets.build_rows(raw))
    assert rows["layer_build"].value == pytest.approx(3.2)
    assert rows["layer_build"].status == targets.INFO and rows["layer_build"].target == ""
    assert rows["deploy_full"].value == pytest.approx(2.0)  # the layer's build not added
    assert "layer built" in rows["deploy_full"].label
    assert by_id(targets.build_rows({}))["layer_build"].value is None


def test_measure_layer_build_times_a_scratch_build_then_ensures_the_deploys(monkeypatch) -> None:
    import artifacts
    from bench import system

    calls = []

    def fake_build(requirements=None, build_dir=None):
        calls.append(build_dir)
        if build_dir is None:  # the deploy's own .build/ cache
            return artifacts.BUILD_DIR / "layer-x.zip", "x"
        assert build_dir.is_dir() and build_dir != artifacts.BUILD_DIR
        (build_dir / "layer-x.zip").write_bytes(b"z" * 2_000_000)
        return build_dir / "layer-x.zip", "x"

    monkeypatch.setattr(artifacts, "build_layer", fake_build)
    result = system.measure_layer_build()
    assert len(calls) == 2 and calls[1] is None  # scratch first, then the real cache
    assert not calls[0].exists()  # the scratch build is removed
    assert result["layer_zip_mb"] == pytest.approx(2.0) and result["layer_build_s"] >= 0


def test_full_deploy_is_timed_after_the_layer_build(monkeypatch, tmp_path) -> None:
    from bench import system

    order = []
    monkeypatch.setattr(system, "app_copy", lambda: _fake_app(tmp_path))
    monkeypatch.setattr(system, "measure_layer_build",
                        lambda: order.append("layer") or {"layer_build_s": 3.0})
    monkeypatch.setattr(system, "deploy_local",
                        lambda settings, stack, template: order.append("deploy") or 1.5)

    class Cfn:
        def delete_stack(self, StackName):
            order.append("delete")

        def get_waiter(self, name):
            return type("W", (), {"wait": lambda self, **kw: None})()

    result = system.measure_deploy(settings.from_env(), Cfn())
    assert order == ["layer", "deploy", "deploy", "deploy", "delete"]
    assert result == {"layer_build_s": 3.0, "deploy_full_s": 1.5, "deploy_no_change_s": 1.5,
                      "deploy_code_change_s": 1.5}


def _fake_app(tmp_path):
    (tmp_path / "functions" / "users").mkdir(parents=True)
    (tmp_path / "functions" / "users" / "get_user.py").write_text("")
    return tmp_path


def test_build_layer_in_a_given_dir_caches_there(monkeypatch, tmp_path) -> None:
    import artifacts

    runs = []

    def fake_pip(cmd, **kwargs):
        runs.append(cmd)
        target = Path(cmd[cmd.index("--target") + 1])
        (target / "pkg").mkdir(parents=True)
        (target / "pkg" / "__init__.py").write_text("x = 1\n")
        return subprocess.CompletedProcess(cmd, 0, "", "")

    monkeypatch.setattr(artifacts.subprocess, "run", fake_pip)
    zip_path, digest = artifacts.build_layer(build_dir=tmp_path)
    assert zip_path.parent == tmp_path and digest[:16] in zip_path.name
    assert (tmp_path / "layer" / ".hash").read_text().strip() == digest
    with zipfile.ZipFile(zip_path) as zf:
        assert zf.namelist() == ["python/pkg/__init__.py"]
    assert artifacts.build_layer(build_dir=tmp_path) == (zip_path, digest)
    assert len(runs) == 1  # the second call is answered from the cache
