"""The bound on a function's environments (admission.py) and reclaiming idle ones (reclaim.py),
without LocalStack: environments are plain objects, time a fake clock where it matters."""

from __future__ import annotations

import threading
import time
from functools import partial

import pytest

from localstack_hostmode.lambda_runtime import admission, reclaim
from localstack_hostmode.lambda_runtime.admission import Gate, Start
from localstack_hostmode.lambda_runtime.reclaim import Environment, Reclaimer, to_stop

LIMIT_S = 5.0


class Pool:
    """A function's environments as LocalStack's assignment service keeps them; starts are
    recorded and finished by the test (as the background thread would)."""

    def __init__(self, gate: Gate) -> None:
        self.gate = gate
        self.free: list[str] = []
        self.live = 0
        self.starts: list[Start] = []

    def try_reserve(self) -> str | None:
        return self.free.pop(0) if self.free else None

    def start(self, handle: Start) -> None:
        self.starts.append(handle)

    def finish(self, index: int, name: str | None = None, error: Exception | None = None):
        if name is not None:
            self.free.append(name)
            self.live += 1
        self.gate.started(self.starts[index], error)

    def acquire(self) -> str:
        return self.gate.acquire(self.try_reserve, lambda: self.live, self.start)


def _wait_for(predicate, what: str) -> None:
    deadline = time.monotonic() + LIMIT_S
    while not predicate():
        assert time.monotonic() < deadline, what
        time.sleep(0.005)


def _in_thread(pool: Pool, got: list, n: int) -> threading.Thread:
    def run() -> None:
        try:
            got.append((n, pool.acquire()))
        except Exception as e:
            got.append((n, e))

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_free_environment_is_reserved_before_any_start():
    pool = Pool(Gate(limit=2))
    pool.free.append("warm")
    pool.live = 1

    assert pool.acquire() == "warm"
    assert pool.starts == []


def test_starts_stop_at_the_limit_and_the_first_free_environment_goes_to_the_first_waiter():
    # GIVEN a function with a bound of 2 and no environment
    pool = Pool(Gate(limit=2, stall_s=60))
    got: list = []

    # WHEN four invocations arrive, one after the other
    threads = []
    for n in range(4):
        threads.append(_in_thread(pool, got, n))
        _wait_for(lambda n=n: pool.gate.waiting == n + 1, f"invocation {n} not queued")
    # THEN only two environments start
    assert len(pool.starts) == 2 and pool.gate.starting == 2

    # AND the first ready one goes to the first invocation, whichever start it was
    pool.finish(1, "b")
    _wait_for(lambda: len(got) == 1, "b not taken")
    assert got == [(0, "b")]
    # AND a released warm environment goes to the next, before the other start is ready
    pool.free.append("b")
    pool.gate.released()
    _wait_for(lambda: len(got) == 2, "released b not taken")
    pool.finish(0, "a")
    _wait_for(lambda: len(got) == 3, "a not taken")
    pool.free.append("b")
    pool.gate.released()
    for thread in threads:
        thread.join(LIMIT_S)
    assert got == [(0, "b"), (1, "b"), (2, "a"), (3, "b")]
    assert len(pool.starts) == 2 and pool.gate.overflows == 0


def test_a_failed_start_fails_the_invocation_that_asked_for_it():
    pool = Pool(Gate(limit=1, stall_s=60))
    got: list = []
    thread = _in_thread(pool, got, 0)
    _wait_for(lambda: len(pool.starts) == 1, "no start")

    pool.finish(0, error=RuntimeError("init binary missing"))
    thread.join(LIMIT_S)

    assert [(n, str(e)) for n, e in got] == [(0, "init binary missing")]
    assert pool.gate.starting == 0 and pool.gate.waiting == 0


def test_a_stall_starts_one_environment_beyond_the_bound():
    # GIVEN a function whose only environment is busy for good (e.g. it waits for itself)
    now = [100.0]
    pool = Pool(Gate(limit=1, stall_s=2.0, clock=lambda: now[0]))
    pool.live = 1
    got: list = []
    thread = _in_thread(pool, got, 0)
    _wait_for(lambda: pool.gate.waiting == 1, "not queued")
    assert pool.starts == []

    # WHEN no environment was released or started for stall_s
    now[0] += 2.5

    # THEN one more starts (deadlock broken), and it is counted
    _wait_for(lambda: len(pool.starts) == 1, "no start after the stall")
    assert pool.gate.overflows == 1
    pool.finish(0, "extra")
    thread.join(LIMIT_S)
    assert got == [(0, "extra")]


