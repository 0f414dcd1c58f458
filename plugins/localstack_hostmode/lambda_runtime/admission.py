"""How many execution environments a function may have, and who waits for one.

No LocalStack import (unit-tested in tests/unit/lambda_runtime/);
patches/lambda_environment_bound.py wires it into LocalStack's assignment service.

On AWS every concurrent invocation gets its own environment. On a laptop each environment is a
process that imports the function's dependencies (boto3, Powertools: ~0.3 s of CPU, ~55 MB), so
a burst of 32 concurrent requests started 32 of them at once: throughput fell below that of one
client and RSS grew by gigabytes. With a bound, an invocation that finds no free environment
starts one (in the background) only while the function has fewer than `limit` (started or
starting), and waits for the first environment free: a warm one released or the new one,
whichever comes first (on a saturated machine a cold start takes seconds).

A bound must not deadlock: an environment whose handler waits for another invocation of the same
function (or every environment in a long sleep) would keep the waiters waiting forever. So when
no environment of the function was released or started for `stall_s`, and none is starting
(a start in flight serves a waiter: on a loaded machine the demo's four parallel cold starts of
one function took over 2 s, and a fifth started beyond the bound), one waiter starts another
environment beyond the bound (one per `stall_s`: growth, not a burst).

HOSTMODE_LAMBDA_MAX_ENVIRONMENTS: the bound per function version (default: twice the CPUs, at
least 4); 0 turns it off (AWS's behaviour: one environment per concurrent invocation).
"""

from __future__ import annotations

import collections
import os
import threading
import time
from collections.abc import Callable
from typing import TypeVar

from .knobs import non_negative

LIMIT_ENV = "HOSTMODE_LAMBDA_MAX_ENVIRONMENTS"
STALL_ENV = "HOSTMODE_LAMBDA_ENVIRONMENT_STALL_S"
DEFAULT_STALL_S = 2.0
# the first waiter looks again this often even without a notification (an environment stopped by
# LocalStack's keepalive or a failed start frees a place without passing through the gate)
RECHECK_S = 0.25
# HOSTMODE_LAMBDA_QUIET_WAITS=0: every waiter rechecks every RECHECK_S (as before)
QUIET_WAITS = os.environ.get("HOSTMODE_LAMBDA_QUIET_WAITS", "1") != "0"

T = TypeVar("T")


def default_limit() -> int:
    return max(4, 2 * (os.cpu_count() or 1))


def limit_from_env(environ: dict[str, str] | None = None) -> int:
    """The configured bound; 0 means none."""
    return int(non_negative(os.environ if environ is None else environ, LIMIT_ENV,
                            default_limit(), what="0 (no bound) or a positive whole number"))


def stall_from_env(environ: dict[str, str] | None = None) -> float:
    return non_negative(os.environ if environ is None else environ, STALL_ENV, DEFAULT_STALL_S,
                        kind=float, what="0 or more seconds")


class Start:
    """One environment start in the background: done once it ended, error if it failed."""

    __slots__ = ("done", "error")

    def __init__(self) -> None:
        self.done = False
        self.error: BaseException | None = None


class _Waiter:
    """One invocation in line: its own condition (on the gate's lock), so a release wakes the
    one waiter that can take the environment, not all of them."""

    __slots__ = ("wake", "start")

    def __init__(self, lock: threading.Lock) -> None:
        self.wake = threading.Condition(lock)
        self.start: Start | None = None


