"""Every row `make bench` reports: what is measured, the floor beside it, the target and
whether it was met. Pure functions of the raw results dict (unit-tested without LocalStack)."""

from __future__ import annotations

import statistics
from dataclasses import asdict, dataclass
from typing import Any

from .stats import percentile

MET, MISSED, NOT_MEASURED, INFO = "met", "missed", "not measured", "info"


@dataclass(frozen=True)
class Row:
    id: str
    label: str
    value: float | None
    unit: str
    op: str = ""  # "<=" or ">=", empty for an informational row
    limit: float | None = None
    floor: float | None = None
    floor_label: str = ""
    before: str = ""  # the "Now" value, for context
    floor_unit: str = ""  # when the floor's unit is not the row's

    @property
    def status(self) -> str:
        return evaluate(self.value, self.op, self.limit)

    @property
    def target(self) -> str:
        return f"{self.op} {self.limit:g} {self.unit}".rstrip() if self.op else ""

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "status": self.status, "target": self.target}


def evaluate(value: float | None, op: str, limit: float | None) -> str:
    if not op:
        return INFO
    if value is None:
        return NOT_MEASURED
    if limit is None or op not in ("<=", ">="):
        raise ValueError(f"bad target {op!r} {limit!r}")
    ok = value <= limit if op == "<=" else value >= limit
    return MET if ok else MISSED


def fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "—"
    if not unit and float(value).is_integer():  # a count
        return str(int(value))
    if unit == "s" and value >= 60:
        return f"{int(value // 60)} min {value % 60:.0f} s"
    digits = 0 if unit in ("MB",) or abs(value) >= 100 else (1 if abs(value) >= 10 else 2)
    return f"{value:.{digits}f} {unit}".strip()


def _p(values: list[float] | None, q: float = 50) -> float | None:
    return percentile(values, q) if values else None


def _level(levels: list[dict], concurrency: int) -> dict | None:
    return next((lv for lv in levels if lv["concurrency"] == concurrency), None)


def _lat(levels: list[dict], concurrency: int, key: str) -> float | None:
    lv = _level(levels, concurrency)
    return lv["latency_ms"].get(key) if lv else None


def _rps(levels: list[dict], concurrency: int) -> float | None:
    lv = _level(levels, concurrency)
    return lv["throughput_rps"] if lv else None


def http_rows(http: dict) -> list[Row]:
    sts, get, post = http.get("sts", []), http.get("get_user", []), http.get("post_user", [])
    sts1, sts32 = _lat(sts, 1, "p50"), _rps(sts, 32)
    floor1 = dict(floor=sts1, floor_label="STS GetCallerIdentity p50, c=1")
    floor32 = dict(floor=sts32, floor_label="STS GetCallerIdentity req/s, c=32")
    rows = [
        Row("get_c1_p50", "GET /users/{id} via API Gateway, c=1, p50", _lat(get, 1, "p50"),
            "ms", "<=", 20, before="40 ms", **floor1),
        Row("get_c1_rps", "GET /users/{id}, c=1, throughput", _rps(get, 1), "req/s",
            before="22 req/s", floor=_rps(sts, 1), floor_label="STS req/s, c=1"),
    ]
    for c, before in ((8, "21 req/s, p99 4.2 s"), (32, "14 req/s, p99 9.5 s")):
        rows.append(Row(f"get_c{c}_p99", f"GET /users/{{id}}, c={c}, p99", _lat(get, c, "p99"),
                        "ms", "<=", 1000, before=before, floor=_lat(sts, c, "p99"),
                        floor_label=f"STS p99, c={c}" if _level(sts, c) else ""))
    rows.append(Row("get_c8_rps", "GET /users/{id}, c=8, throughput", _rps(get, 8), "req/s",
                    before="21 req/s"))
    rows.append(Row("get_c32_rps", "GET /users/{id}, c=32, throughput", _rps(get, 32), "req/s",
                    ">=", 60, before="14 req/s", **floor32))
    rows.append(Row("get_errors", "GET /users/{id}, errors at all levels",
                    float(sum(lv["errors"] for lv in get)) if get else None, "", "<=", 0))
    c1 = _rps(get, 1)
    lowest = min((lv["throughput_rps"] for lv in get if lv["concurrency"] > 1), default=None)
    ratio = lowest / c1 if (c1 and lowest is not None) else None
    rows.append(Row("get_scaling", "GET /users/{id}, lowest throughput over c>1 / c=1",
                    ratio, "x", ">=", 1.0, before="0.64 x"))
    rows += [
        Row("post_c1_rps", "POST /users, c=1, throughput", _rps(post, 1), "req/s",
            before="13 req/s", floor=_rps(sts, 1), floor_label="STS req/s, c=1"),
        Row("post_c32_rps", "POST /users, c=32, throughput", _rps(post, 32), "req/s", ">=", 40,
            before="9.8 req/s", **floor32),
        Row("post_c32_p99", "POST /users, c=32, p99", _lat(post, 32, "p99"), "ms", "<=", 1500,
            before="12 s", floor=_lat(sts, 32, "p99"), floor_label="STS p99, c=32"),
        Row("post_errors", "POST /users, errors at all levels",
            float(sum(lv["errors"] for lv in post)) if post else None, "", "<=", 0),
    ]
    return rows


EVENT_ROWS = (  # flow, label, target p50, target p90 (None: p50 only), issue's "Now"
    ("order_processing", "POST /orders -> PROCESSING (SQS consumer)", 250, None, "865 ms"),
    ("saga", "checkout -> saga finished (Step Functions)", 250, None, "654 ms"),
    ("thumbnail", "S3 upload -> thumbnail", 150, 150, "54 ms, p90 528"),
    ("welcome_mail", "user insert -> welcome mail (stream, SES)", 150, 150, "152 ms"),
    ("kinesis_archive", "Kinesis put -> S3 archive", 150, 150, "109 ms"),
)


