"""The bench's knobs, all from the environment (BENCH_QUICK=1 picks a ~3 minute run)."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RESULTS_DIR = ROOT / "bench" / "results"


def _int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


def _float(name: str, default: float) -> float:
    return float(os.environ.get(name, default))


def _levels(name: str, default: str) -> list[int]:
    return [int(x) for x in os.environ.get(name, default).replace(",", " ").split()]


@dataclass(frozen=True)
class Settings:
    port: int
    quick: bool
    up_runs: int
    cold_runs: int
    warm_runs: int
    load_seconds: float  # per concurrency level
    get_levels: list[int] = field(default_factory=list)
    post_levels: list[int] = field(default_factory=list)
    event_samples: int = 10
    idle_seconds: float = 3.0  # quiet time before each event sample (SQS long poll etc.)
    log_runs: int = 100
    log_lines: int = 100
    burst: int = 32
    runtime: str = "python3.13"
    skip_deploy: bool = False
    make_test: bool = False

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def as_dict(self) -> dict:
        return asdict(self)


def from_env() -> Settings:
    quick = os.environ.get("BENCH_QUICK") == "1"
    return Settings(
        port=_int("BENCH_PORT", 4599),
        quick=quick,
        up_runs=_int("BENCH_UP_RUNS", 1 if quick else 3),
        cold_runs=_int("BENCH_COLD_RUNS", 3 if quick else 7),
        warm_runs=_int("BENCH_WARM_RUNS", 60 if quick else 300),
        load_seconds=_float("BENCH_LOAD_SECONDS", 3 if quick else 10),
        get_levels=_levels("BENCH_GET_LEVELS", "1 2 4 8 16 32"),
        post_levels=_levels("BENCH_POST_LEVELS", "1 8 32"),
        event_samples=_int("BENCH_EVENT_SAMPLES", 3 if quick else 10),
        idle_seconds=_float("BENCH_IDLE_SECONDS", 1.5 if quick else 3),
        log_runs=_int("BENCH_LOG_RUNS", 40 if quick else 200),
        log_lines=_int("BENCH_LOG_LINES", 100),
        burst=_int("BENCH_BURST", 32),
        runtime=os.environ.get("BENCH_RUNTIME", "python3.13"),
        skip_deploy=os.environ.get("BENCH_SKIP_DEPLOY") == "1",
        make_test=os.environ.get("BENCH_MAKE_TEST") == "1",
    )
