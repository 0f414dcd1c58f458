"""Lambda on its own, with functions the bench creates: cold start, warm Invoke beside a trivial
call, the cost of a handler's log lines, and bursts of concurrent invokes (for RSS)."""

from __future__ import annotations

import io
import random
import time
import uuid
import zipfile
from concurrent.futures import ThreadPoolExecutor

import stack as st
from polling import wait_until

from .settings import Settings

NOOP = "def handler(event, context):\n    return {'ok': True}\n"
# N lines per invoke, N from the event: one function serves the 0-line baseline and the others
LOGGER = (
    "def handler(event, context):\n"
    "    marker = event.get('marker', '')\n"
    "    for i in range(event.get('lines', 0)):\n"
    "        print(f'bench log line {i} {marker} of a handler that logs')\n"
    "    return {'ok': True}\n"
)
SLEEPER = "import time\ndef handler(event, context):\n    time.sleep(event.get('s', 1))\n"


def timed_ms(fn) -> float:
    started = time.perf_counter()
    fn()
    return (time.perf_counter() - started) * 1000


def code_zip(source: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("app.py", source)
    return buf.getvalue()


class Functions:
    """Functions the bench creates, all deleted by close()."""

    def __init__(self, lam, settings: Settings) -> None:
        self.lam, self.settings, self.names = lam, settings, []

    def create(self, prefix: str, source: str = NOOP, timeout: int = 10) -> str:
        name = f"bench-{prefix}-{uuid.uuid4().hex[:8]}"
        self.lam.create_function(
            FunctionName=name, Runtime=self.settings.runtime, Handler="app.handler",
            Role="arn:aws:iam::000000000000:role/bench", Code={"ZipFile": code_zip(source)},
            Timeout=timeout,
        )
        self.names.append(name)
        self.lam.get_waiter("function_active_v2").wait(
            FunctionName=name, WaiterConfig={"Delay": 0.1, "MaxAttempts": 300}
        )
        return name

    def invoke(self, name: str, payload: bytes = b"{}") -> None:
        resp = self.lam.invoke(FunctionName=name, Payload=payload)
        resp["Payload"].read()
        if "FunctionError" in resp:
            raise RuntimeError(f"{name} failed: {resp['FunctionError']}")

    def close(self) -> None:
        for name in self.names:
            self.lam.delete_function(FunctionName=name)
        self.names.clear()


def measure_invoke(fns: Functions, runs: int, cold_runs: int) -> dict:
    """Cold starts (first invoke of new functions); warm Invoke interleaved with the trivial
    GetAccountSettings on the same client, so drift hits both alike."""
    cold = []
    names = []
    for _ in range(cold_runs):
        name = fns.create("cold")
        names.append(name)
        cold.append(timed_ms(lambda n=name: fns.invoke(n)))
    warm_fn = names[0]
    for _ in range(20):  # warm both paths up
        fns.invoke(warm_fn)
        fns.lam.get_account_settings()
    warm, trivial = [], []
    for _ in range(runs):
        warm.append(timed_ms(lambda: fns.invoke(warm_fn)))
        trivial.append(timed_ms(fns.lam.get_account_settings))
    return {"cold_ms": cold, "warm_ms": warm, "trivial_ms": trivial, "noop_function": warm_fn}


def measure_log_cost(fns: Functions, runs: int, lines: int) -> dict:
    """One function, invoked (interleaved) with 0, 1 and `lines` log lines per invoke."""
    name = fns.create("logger", LOGGER)
    payloads = {n: f'{{"lines": {n}}}'.encode() for n in (0, 1, lines)}
    for _ in range(10):
        for p in payloads.values():
            fns.invoke(name, p)
    samples: dict[int, list[float]] = {n: [] for n in payloads}
    order = list(payloads)
    for _ in range(runs):
        random.shuffle(order)  # whatever one invoke leaves behind lands on a random next one
        for n in order:
            samples[n].append(timed_ms(lambda p=payloads[n]: fns.invoke(name, p)))
    return {"lines": lines, "samples_ms": {str(n): v for n, v in samples.items()},
            "delivery_ms": log_delivery_ms(fns, name)}


def log_delivery_ms(fns: Functions, name: str) -> float | None:
    """ms from an invoke to its log line in CloudWatch Logs: the lines timed above did go
    somewhere (None when the line never showed up within the poll's deadline)."""
    marker = f"m{uuid.uuid4().hex[:12]}"
    pages = st.client("logs").get_paginator("filter_log_events")
    since = int(time.time() * 1000) - 2000  # only recent events: the group holds thousands
    started = time.perf_counter()
    fns.invoke(name, f'{{"lines": 1, "marker": "{marker}"}}'.encode())

    def delivered() -> bool:
        found = any(
            marker in e["message"]
            for page in pages.paginate(logGroupName=f"/aws/lambda/{name}", startTime=since)
            for e in page.get("events", [])
        )
        assert found, "log line not delivered yet"
        return True

    try:
        wait_until(delivered, timeout=15, interval=0.05, what="log line")
    except (AssertionError, TimeoutError):
        return None
    return (time.perf_counter() - started) * 1000


def burst(fns: Functions, name: str, concurrency: int, seconds: float = 1.0) -> dict:
    """`concurrency` invokes at once of a function that sleeps, so each needs its own
    execution environment."""
    payload = f'{{"s": {seconds}}}'.encode()
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        list(pool.map(lambda _: fns.invoke(name, payload), range(concurrency)))
    return {"concurrency": concurrency, "elapsed_s": time.perf_counter() - started}
