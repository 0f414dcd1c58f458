"""`make bench` (PYTHONPATH=scripts python -m bench): one run on its own LocalStack.

Starts host-mode LocalStack on BENCH_PORT (default 4599) so a dev instance is left alone, measures
every row in targets.py beside its floor, stops what it started, prints the table and writes
bench/results/latest.json plus PNG plots next to it. Knobs: see settings.py (BENCH_QUICK=1 for a
~3 minute run; BENCH_MAKE_TEST=1 adds `make test` from stopped, several minutes).
`python -m bench --table` / `--markdown` prints the last run's table again without measuring.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import traceback
from datetime import UTC, datetime

import stack as st

from . import api, flows, lambdas, plots, report, system
from .settings import RESULTS_DIR, ROOT, from_env
from .system import log
from .targets import build_rows


def interpreter_floor(python: str, code: str, runs: int = 3) -> list[float]:
    """Seconds to start `python` and run `code` (the floor under make up / deploy-local)."""
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run([python, "-c", code], check=True, capture_output=True)
        times.append(time.perf_counter() - started)
    return times


def measure(settings, sampler: system.RssSampler, raw: dict) -> None:
    """Every phase in turn; results go into `raw` as they come (a failure keeps the rest)."""
    sampler.phase = "make up"
    log(f"make up x{settings.up_runs} (+1 untimed first start) on port {settings.port}")
    raw["up"] = system.measure_up(settings)
    ls_python = ROOT / ".localstack" / "venv" / "bin" / "python"
    raw["floors"] = {
        "python_boto3_s": interpreter_floor(sys.executable, "import boto3"),
        "localstack_import_s": interpreter_floor(str(ls_python), "import localstack.runtime.main")
        if ls_python.exists() else [],
    }
    lam = st.client("lambda", max_pool_connections=64, read_timeout=120)
    fns = lambdas.Functions(lam, settings)
    try:
        sampler.phase = "cold/warm invoke"
        log(f"{settings.cold_runs} cold starts, {settings.warm_runs} warm invokes")
        raw["invoke"] = lambdas.measure_invoke(fns, settings.warm_runs, settings.cold_runs)
        sampler.phase = "log cost"
        log(f"log cost: {settings.log_runs} invokes each with 0 / 1 / {settings.log_lines} lines")
        raw["log_cost"] = lambdas.measure_log_cost(fns, settings.log_runs, settings.log_lines)
        if not settings.skip_deploy:
            sampler.phase = "deploy-local"
            log("deploy-local of a copy: full, no change, one handler edited")
            raw["deploy"] = system.measure_deploy(settings, st.client("cloudformation"))
        sampler.phase = "app deploy"
        raw["app_deploy_s"] = system.deploy_local(settings, st.stack_name())
        sampler.phase = "demo flows"
        log("demo flows (scripts/demo.py), once")
        raw["demo"] = flows.run_demo()
        raw["after_demo"] = system.memory_mb()
        sampler.phase = "event flows"
        log(f"event flows: {settings.event_samples} samples each, "
            f"{settings.idle_seconds:g} s idle before each")
        raw["flows"] = flows.measure_flows(settings.idle_seconds, settings.event_samples, log)
        sampler.phase = "HTTP load"
        log(f"HTTP load: {settings.load_seconds:g} s per level")
        raw["http"] = api.measure_api(settings.load_seconds, settings.get_levels,
                                      settings.post_levels, log)
        sampler.phase = "bursts"
        log(f"two bursts of {settings.burst} concurrent invokes")
        sleeper = fns.create("burst", lambdas.SLEEPER, timeout=30)
        raw["bursts"] = [lambdas.burst(fns, sleeper, settings.burst) for _ in range(2)]
        raw["after_bursts"] = system.memory_mb()
        raw["processes_after_bursts"] = system.process_table()
    finally:
        fns.close()


def reprint(as_markdown: bool) -> int:
    """The table of the last run (bench/results/latest.json) again, without measuring."""
    doc = json.loads((RESULTS_DIR / "latest.json").read_text())
    if problems := report.validate(doc):
        log(f"latest.json: {'; '.join(problems)}")
        return 1
    rows = report.rows_of(doc)
    print(report.markdown(rows) if as_markdown else report.table(rows))
    print(f"\n{doc['started_at']}, load before: {doc['machine']['before']['uptime']}")
    return 0


def main() -> int:
    if sys.argv[1:2] in (["--table"], ["--markdown"]):
        return reprint(sys.argv[1] == "--markdown")
    settings = from_env()
    os.environ.update(system.bench_env(settings))
    started_at = datetime.now(UTC).isoformat(timespec="seconds")
    machine_before = system.machine()
    raw: dict = {}
    try:
        with system.RssSampler() as sampler:
            try:
                measure(settings, sampler, raw)
            except Exception:  # the rows measured so far are still reported
                failed = traceback.format_exc()
                log(f"bench failed:\n{failed}")
                raw["error"] = failed
            finally:
                raw["rss"] = sampler.as_dict()
                raw["rss_peak_mb"] = sampler.peak()
    finally:
        system.hostmode(settings, "down")
    if settings.make_test:
        log("make test from stopped (BENCH_MAKE_TEST=1)")
        raw["make_test"] = system.measure_make_test(settings)
        system.hostmode(settings, "down")
    rows = build_rows(raw)
    doc = report.document(rows, raw, {
        "started_at": started_at,
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"before": machine_before, "after": system.machine()},
        "settings": settings.as_dict(),
    })
    print(report.table(rows))
    out = RESULTS_DIR / "latest.json"
    report.write(doc, out)
    pngs = plots.plot_all(raw, RESULTS_DIR)
    print(f"\nload: {doc['machine']['before']['uptime']}")
    print(f"results: {out.relative_to(ROOT)}; plots: "
          + ", ".join(p.name for p in pngs))
    return 1 if "error" in raw else 0


if __name__ == "__main__":
    sys.exit(main())