class Gate:
    """The environments of one function version: a bound, the starts in flight, the waiters.

    Wake-ups are targeted: an environment released or a start that succeeded wakes only the
    first waiter (the only one that may take it), which wakes the next when it leaves the line.
    A start that failed or an environment that went away wakes every waiter (each may start one
    now). With notify_all on every release, 32 concurrent requests on two cores woke ~30 threads
    per invocation to find they were not first in line: context switches and GIL hand-offs that
    grew with the queue (py-spy: ~260 voluntary context switches per API request at 32 vs ~75
    at 1). The first in line still looks again after RECHECK_S without a wake-up; the
    others at a stall (_wait_s)."""

    def __init__(
        self, limit: int, stall_s: float = DEFAULT_STALL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limit = limit
        self.stall_s = stall_s
        self._clock = clock
        self._lock = threading.Lock()
        self.starting = 0
        self._queue: collections.deque[_Waiter] = collections.deque()
        self.overflows = 0  # starts beyond the bound (stalls broken)
        self._last_progress = clock()

    def acquire(
        self, try_reserve: Callable[[], T | None], live: Callable[[], int],
        start: Callable[[Start], None],
    ) -> T:
        """A reserved free environment (try_reserve's); waits for one, starting environments
        in the background while the bound allows. `start(handle)` must begin a start that
        lists the environment as free when it is ready and calls started(handle, error) once
        it ended, however it ended. A start that failed raises its error here, in the
        invocation that asked for it (as LocalStack does when a start fails).

        `live` counts the function's environments that exist (not those starting). The first
        environment free goes to the longest waiting invocation, warm or just started: a
        waiter is not tied to the cold start it asked for when another environment frees
        first."""
        me = _Waiter(self._lock)
        with self._lock:
            since = self._clock()
            self._queue.append(me)
            try:
                while True:
                    if self._queue[0] is me:
                        environment = try_reserve()
                        if environment is not None:
                            return environment
                    mine = me.start
                    if mine is not None and mine.error is not None:
                        raise mine.error
                    now = self._clock()
                    if (mine is None or mine.done) and self._may_start(live(), now, since):
                        self.starting += 1
                        me.start = Start()
                        try:
                            start(me.start)
                        except BaseException:
                            self.starting -= 1
                            raise
                        continue
                    me.wake.wait(self._wait_s(now, since, first=self._queue[0] is me))
            finally:
                first = self._queue[0] is me
                self._queue.remove(me)
                if first and self._queue:
                    self._queue[0].wake.notify()  # the next in line looks now

    @property
    def waiting(self) -> int:
        return len(self._queue)

    def _may_start(self, live: int, now: float, since: float) -> bool:
        if self.limit <= 0 or live + self.starting < self.limit:
            return True
        if self.starting:
            return False  # not a stall: a start in flight serves the first waiter
        stalled = now - max(self._last_progress, since) >= self.stall_s
        if stalled:
            self.overflows += 1
            self._last_progress = now  # the next overflow waits a full stall_s again
        return stalled

    def _wait_s(self, now: float, since: float, first: bool = True) -> float:
        """Until the next look: the first in line rechecks every RECHECK_S; the others only
        look at a stall (or when woken: a release or a start wakes the first, which wakes the
        next as it leaves; a failure or an environment gone wakes all). At 32 concurrent
        requests the ~28 waiters' rechecks were ~110 GIL hand-offs a second for nothing."""
        until_stall = max(self._last_progress, since) + self.stall_s - now
        recheck = RECHECK_S if first or not QUIET_WAITS else until_stall
        return max(0.001, min(recheck, until_stall))

    def _wake(self, everyone: bool) -> None:
        """With the lock held: the first waiter, or all of them."""
        if everyone:
            for waiter in self._queue:
                waiter.wake.notify()
        elif self._queue:
            self._queue[0].wake.notify()

    def started(self, handle: Start, error: BaseException | None = None) -> None:
        """A start the gate allowed has ended: ready (its environment is listed), or failed."""
        with self._lock:
            self.starting -= 1
            handle.error = error
            handle.done = True
            self._last_progress = self._clock()
            # ready: the first waiter takes it; failed: its waiter raises, others may start
            self._wake(everyone=error is not None)

    def released(self, gone: bool = False) -> None:
        """An environment became free (the first waiter may take it), or went away (`gone`:
        stopped, timed out: any waiter may start one in its place)."""
        with self._lock:
            self._last_progress = self._clock()
            self._wake(everyone=gone)


class Gates:
    """One Gate per function version (LocalStack's version manager id)."""

    def __init__(self, limit: int, stall_s: float = DEFAULT_STALL_S) -> None:
        self.limit = limit
        self.stall_s = stall_s
        self._lock = threading.Lock()
        self._gates: dict[str, Gate] = {}

    def get(self, key: str) -> Gate:
        with self._lock:
            gate = self._gates.get(key)
            if gate is None:
                gate = self._gates[key] = Gate(self.limit, self.stall_s)
            return gate

    def released(self, key: str, gone: bool = False) -> None:
        with self._lock:
            gate = self._gates.get(key)
        if gate is not None:
            gate.released(gone)
