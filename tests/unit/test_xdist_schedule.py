"""tests/xdist_schedule.py: shared-state groups and modules stay on one worker, the longest
units start first, and a worker busy with a long unit is only given short work behind it."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
import xdist_schedule as xs


class FakeWorker:
    def __init__(self, name: str) -> None:
        self.gateway = SimpleNamespace(id=name)
        self.sent: list[int] = []
        self.shutting_down = False

    def send_runtest_some(self, indices: list[int]) -> None:
        self.sent.extend(indices)

    def shutdown(self) -> None:
        self.shutting_down = True


def scheduler(collection: list[str], measured: dict[str, float], workers: int,
              ready: Any = lambda: True) -> tuple[xs.SharedStateScheduling, list[FakeWorker]]:
    option = SimpleNamespace(numprocesses=workers, tx=[f"{workers}*popen"], dist="load",
                             loadscopereorder=True)
    config: Any = SimpleNamespace(option=option, getoption=lambda name: getattr(option, name),
                                  getvalue=lambda name: getattr(option, name))
    sched = xs.SharedStateScheduling(config, measured=measured, ready=ready)
    nodes = [FakeWorker(f"gw{i}") for i in range(workers)]
    for node in nodes:
        sched.add_node(node)
        sched.add_node_collection(node, collection)
    sched.schedule()
    return sched, nodes


def names(node: FakeWorker, collection: list[str]) -> list[str]:
    return [collection[i] for i in node.sent]


def test_longest_units_start_first_and_short_ones_queue_behind_them() -> None:
    collection = [f"tests/unit/test_a{i}.py::test_{i}" for i in range(6)] + [
        "tests/integration/test_x.py::test_long", "tests/integration/test_y.py::test_longer"]
    measured = {"tests/integration/test_x.py::test_long": 30.0,
                "tests/integration/test_y.py::test_longer": 60.0}
    sched, (gw0, gw1) = scheduler(collection, measured, workers=2)

    first = [names(gw0, collection)[0], names(gw1, collection)[0]]
    assert first == ["tests/integration/test_y.py::test_longer",
                     "tests/integration/test_x.py::test_long"]
    # each holds one more test to run next: a short one, not the other long one
    for node in (gw0, gw1):
        assert len(node.sent) == 2
        assert names(node, collection)[1].startswith("tests/unit/")


def test_a_shared_state_group_is_one_unit_on_one_worker_in_collection_order() -> None:
    collection = ["tests/integration/app/test_flow_a.py::test_1",
                  "tests/integration/serverless/test_s.py::test_1",
                  "tests/integration/app/test_flow_b.py::test_2",
                  "tests/integration/test_init_aws.py::test_3",
                  "tests/unit/test_u.py::test_u"]
    sched, nodes = scheduler(collection, {}, workers=3)

    app = [n for n in nodes if "tests/integration/app/test_flow_a.py::test_1"
           in names(n, collection)]
    assert len(app) == 1
    assert [c for c in names(app[0], collection) if xs.group_of(c) == "app-stack"] == [
        "tests/integration/app/test_flow_a.py::test_1",
        "tests/integration/app/test_flow_b.py::test_2",
        "tests/integration/test_init_aws.py::test_3"]


def test_a_module_is_one_unit_so_its_module_fixtures_are_set_up_once() -> None:
    collection = [f"tests/integration/test_m.py::test_{i}" for i in range(4)] + [
        f"tests/integration/test_n.py::test_{i}" for i in range(4)]
    sched, nodes = scheduler(collection, {}, workers=4)

    for module in ("test_m.py", "test_n.py"):
        holders = [n for n in nodes if any(module in c for c in names(n, collection))]
        assert len(holders) == 1, module
        assert [c for c in names(holders[0], collection) if module in c] == [
            f"tests/integration/{module}::test_{i}" for i in range(4)]


def test_while_localstack_starts_unit_tests_go_first_then_the_longest_integration_units(
        ) -> None:
    collection = ["tests/integration/test_x.py::test_long", "tests/integration/app/a.py::t",
                  "tests/unit/test_u1.py::test_1", "tests/unit/test_u2.py::test_2",
                  "tests/unit/test_u3.py::test_3"]
    started = False
    sched, (gw0,) = scheduler(collection, {"tests/integration/test_x.py::test_long": 60.0},
                              workers=1, ready=lambda: started)
    assert [c.startswith("tests/unit/") for c in names(gw0, collection)] == [True, True]

    started = True
    sched.mark_test_complete(gw0, gw0.sent[0])
    assert names(gw0, collection)[2] == "tests/integration/test_x.py::test_long"


@pytest.mark.parametrize(("nodeid", "expected"), [
    ("tests/integration/lifecycle/test_x.py::test_y", 30.0),
    ("tests/integration/test_dynamodb.py::test_z", 1.5),
    ("tests/unit/test_deploy.py::test_q", 0.2),
    ("elsewhere/test_w.py::test_w", xs.DEFAULT_ESTIMATE_S),
])
def test_unmeasured_tests_are_estimated_by_their_longest_matching_prefix(
        nodeid: str, expected: float) -> None:
    assert xs.estimate(nodeid, {}) == expected
    assert xs.estimate(nodeid, {nodeid: 7.0}) == 7.0
