"""The concurrent resource deployment patch against a fake change set executor (no LocalStack):
each resource once, its dependencies first, independent ones at the same time, and the first
failure stops the rest and is raised."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest

from localstack_hostmode.patches import registry
from localstack_hostmode.patches.cloudformation_concurrent_resources import (
    GATE,
    deploy_concurrently,
    visit_once,
)


class Node:
    def __init__(self, name: str, *deps: str) -> None:
        self.name, self.deps, self.scope = name, deps, f"Resources/{name}"


class FakeStack:
    def __init__(self) -> None:
        self.statuses: list[str] = []

    def set_stack_status(self, status: str, reason: str | None = None) -> None:
        self.statuses.append(status)


class FakeChangeSet:
    def __init__(self) -> None:
        self.stack = FakeStack()


class FakeExecutor:
    """Upstream's visit, as far as the patch sees it: a cached resource is returned, otherwise
    its references are visited (deployed) first, then the resource, then it is cached."""

    def __init__(self, nodes: list[Node], work: Callable[[Node], None] = lambda node: None):
        self.nodes = {n.name: n for n in nodes}
        self.work = work
        self._after_cache: dict[str, str] = {}
        self.deployed: list[str] = []
        self._lock = threading.Lock()
        self._change_set = FakeChangeSet()

    def _upstream_visit(self, node: Node) -> str:
        if node.scope in self._after_cache:
            return self._after_cache[node.scope]
        for dep in node.deps:
            self.visit(self.nodes[dep])
        self.work(node)
        with self._lock:
            self.deployed.append(node.name)
        self._after_cache[node.scope] = node.name
        return node.name

    def visit(self, node: Node) -> str:
        return visit_once(FakeExecutor._upstream_visit, self, node,
                          lambda e: isinstance(e, Node))


# template.yaml's shape: roles, functions, a mapping, the API and its permissions
STACK = [
    Node("Api", "FnA", "FnB"),
    Node("PermB", "Api", "FnB"),
    Node("MappingA", "FnA"),
    Node("FnA", "RoleA"),
    Node("FnB", "RoleB"),
    Node("RoleA"),
    Node("RoleB"),
]


@pytest.mark.parametrize("workers", [1, 2, 64])
def test_each_resource_once_and_after_its_dependencies(workers: int) -> None:
    executor = FakeExecutor(STACK)

    deploy_concurrently(executor, STACK, workers=workers)

    assert sorted(executor.deployed) == sorted(n.name for n in STACK)
    for node in STACK:
        for dep in node.deps:
            assert executor.deployed.index(dep) < executor.deployed.index(node.name)
    assert getattr(executor, GATE) is None  # later visits (outputs, deletions) as upstream's


def test_independent_resources_are_deployed_at_the_same_time() -> None:
    both_started = threading.Barrier(2, timeout=5)  # one after the other would break it
    nodes = [Node("RoleA"), Node("RoleB")]

    executor = FakeExecutor(nodes, work=lambda node: both_started.wait())
    deploy_concurrently(executor, nodes)

    assert sorted(executor.deployed) == ["RoleA", "RoleB"]


def test_the_first_failure_stops_what_has_not_started_and_is_raised() -> None:
    def work(node: Node) -> None:
        if node.name == "FnA":
            raise RuntimeError("FnA failed")

    nodes = [Node("RoleA"), Node("FnA", "RoleA"), Node("MappingA", "FnA"), Node("Late")]
    executor = FakeExecutor(nodes, work)

    with pytest.raises(RuntimeError, match="FnA failed"):
        deploy_concurrently(executor, nodes, workers=1)

    assert executor.deployed == ["RoleA"]


def test_a_resource_waiting_for_the_failed_one_is_not_deployed() -> None:
    mapping_waits = threading.Event()

    def work(node: Node) -> None:
        if node.name == "FnA":
            assert mapping_waits.wait(5)
            raise RuntimeError("FnA failed")

    nodes = [Node("FnA"), Node("MappingA", "FnA")]
    executor = FakeExecutor(nodes, work)
    original = executor.visit

    def visit(node: Node) -> str:
        if node.name == "FnA" and threading.current_thread().name.endswith("_1"):
            mapping_waits.set()  # the mapping's thread is about to wait for FnA's lock
        return original(node)

    executor.visit = visit  # type: ignore[method-assign]
    with pytest.raises(RuntimeError, match="FnA failed"):
        deploy_concurrently(executor, nodes, workers=2)

    assert executor.deployed == []


def test_a_resource_whose_visit_raised_is_not_deployed_again_by_a_waiting_thread() -> None:
    calls: list[str] = []
    fn_a_started = threading.Event()
    mapping_waits = threading.Event()

    def work(node: Node) -> None:
        calls.append(node.name)
        if node.name == "FnA":
            fn_a_started.set()
            assert mapping_waits.wait(5)
            raise RuntimeError("FnA failed after CreateFunction")

    nodes = [Node("FnA"), Node("MappingA", "FnA")]
    executor = FakeExecutor(nodes, work)
    original = executor.visit

    def visit(node: Node) -> str:
        if node.name == "MappingA":
            assert fn_a_started.wait(5)  # FnA is being deployed by the other thread
        elif fn_a_started.is_set():
            mapping_waits.set()  # the mapping's thread is about to wait for FnA's lock
        try:
            return original(node)
        except RuntimeError:
            time.sleep(0.2)  # FnA's lock is free, its failure not yet back in the pool
            raise

    executor.visit = visit  # type: ignore[method-assign]
    with pytest.raises(RuntimeError, match="FnA failed"):
        deploy_concurrently(executor, nodes, workers=2)

    assert calls == ["FnA"]


class TriggerRollback(Exception):
    """Named like upstream's: a resource whose provider failed; its reason is in its event."""