def event_rows(flows: dict, invoke_floor: float | None) -> list[Row]:
    rows = []
    floor = dict(floor=invoke_floor, floor_label="direct Invoke of a no-op p50")
    for flow, label, p50, p90, before in EVENT_ROWS:
        samples = (flows.get(flow) or {}).get("samples_ms")
        rows.append(Row(f"{flow}_p50", f"{label}, p50", _p(samples), "ms", "<=", p50,
                        before=before, **floor))
        if p90 is not None:
            rows.append(Row(f"{flow}_p90", f"{label}, p90", _p(samples, 90), "ms", "<=", p90,
                            **floor))
    return rows


def lambda_rows(invoke: dict, log_cost: dict) -> list[Row]:
    warm, trivial = _p(invoke.get("warm_ms")), _p(invoke.get("trivial_ms"))
    rows = [
        Row("cold_start", "Lambda cold start, first invoke, median", _p(invoke.get("cold_ms")),
            "ms", "<=", 150, floor=warm, floor_label="warm Invoke p50"),
        Row("warm_minus_trivial", "warm Invoke p50 - GetAccountSettings p50",
            warm - trivial if warm is not None and trivial is not None else None, "ms", "<=", 10,
            floor=trivial, floor_label="GetAccountSettings p50"),
    ]
    samples = log_cost.get("samples_ms") or {}
    zero, one = _p(samples.get("0")), _p(samples.get("1"))
    n = log_cost.get("lines")
    many = _p(samples.get(str(n))) if n else None
    rows.append(Row("log_line_cost", "one log line, added Invoke p50",
                    one - zero if one is not None and zero is not None else None, "ms", "<=", 1,
                    before="+7.7 ms", floor=zero, floor_label="Invoke p50, 0 lines"))
    rows.append(Row("log_delivery", "invoke -> its log line in CloudWatch Logs",
                    log_cost.get("delivery_ms"), "ms"))
    rows.append(Row("log_line_slope", f"log line cost, from {n} lines per invoke",
                    (many - zero) / n if many is not None and zero is not None else None,
                    "ms/line", floor=zero, floor_label="Invoke p50, 0 lines", floor_unit="ms"))
    return rows


def system_rows(raw: dict) -> list[Row]:
    up, deploy, floors = raw.get("up", {}), raw.get("deploy", {}), raw.get("floors", {})
    idle = up.get("idle_rss_mb") or []
    make_test = raw.get("make_test") or {}
    py_boto3 = _p(floors.get("python_boto3_s"))
    demo, bursts = raw.get("after_demo") or {}, raw.get("after_bursts") or {}
    med = statistics.median
    return [
        Row("make_up", "make up, stopped -> ready, init included, median",
            med(up["up_s"]) if up.get("up_s") else None, "s", "<=", 3, before="7.7–9.0 s",
            floor=_p(floors.get("localstack_import_s")),
            floor_label="python -c 'import localstack.runtime.main'"),
        Row("deploy_full", "make deploy-local, full (new stack, layer built)",
            deploy.get("deploy_full_s"), "s", "<=", 3,
            before="9.2 s", floor=py_boto3, floor_label="python -c 'import boto3'"),
        # once per requirements change (and machine): timed on its own, outside the full deploy
        Row("layer_build", "make deploy-local, layer's pip build (once)",
            deploy.get("layer_build_s"), "s", before="3.2 s (was in full)"),
        Row("deploy_no_change", "make deploy-local, no change", deploy.get("deploy_no_change_s"),
            "s", "<=", 0.5, before="0.6 s", floor=py_boto3, floor_label="python -c 'import boto3'"),
        Row("deploy_code_change", "make deploy-local, one handler edited",
            deploy.get("deploy_code_change_s"), "s", "<=", 5, floor=py_boto3,
            floor_label="python -c 'import boto3'"),
        Row("idle_rss_first", "idle RSS of all LocalStack processes, first start",
            up.get("first_start_idle_rss_mb"), "MB", "<=", 350, before="470–590 MB"),
        Row("idle_rss", "idle RSS of all LocalStack processes, later starts, max",
            max(idle) if idle else None, "MB", "<=", 350, before="470–590 MB"),
        Row("rss_after_demo", "RSS after the demo flows", demo.get("rss_mb"), "MB",
            "<=", 1500, before="3.1 GB", floor=demo.get("pss_mb"), floor_label="PSS"),
        Row("rss_after_bursts", "RSS after two bursts of 32 concurrent invokes",
            bursts.get("rss_mb"), "MB", "<=", 1500, before="4.4 GB", floor=bursts.get("pss_mb"),
            floor_label="PSS"),
        Row("processes_after_bursts", "LocalStack's processes after the bursts",
            bursts.get("processes"), ""),
        Row("rss_peak", "RSS, peak over the whole run", raw.get("rss_peak_mb"), "MB"),
        # a red run is not a time: it is reported as not measured (the failures are in raw)
        Row("make_test", "make test from stopped, venvs present (BENCH_MAKE_TEST=1)",
            make_test.get("make_test_s") if not make_test.get("make_test_rc") else None,
            "s", "<=", 120, before="3 min 10 s"),
    ]


def build_rows(raw: dict) -> list[Row]:
    invoke = raw.get("invoke") or {}
    return (
        http_rows(raw.get("http") or {})
        + event_rows(raw.get("flows") or {}, _p(invoke.get("warm_ms")))
        + lambda_rows(invoke, raw.get("log_cost") or {})
        + system_rows(raw)
    )