def test_limit_zero_never_makes_an_invocation_wait_for_a_start_slot():
    pool = Pool(Gate(limit=0))
    pool.live = 50
    got: list = []
    thread = _in_thread(pool, got, 0)
    _wait_for(lambda: len(pool.starts) == 1, "no start")
    pool.finish(0, "own")
    thread.join(LIMIT_S)
    assert got == [(0, "own")]


def test_limit_comes_from_the_environment_with_clear_errors():
    assert admission.limit_from_env({}) == admission.default_limit() >= 4
    assert admission.limit_from_env({admission.LIMIT_ENV: "0"}) == 0
    assert admission.limit_from_env({admission.LIMIT_ENV: " 6 "}) == 6
    with pytest.raises(ValueError, match="HOSTMODE_LAMBDA_MAX_ENVIRONMENTS"):
        admission.limit_from_env({admission.LIMIT_ENV: "many"})
    with pytest.raises(ValueError, match="0 \\(no bound\\)"):
        admission.limit_from_env({admission.LIMIT_ENV: "-1"})


# -- reclaiming ---------------------------------------------------------------------------------

MB = 1024


def test_nothing_is_stopped_within_the_budget():
    envs = [Environment("a", 60 * MB, 300.0), Environment("b", 60 * MB, None)]
    assert to_stop(envs, budget_kib=512 * MB) == []


def test_longest_idle_go_first_until_the_budget_holds_busy_and_fresh_ones_never():
    envs = [
        Environment("busy", 200 * MB, None),
        Environment("idle-10s", 60 * MB, 10.0),
        Environment("idle-600s", 60 * MB, 600.0),
        Environment("idle-60s", 60 * MB, 60.0),
        Environment("just-released", 60 * MB, 0.5),
    ]
    # 440 MB against 350: 90 MB must go, so the two idle longest
    assert to_stop(envs, budget_kib=350 * MB) == ["idle-600s", "idle-60s"]
    # far over budget: every idle one past min_idle_s, never the busy or the just released
    assert to_stop(envs, budget_kib=10 * MB) == ["idle-600s", "idle-60s", "idle-10s"]


def test_a_functions_extra_environments_go_before_any_functions_last_one():
    envs = [
        Environment("orders-only", 60 * MB, 900.0, "orders"),
        Environment("api-1", 60 * MB, 30.0, "api"),
        Environment("api-2", 60 * MB, 20.0, "api"),
        Environment("api-busy", 60 * MB, None, "api"),
        Environment("mail-only", 60 * MB, 600.0, "mail"),
    ]
    # 300 MB against 200: two must go; api keeps a (busy) one, so its idle ones go first,
    # though orders' and mail's only environments have been idle far longer
    assert to_stop(envs, budget_kib=200 * MB) == ["api-1", "api-2"]
    # more must go: then the last ones, longest idle first
    assert to_stop(envs, budget_kib=150 * MB) == ["api-1", "api-2", "orders-only"]
    assert to_stop(envs, budget_kib=0) == ["api-1", "api-2", "orders-only", "mail-only"]


def test_a_functions_extra_environment_goes_after_1s_idle_its_last_one_after_5s():
    envs = [
        Environment("api-last", 60 * MB, 2.0, "api"),
        Environment("api-extra", 60 * MB, 1.5, "api"),
        Environment("api-extra-fresh", 60 * MB, 0.5, "api"),
        Environment("mail-only", 60 * MB, 3.0, "mail"),
    ]
    # far over budget, all released within 5 s: only the extras idle >= 1 s go (api keeps its
    # longest idle one as its last: any of its environments would serve the next request)
    assert to_stop(envs, budget_kib=0) == ["api-last", "api-extra"]
    # within the budget, nothing goes however long the extras have been idle
    assert to_stop(envs, budget_kib=240 * MB) == []


def test_a_machine_short_of_memory_reclaims_within_budget_too():
    meminfo = "MemTotal:       8000000 kB\nMemFree:  1000 kB\nMemAvailable:     100000 kB\n"
    shortfall = reclaim.system_shortfall_kib(meminfo)
    assert shortfall == 400000 - 100000  # 5 % of 8 GB is the low-water mark here
    envs = [Environment("old", 200000, 100.0), Environment("older", 200000, 200.0)]
    assert to_stop(envs, budget_kib=10**9, shortfall_kib=shortfall) == ["older", "old"]
    assert reclaim.system_shortfall_kib("garbage") == 0


