"""Stop idle execution environments when memory is tight.

No LocalStack import (unit-tested in tests/unit/lambda_runtime/);
patches/lambda_environment_bound.py feeds it LocalStack's environments.

LocalStack keeps an idle environment for LAMBDA_KEEPALIVE_MS (10 minutes): every function a test
suite or a demo touched keeps a ~55 MB process that long. When the environments' resident memory
exceeds the budget, or the machine runs short of available memory, idle environments are stopped
until the budget holds again: a function's extra ones first, then functions' last ones, each
group least recently used first. Busy ones are
never touched; a function's last one idle for less than `min_idle_s` (5 s) neither, nor an extra
one idle for less than `extra_min_idle_s` (1 s): a function between two invocations of a burst
would only start again. Extras go sooner because only concurrency needs them: the demo's
concurrent flows left ~5 extras (~300 MB) that the instant after it were all still inside 5 s.

While the budget still does not hold after a round, the idle spare runtimes (spares.py) are
stopped and none is started until it holds again.

HOSTMODE_LAMBDA_MEMORY_BUDGET_MB: the budget for all environments' RSS (default 768, one
environment for each of the app's 17 functions: with 512, the environments a demo had just used
were stopped within seconds, and the next request to each was a cold start); 0 turns
reclaiming off (LocalStack's keepalive alone decides). HOSTMODE_LAMBDA_EXTRA_MIN_IDLE_S: how long
an extra environment stays at least (default 1; 5 as before this knob).
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass

from .knobs import non_negative

LOG = logging.getLogger(__name__)

BUDGET_ENV = "HOSTMODE_LAMBDA_MEMORY_BUDGET_MB"
EXTRA_IDLE_ENV = "HOSTMODE_LAMBDA_EXTRA_MIN_IDLE_S"
DEFAULT_BUDGET_MB = 768
MIN_IDLE_S = 5.0
EXTRA_MIN_IDLE_S = 1.0
INTERVAL_S = 1.0
# below this much available memory (or this share of it) the machine is short: reclaim as well
LOW_WATER_KIB = 512 * 1024
LOW_WATER_SHARE = 0.05


def budget_kib_from_env(environ: dict[str, str]) -> int:
    mb = non_negative(environ, BUDGET_ENV, DEFAULT_BUDGET_MB,
                      what="0 (off) or a whole number of MB")
    return int(mb) * 1024


def extra_min_idle_from_env(environ: dict[str, str]) -> float:
    return non_negative(environ, EXTRA_IDLE_ENV, EXTRA_MIN_IDLE_S, kind=float,
                        what="0 or more seconds")


@dataclass(frozen=True)
class Environment:
    key: Hashable
    rss_kib: int
    idle_s: float | None  # None: busy (or starting)
    function: Hashable | None = None  # the function version it serves (None: unknown)


def system_shortfall_kib(meminfo: str) -> int:
    """How far MemAvailable is below the low-water mark (0: not short), from /proc/meminfo."""
    fields = {}
    for line in meminfo.splitlines():
        name, _, rest = line.partition(":")
        parts = rest.split()
        if parts and parts[0].isdigit():
            fields[name] = int(parts[0])
    total, available = fields.get("MemTotal"), fields.get("MemAvailable")
    if not total or available is None:
        return 0
    low_water = min(LOW_WATER_KIB, int(total * LOW_WATER_SHARE))
    return max(0, low_water - available)


def to_stop(
    environments: Iterable[Environment], budget_kib: int, shortfall_kib: int = 0,
    min_idle_s: float = MIN_IDLE_S, extra_min_idle_s: float = EXTRA_MIN_IDLE_S,
) -> list[Hashable]:
    """The idle environments to stop until the RSS fits the budget and the shortfall is made
    up: first those whose function keeps another environment, then functions' last ones, each
    group longest idle first (a function's last warm environment is what its next request
    would otherwise wait a cold start for, as a burst's extra ones are not)."""
    environments = list(environments)
    excess = max(sum(e.rss_kib for e in environments) - budget_kib, shortfall_kib)
    idle = sorted(
        (e for e in environments
         if e.idle_s is not None and e.idle_s >= min(min_idle_s, extra_min_idle_s)),
        key=lambda e: -e.idle_s,
    )
    left = Counter(e.function for e in environments if e.function is not None)
    chosen: list[Hashable] = []
    for extras_only in (True, False):
        for environment in idle:
            if excess <= 0:
                return chosen
            if environment.key in chosen:
                continue
            if extras_only and left[environment.function] <= 1:
                continue  # unknown function (count 0) or its last environment: second round
            if environment.idle_s < (extra_min_idle_s if extras_only else min_idle_s):
                continue
            chosen.append(environment.key)
            excess -= environment.rss_kib
            left[environment.function] -= 1
    return chosen


def read_meminfo() -> str:
    try:
        with open("/proc/meminfo") as f:
            return f.read()
    except OSError:
        return ""


class Reclaimer:
    """A daemon thread that checks every INTERVAL_S (or when poked) and stops what to_stop
    chooses."""

    def __init__(
        self, budget_kib: int, snapshot: Callable[[], list[Environment]],
        stop: Callable[[Hashable], None], meminfo: Callable[[], str] = read_meminfo,
        extra_min_idle_s: float = EXTRA_MIN_IDLE_S,
        tight: Callable[[bool], None] = lambda tight: None,
    ) -> None:
        self.budget_kib = budget_kib
        self.extra_min_idle_s = extra_min_idle_s
        self._snapshot = snapshot
        self._stop = stop
        self._meminfo = meminfo
        self._tight = tight  # told after each round whether memory is still short
        self._wake = threading.Event()
        self._started = False
        self._lock = threading.Lock()
        self.stopped = 0

    def poke(self) -> None:
        """Check now (an environment started); the thread starts on the first poke."""
        if self.budget_kib <= 0:
            return
        with self._lock:
            if not self._started:
                self._started = True
                threading.Thread(target=self._run, name="lambda-reclaim", daemon=True).start()
        self._wake.set()

    def check(self) -> int:
        """One round: stop what must go; returns how many were stopped."""
        environments = self._snapshot()
        shortfall = system_shortfall_kib(self._meminfo())
        chosen = to_stop(environments, self.budget_kib, shortfall,
                         extra_min_idle_s=self.extra_min_idle_s)
        freed = sum(e.rss_kib for e in environments if e.key in chosen)
        kept = sum(e.rss_kib for e in environments) - freed
        # still short after this round (what is over is busy or inside its minimum idle
        # time): the idle spare runtimes are what else can go (spares.py SparePool.hold)
        self._tight(kept > self.budget_kib or freed < shortfall)
        for key in chosen:
            try:
                self._stop(key)
            except Exception as e:  # one that cannot stop must not end the thread
                LOG.debug("Could not reclaim Lambda environment %s: %s", key, e)
        if chosen:
            self.stopped += len(chosen)
            LOG.debug("Reclaimed %d idle Lambda environment(s) (memory budget)", len(chosen))
        return len(chosen)

    def _run(self) -> None:
        while True:
            self._wake.wait(INTERVAL_S)
            self._wake.clear()
            try:
                self.check()
            except Exception as e:
                LOG.debug("Lambda environment reclaim round failed: %s", e)