def test_an_unexpected_failure_is_logged_with_its_traceback_once(
        caplog: pytest.LogCaptureFixture) -> None:
    # upstream's execute keeps only str(error) as the failure reason: the traceback is logged
    def work(node: Node) -> None:
        if node.name == "FnA":
            raise KeyError("PhysicalResourceId")

    nodes = [Node("MappingA", "FnA"), Node("FnA")]  # FnA fails inside the mapping's visit
    with pytest.raises(KeyError):
        deploy_concurrently(FakeExecutor(nodes, work), nodes, workers=1)

    logged = [r for r in caplog.records if "CloudFormation resource" in r.getMessage()]
    assert [r.getMessage() for r in logged] == ["CloudFormation resource FnA failed"]
    assert logged[0].exc_info is not None and logged[0].exc_info[0] is KeyError


def test_a_provider_failure_is_not_logged_again(caplog: pytest.LogCaptureFixture) -> None:
    def work(node: Node) -> None:
        raise TriggerRollback("FnA", "Resource provider operation failed: ...")

    nodes = [Node("FnA")]
    with pytest.raises(TriggerRollback):
        deploy_concurrently(FakeExecutor(nodes, work), nodes, workers=1)

    assert not [r for r in caplog.records if "CloudFormation resource" in r.getMessage()]


def test_a_failure_sets_the_stack_status_once_the_resources_in_progress_are_done() -> None:
    fn_a_failed = threading.Event()
    both_started = threading.Barrier(2, timeout=5)
    seen_while_b_deploys: list[list[str]] = []

    def work(node: Node) -> None:
        stack = executor._change_set.stack
        both_started.wait()
        if node.name == "FnA":
            stack.set_stack_status("CREATE_FAILED")  # what upstream's failed event does
            fn_a_failed.set()
            raise RuntimeError("FnA failed")
        assert fn_a_failed.wait(5)
        seen_while_b_deploys.append(list(stack.statuses))

    nodes = [Node("FnA"), Node("FnB")]
    executor = FakeExecutor(nodes, work)
    with pytest.raises(RuntimeError, match="FnA failed"):
        deploy_concurrently(executor, nodes, workers=2)

    assert executor.deployed == ["FnB"]
    assert seen_while_b_deploys == [[]]
    assert executor._change_set.stack.statuses == ["CREATE_FAILED"]
    assert "set_stack_status" not in vars(executor._change_set.stack)


def test_registered_with_an_opt_out() -> None:
    (patch,) = registry.load_patches(["cloudformation_concurrent_resources"])

    assert "cloudformation_concurrent_resources" in registry.PATCH_MODULES
    assert patch.opt_out == "HOSTMODE_CFN_CONCURRENT"
    assert patch.verified_on == ("4.14.0",)