def test_reclaimer_stops_what_to_stop_chose_and_survives_a_failing_stop():
    stopped: list[str] = []

    def stop(key: str) -> None:
        if key == "broken":
            raise RuntimeError("already gone")
        stopped.append(key)

    envs = [Environment("broken", 300 * MB, 900.0), Environment("old", 300 * MB, 800.0)]
    reclaimer = Reclaimer(100 * MB, lambda: envs, stop, meminfo=lambda: "")

    assert reclaimer.check() == 2
    assert stopped == ["old"]


def test_budget_comes_from_the_environment_with_clear_errors():
    assert reclaim.budget_kib_from_env({}) == reclaim.DEFAULT_BUDGET_MB * MB
    assert reclaim.budget_kib_from_env({reclaim.BUDGET_ENV: "0"}) == 0
    with pytest.raises(ValueError, match="HOSTMODE_LAMBDA_MEMORY_BUDGET_MB"):
        reclaim.budget_kib_from_env({reclaim.BUDGET_ENV: "1G"})


def test_a_release_wakes_the_first_waiter_only_and_a_stop_wakes_them_all():
    # GIVEN three invocations waiting on a function whose only environment is busy
    pool = Pool(Gate(limit=1, stall_s=60))
    pool.live = 1
    got: list = []
    threads = []
    for n in range(3):
        threads.append(_in_thread(pool, got, n))
        _wait_for(lambda n=n: pool.gate.waiting == n + 1, f"invocation {n} not queued")
    woken: list = []
    for n, waiter in enumerate(list(pool.gate._queue)):
        notify = waiter.wake.notify
        waiter.wake.notify = lambda n=n, notify=notify: (woken.append(n), notify())

    # WHEN an environment is released: only the first in line is woken (it may take it)
    pool.gate.released()
    assert woken == [0]
    # WHEN one goes away: every waiter may start one in its place
    pool.gate.released(gone=True)
    assert woken == [0, 0, 1, 2]

    # AND the line still drains in order, each leaving waking the next
    for _ in range(3):
        pool.free.append("warm")
        expected = len(got) + 1
        pool.gate.released()
        _wait_for(partial(lambda n: len(got) == n, expected), "released environment not taken")
    for thread in threads:
        thread.join(LIMIT_S)
    assert [n for n, _ in got] == [0, 1, 2]


@pytest.mark.parametrize("raw", ["soon", "-0.5"])
def test_a_bad_seconds_knob_is_an_error_that_names_it(raw: str) -> None:
    with pytest.raises(ValueError, match=f"{admission.STALL_ENV} must be 0 or more seconds"):
        admission.stall_from_env({admission.STALL_ENV: raw})
    with pytest.raises(ValueError, match=f"{reclaim.EXTRA_IDLE_ENV} must be 0 or more seconds"):
        reclaim.extra_min_idle_from_env({reclaim.EXTRA_IDLE_ENV: raw})
    assert admission.stall_from_env({admission.STALL_ENV: " 0.25 "}) == 0.25


def test_no_stall_while_a_start_is_in_flight():
    # GIVEN a function at its bound with its only environment still starting (a slow cold start)
    now = [100.0]
    pool = Pool(Gate(limit=1, stall_s=2.0, clock=lambda: now[0]))
    got: list = []
    first = _in_thread(pool, got, 0)
    _wait_for(lambda: len(pool.starts) == 1, "no start")
    second = _in_thread(pool, got, 1)
    _wait_for(lambda: pool.gate.waiting == 2, "not queued")

    # WHEN the start takes longer than stall_s: THEN nothing starts beyond the bound
    now[0] += 5.0
    time.sleep(3 * admission.RECHECK_S)
    assert len(pool.starts) == 1 and pool.gate.overflows == 0

    # AND the start, once ready, serves the first waiter, then the second
    pool.finish(0, "a")
    _wait_for(lambda: len(got) == 1, "a not taken")
    pool.free.append("a")
    pool.gate.released()
    for thread in (first, second):
        thread.join(LIMIT_S)
    assert got == [(0, "a"), (1, "a")] and len(pool.starts) == 1


def test_the_reclaimer_says_whether_memory_is_still_tight_after_its_round():
    told: list[bool] = []
    envs = [Environment("fresh", 300 * MB, 1.0, "f"), Environment("old", 300 * MB, 900.0, "g")]
    reclaimer = Reclaimer(100 * MB, lambda: envs, lambda key: None, meminfo=lambda: "",
                          tight=told.append)

    reclaimer.check()  # "old" goes, "fresh" (inside 5 s) stays over the budget
    envs[:] = [Environment("fresh", 50 * MB, 1.0, "f")]
    reclaimer.check()  # within the budget again
    assert told == [True, False]
