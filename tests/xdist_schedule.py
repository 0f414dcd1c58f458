"""The pytest-xdist scheduler of `make test`: shared-state groups on one worker, longest first.

- Tests that share state run on one worker, in collection order (``SHARED_STATE_GROUPS``):
  the deployed app stack with init-aws.sh's data layer, and the Serverless Framework stage.
  (Node-id prefixes, not xdist_group marks: pytest-xdist 3.8 drops marks added at collection
  time.) Every other module is a unit of its own: its module-scoped fixtures (a probe
  function, a function URL, parsed project files) are set up once, not once per worker that
  runs one of its tests (per-test units set most of them up on every worker).
- Units are handed out longest first (LPT), so the few long ones (the two stacks, the
  lifecycle tests that start LocalStacks of their own, the minute-long record-age test)
  overlap from the start instead of ending the run one after another. A unit's length is the
  sum of its tests' durations in the last run (pytest's cache, ``DURATIONS_KEY``), else an
  estimate from ``ESTIMATES_S`` (a fresh clone, as in CI).
- While the controller's LocalStack is still starting (``ready``), units that do not need it
  (unit tests) are handed out first.
- An xdist worker holds the test after its current one (it needs the next item to run the
  current one), so a worker busy with a long unit is given the shortest unit left: a long one
  queued behind it would wait there while other workers run out of work.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import pytest
from xdist.scheduler import LoadScopeScheduling

SHARED_STATE_GROUPS = {
    "tests/integration/app/": "app-stack",
    "tests/integration/test_init_aws.py": "app-stack",
    "tests/integration/serverless/": "serverless-stack",
}

# Seconds a test takes (the longest matching prefix of its node id wins), measured on a 2-core
# machine under load; only their order matters. Used for tests the last run did not time.
ESTIMATES_S = {
    "tests/integration/serverless/": 9.0,  # 17 tests: deploys, a failed deploy, a remove
    "tests/integration/app/": 2.5,
    "tests/integration/test_init_aws.py": 13.0,
    "tests/integration/lifecycle/": 30.0,
    "tests/integration/event_sources/test_record_age.py": 63.0,
    "tests/integration/test_deploy_recovery.py": 11.0,
    "tests/integration/test_cloudformation_patch.py": 5.0,
    "tests/integration/test_stepfunctions_program_cache.py": 7.0,
    "tests/unit/test_stepfunctions_batch_import.py": 12.0,
    "tests/unit/launcher/test_docker_backend.py": 2.0,
    "tests/integration/": 1.5,
    "tests/unit/": 0.2,
}
DEFAULT_ESTIMATE_S = 1.0
# a unit at least this long keeps its worker busy long enough to hold only short work behind it
LONG_UNIT_S = 5.0
DURATIONS_KEY = "xdist_schedule/durations"


def group_of(nodeid: str) -> str | None:
    for prefix, group in SHARED_STATE_GROUPS.items():
        if nodeid.startswith(prefix):
            return group
    return None


def needs_localstack(scope: str) -> bool:
    return scope in SHARED_STATE_GROUPS.values() or scope.startswith("tests/integration/")


def estimate(nodeid: str, measured: dict[str, float]) -> float:
    if nodeid in measured:
        return measured[nodeid]
    matches = [p for p in ESTIMATES_S if nodeid.startswith(p)]
    return ESTIMATES_S[max(matches, key=len)] if matches else DEFAULT_ESTIMATE_S


class SharedStateScheduling(LoadScopeScheduling):
    """LoadScope scheduling with shared-state groups, longest unit first."""

    def __init__(self, config: pytest.Config, log: Any = None,
                 measured: dict[str, float] | None = None,
                 ready: Callable[[], bool] = lambda: True) -> None:
        super().__init__(config, log)
        self.measured = measured or {}
        self.ready = ready
        self.unit_s: dict[str, float] = {}
        self.queue_sorted = False

    def _split_scope(self, nodeid: str) -> str:
        return group_of(nodeid) or nodeid.split("::", 1)[0]

    def schedule(self) -> None:
        if self.collection is None and self.collection_is_completed:
            collection = next(iter(self.registered_collections.values()), [])
            for nodeid in collection:
                scope = self._split_scope(nodeid)
                self.unit_s[scope] = self.unit_s.get(scope, 0.0) + estimate(nodeid,
                                                                            self.measured)
            # LoadScope keeps this queue's order (its reorder is by test count: turned off)
            self.config.option.loadscopereorder = False
        super().schedule()

    def _assign_work_unit(self, node: Any) -> None:
        if not self.unit_s:  # collection not registered yet: LoadScope's own order
            return super()._assign_work_unit(node)
        if not self.queue_sorted:
            self.workqueue = OrderedDict(sorted(self.workqueue.items(),
                                                key=lambda item: -self.unit_s[item[0]]))
            self.queue_sorted = True
        pending = self.assigned_work.get(node, {})
        busy_long = any(self.unit_s[scope] >= LONG_UNIT_S and not all(unit.values())
                        for scope, unit in pending.items())
        candidates = list(self.workqueue)
        if not self.ready():  # LocalStack is still starting: tests that do not need it first
            candidates = [s for s in candidates if not needs_localstack(s)] or candidates
        # behind a long unit the shortest one left: the next long one stays free for others
        chosen = candidates[-1] if busy_long else candidates[0]
        self.workqueue.move_to_end(chosen, last=False)
        return super()._assign_work_unit(node)


class DurationRecorder:
    """Records each test's duration (setup + call + teardown) for the next run's order."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.durations: dict[str, float] = {}

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self.durations[report.nodeid] = self.durations.get(report.nodeid, 0.0) + report.duration

    def pytest_sessionfinish(self) -> None:
        cache = getattr(self.config, "cache", None)
        if cache is not None and self.durations:
            known = cache.get(DURATIONS_KEY, {})
            known.update({k: round(v, 2) for k, v in self.durations.items()})
            cache.set(DURATIONS_KEY, known)


def measured_durations(config: pytest.Config) -> dict[str, float]:
    cache = getattr(config, "cache", None)
    found = cache.get(DURATIONS_KEY, {}) if cache is not None else {}
    return found if isinstance(found, dict) else {}
