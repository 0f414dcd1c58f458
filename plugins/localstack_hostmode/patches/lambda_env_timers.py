"""An execution environment's keepalive and startup timers share one scheduler thread.

Why: LocalStack 4.14.0's ``ExecutionEnvironment`` (services/lambda_/invocation/
execution_environment.py) arms its keepalive with a new ``threading.Timer`` -- a new thread --
every time an invocation releases it, and cancels it when the next invocation reserves it. So
every warm invoke started a thread and woke it to end it. A GIL-sampling profile (py-spy --gil)
of ``GET /users/{id}`` at concurrency 1 put ``reserve``'s cancel (the timer thread's wake-up)
and ``release``'s thread start at ~15% of the gateway threads' time.

What changes: the module's ``Timer`` is ``SharedTimer``, with the same interface (``start``,
``cancel``) and the same semantics (the function runs once, at the interval's end, unless
cancelled before), kept in one heap served by one daemon thread. A timer that fires still runs
its function on a thread of its own, as before (a keepalive stop kills a process; it must not
hold up the other timers). Arming and cancelling are a heap push and a flag.

Verified on localstack-core 4.14.0; on any other version the registry (registry.py) skips it
with a warning. Opt-out: ``HOSTMODE_LAMBDA_SHARED_TIMERS=0`` (a thread per timer, as upstream).
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections.abc import Callable
from typing import Any

from .registry import HostPatch, on_import

_ENVIRONMENT = "localstack.services.lambda_.invocation.execution_environment"


class _Scheduler:
    """One thread that starts each due, uncancelled timer's function on a thread of its own."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, SharedTimer]] = []
        self._cancelled = 0
        self._seq = itertools.count()
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None

    def add(self, timer: SharedTimer) -> None:
        with self._cond:
            heapq.heappush(self._heap, (timer.deadline, next(self._seq), timer))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, daemon=True,
                                                name="lambda-env-timers")
                self._thread.start()
            elif self._heap[0][2] is timer:
                self._cond.notify()  # the new timer is due before the one waited for

    def cancelled(self) -> None:
        with self._cond:
            self._cancelled += 1
            # cancelled keepalives (one per warm invoke) would pile up until their deadline
            if self._cancelled > 64 and self._cancelled * 2 > len(self._heap):
                self._heap = [entry for entry in self._heap if not entry[2].is_cancelled]
                heapq.heapify(self._heap)
                self._cancelled = 0

    def _due(self) -> list[SharedTimer]:
        with self._cond:
            while True:
                now = time.monotonic()
                due = []
                while self._heap and self._heap[0][0] <= now:
                    timer = heapq.heappop(self._heap)[2]
                    if timer.is_cancelled:
                        self._cancelled = max(0, self._cancelled - 1)
                    else:
                        due.append(timer)
                if due:
                    return due
                self._cond.wait(self._heap[0][0] - now if self._heap else None)

    def _run(self) -> None:
        while True:
            for timer in self._due():
                timer.fire()


class SharedTimer:
    """``threading.Timer``'s interface (start, cancel) on the shared scheduler."""

    scheduler = _Scheduler()

    def __init__(self, interval: float, function: Callable[..., Any],
                 args: Any = None, kwargs: Any = None) -> None:
        self.interval = interval
        self.function = function
        self.args = args if args is not None else []
        self.kwargs = kwargs if kwargs is not None else {}
        self.deadline = 0.0
        self.is_cancelled = False
        self._state = threading.Lock()
        self._started = False
        self._fired = False

    def start(self) -> None:
        with self._state:
            self._started = True
        self.deadline = time.monotonic() + self.interval
        self.scheduler.add(self)

    def cancel(self) -> None:
        with self._state:
            if self.is_cancelled or self._fired:
                return
            self.is_cancelled = True
            in_heap = self._started
        if in_heap:
            self.scheduler.cancelled()

    def fire(self) -> None:
        with self._state:
            if self.is_cancelled:
                return
            self._fired = True
        threading.Thread(target=self.function, args=self.args, kwargs=self.kwargs,
                         name="lambda-env-timer", daemon=True).start()


def _patch_environment(module: Any) -> None:
    from localstack.utils.patch import Patch

    Patch(module, "Timer", SharedTimer).apply()


def apply() -> None:
    # when execution_environment is first imported (Lambda's first use), not at start-up
    on_import(_ENVIRONMENT, _patch_environment)


PATCH = HostPatch(
    name="lambda_env_timers",
    changes="execution environments' keepalive and startup timers run on one shared scheduler "
    "thread instead of a new thread each",
    why="every warm invoke started a keepalive Timer thread on release and woke it to cancel it "
    "on the next reserve",
    verified_on=("4.14.0",),
    opt_out="HOSTMODE_LAMBDA_SHARED_TIMERS",
    apply=apply,
)
