"""A closed-loop HTTP load generator: N workers, each sending its next request as soon as the
last one answered, for a fixed duration; every latency and every error is recorded.

aiohttp (requirements/bench.txt) on one event loop: the client's own cost stays small next to a
Lambda invoke, so 32 workers measure the server, not Python threads.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from .stats import summary

# One request: (method, url, headers, body). A factory is called once per request, so each can
# be unique (POST /users needs a new email every time).
Request = tuple[str, str, dict[str, str], bytes | None]
RequestFactory = Callable[[int], Request]


@dataclass
class LoadResult:
    concurrency: int
    elapsed_s: float
    latencies_ms: list[float] = field(default_factory=list)  # successful requests only
    errors: int = 0
    error_kinds: dict[str, int] = field(default_factory=dict)
    bodies: list[Any] = field(default_factory=list)  # parsed JSON of 2xx answers, if kept

    @property
    def throughput(self) -> float:
        return len(self.latencies_ms) / self.elapsed_s if self.elapsed_s else 0.0

    def as_dict(self) -> dict:
        return {
            "concurrency": self.concurrency,
            "elapsed_s": round(self.elapsed_s, 3),
            "requests": len(self.latencies_ms) + self.errors,
            "errors": self.errors,
            "error_kinds": self.error_kinds,
            "throughput_rps": round(self.throughput, 2),
            "latency_ms": summary(self.latencies_ms),
            "samples_ms": [round(x, 2) for x in self.latencies_ms],
        }


async def _run(
    factory: RequestFactory, concurrency: int, seconds: float, keep_bodies: bool
) -> LoadResult:
    result = LoadResult(concurrency=concurrency, elapsed_s=0.0)
    counter = iter(range(10**9))
    timeout = aiohttp.ClientTimeout(total=30)
    connector = aiohttp.TCPConnector(limit=concurrency, force_close=False)

    def error(kind: str) -> None:
        result.errors += 1
        result.error_kinds[kind] = result.error_kinds.get(kind, 0) + 1

    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        started = time.perf_counter()
        deadline = started + seconds

        async def worker() -> None:
            while time.perf_counter() < deadline:
                method, url, headers, body = factory(next(counter))
                t0 = time.perf_counter()
                try:
                    async with session.request(method, url, headers=headers, data=body) as resp:
                        payload = await resp.read()
                        status = resp.status
                except (aiohttp.ClientError, TimeoutError) as e:
                    error(type(e).__name__)
                    continue
                latency = (time.perf_counter() - t0) * 1000
                if 200 <= status < 300:
                    result.latencies_ms.append(latency)
                    if keep_bodies:
                        result.bodies.append(payload)
                else:
                    error(f"HTTP {status}")

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        result.elapsed_s = time.perf_counter() - started
    return result


def run_load(
    factory: RequestFactory, concurrency: int, seconds: float, keep_bodies: bool = False
) -> LoadResult:
    """Drive `concurrency` workers for `seconds` (requests in flight at the end complete)."""
    return asyncio.run(_run(factory, concurrency, seconds, keep_bodies))


def sts_caller_identity(endpoint: str, region: str = "us-east-1") -> RequestFactory:
    """The floor for the HTTP rows: STS GetCallerIdentity through the same gateway, the cheapest
    AWS call there is. LocalStack does not check signatures; the credential scope names the
    service and region, as a real SigV4 header would."""
    headers = {
        "Content-Type": "application/x-www-form-urlencoded; charset=utf-8",
        "Authorization": (
            f"AWS4-HMAC-SHA256 Credential=test/20260101/{region}/sts/aws4_request, "
            "SignedHeaders=content-type;host, Signature=0"
        ),
    }
    body = b"Action=GetCallerIdentity&Version=2011-06-15"
    return lambda _n: ("POST", endpoint.rstrip("/") + "/", headers, body)
