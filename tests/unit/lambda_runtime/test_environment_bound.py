"""The bound on a function's environments (admission.py) and reclaiming idle ones (reclaim.py),
without LocalStack: environments are plain objects, time a fake clock where it matters."""

from __future__ import annotations

import threading
import time

import pytest

from localstack_hostmode.lambda_runtime import admission, reclaim
from localstack_hostmode.lambda_runtime.admission import Gate
from localstack_hostmode.lambda_runtime.reclaim import Environment, Reclaimer, to_stop

LIMIT_S = 5.0


class Pool:
    """A function's environments as LocalStack's assignment service keeps them."""

    def __init__(self) -> None:
        self.free: list[str] = []
        self.live = 0

    def try_reserve(self) -> str | None:
        return self.free.pop(0) if self.free else None


def _wait_for(predicate, what: str) -> None:
    deadline = time.monotonic() + LIMIT_S
    while not predicate():
        assert time.monotonic() < deadline, what
        time.sleep(0.005)


def test_free_environment_is_reserved_before_any_start():
    pool, gate = Pool(), Gate(limit=2)
    pool.free.append("warm")
    pool.live = 1

    assert gate.acquire(pool.try_reserve, lambda: pool.live) == "warm"
    assert gate.starting == 0


def test_starts_stop_at_the_limit_and_waiters_take_released_environments_in_order():
    # GIVEN a function at its bound of 2 environments, both busy
    pool, gate = Pool(), Gate(limit=2, stall_s=60)
    assert gate.acquire(pool.try_reserve, lambda: pool.live) is None  # may start
    assert gate.acquire(pool.try_reserve, lambda: pool.live) is None  # may start
    pool.live = 2
    gate.started()
    gate.started()
    got: list[tuple[int, str | None]] = []

    def invocation(n: int) -> None:
        got.append((n, gate.acquire(pool.try_reserve, lambda: pool.live)))

    # WHEN three more invocations arrive, one after the other
    threads = []
    for n in range(3):
        threads.append(threading.Thread(target=invocation, args=(n,)))
        threads[-1].start()
        _wait_for(lambda n=n: gate.waiting == n + 1, f"invocation {n} not queued")
    assert got == []  # THEN none starts a third environment

    # AND each release goes to the longest waiting one
    for n, name in enumerate(["a", "b", "c"]):
        pool.free.append(name)
        gate.released()
        _wait_for(lambda n=n: len(got) == n + 1, f"release {name} not taken")
    for thread in threads:
        thread.join(LIMIT_S)
    assert got == [(0, "a"), (1, "b"), (2, "c")]
    assert gate.overflows == 0


def test_a_stall_starts_one_environment_beyond_the_bound():
    # GIVEN a function whose only environment is busy for good (e.g. it waits for itself)
    now = [100.0]
    gate = Gate(limit=1, stall_s=2.0, clock=lambda: now[0])
    pool = Pool()
    pool.live = 1
    result: list[str | None] = []
    waiter = threading.Thread(
        target=lambda: result.append(gate.acquire(pool.try_reserve, lambda: pool.live))
    )
    waiter.start()
    _wait_for(lambda: gate.waiting == 1, "not queued")

    # WHEN no environment was released or started for stall_s
    now[0] += 2.5
    waiter.join(LIMIT_S)

    # THEN the waiter may start one more (deadlock broken), and it is counted
    assert result == [None] and gate.starting == 1 and gate.overflows == 1


def test_limit_zero_is_aws_behaviour_one_environment_per_invocation():
    pool, gate = Pool(), Gate(limit=0)
    pool.live = 50
    assert gate.acquire(pool.try_reserve, lambda: pool.live) is None


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
