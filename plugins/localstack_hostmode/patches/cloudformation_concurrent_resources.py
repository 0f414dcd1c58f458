"""CloudFormation in host mode: a change set deploys resources that do not depend on each other
at the same time, as AWS does, instead of one after another.

Why: LocalStack 4.14.0's change set executor (services/cloudformation/engine/v2/
change_set_model_executor.py, ``ChangeSetModelExecutor``) deploys a stack by visiting its
resources in template order on one thread; a resource's references (Ref, Fn::GetAtt, Fn::Sub,
DependsOn) are visited, and so deployed, first. Every resource waits for the one before it, and
most of that time is spent waiting on LocalStack itself: a Lambda function is created, then
polled until Active (its code copied and unpacked on the Lambda service's task pool); a role,
a mapping or a permission is an HTTP request to the same process. template.yaml's 17 functions,
their 17 roles, 3 event source mappings and the API took ~5-7 s in a row, the functions alone
~70% of it (py-spy: the stack thread spent ~90% of its samples waiting on those requests).

What changes, for the create and update of a stack (a deletion keeps the upstream order):

* the stack's resources are handed to a pool of WORKERS threads, each visiting one resource
  with the executor's own ``visit``, so dependencies are still found and deployed first the
  upstream way (a resource's visit visits what it references);
* each resource is visited under its own lock: a resource two others reference is deployed once,
  the second waits for it and then reads the executor's cache (the dependency graph of a valid
  template has no cycle, so the waits cannot deadlock). A visit that raised (upstream has marked
  the resource failed) is the change set's failure before its lock is released, so a waiting
  thread does not deploy the resource a second time. An unexpected exception (not a provider's
  failure, whose reason is in the resource's event) is logged with its traceback: upstream's
  execute keeps only its message;
* the first failure stops the rest: no resource starts after it, the ones in progress finish
  (AWS does the same), and the failure is raised from the stack thread, as upstream's would be,
  so rollback status, events and the failure reason are upstream's. The stack status the
  failure sets (CREATE_FAILED / UPDATE_FAILED) is set once the resources in progress are done:
  set at once, a client saw a final status and deleted the stack while they were being
  created. A resource that was waiting for the one that failed is marked failed without a
  reason (upstream, started after the failure, it would not appear; the client's failure report
  skips failures without a reason);
* a resource whose Condition is false is not handed out, as upstream's loop skips it;
* then upstream's ``visit_node_resources`` runs as before and finds every resource deployed.

Outputs, deferred deletions (replacements, removed resources) and stack statuses are upstream's,
in upstream's order; events of independent resources interleave, as on AWS.

Verified on localstack-core 4.14.0; on any other version the registry (registry.py) skips it
with a warning. Opt-out: ``HOSTMODE_CFN_CONCURRENT=0`` in LocalStack's environment.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from .registry import HostPatch, on_import

LOG = logging.getLogger(__name__)

EXECUTOR = "localstack.services.cloudformation.engine.v2.change_set_model_executor"
# Threads deploying one stack's resources: at most one per resource. A resource mostly waits on
# LocalStack's own services (its CPU is theirs), and a thread that picked a resource whose
# dependencies another thread is deploying waits for them: with 8 threads for template.yaml's
# ~60 resources most of them waited, and 2-3 resources were in progress at a time.
WORKERS = 64
GATE = "_hostmode_resource_gate"


class Cancelled(Exception):
    """A resource not started because another one failed; its message (the event's reason) is
    empty on purpose."""

    def __init__(self) -> None:
        super().__init__("")


class ResourceGate:
    """One lock per resource, and the first failure of the change set."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._locks: dict[str, threading.Lock] = {}
        self.failure: BaseException | None = None
        self.status: tuple[Any, Any] | None = None

    def lock_for(self, name: str) -> threading.Lock:
        with self._lock:
            return self._locks.setdefault(name, threading.Lock())

    def fail(self, error: BaseException) -> None:
        with self._lock:
            if self.failure is None:
                self.failure = error

    def defer_status(self, status: Any, reason: Any = None) -> None:
        """In place of the stack's set_stack_status while resources deploy: the first
        (a resource's failure) is set once the resources in progress are done."""
        with self._lock:
            if self.status is None:
                self.status = (status, reason)


def visit_once(visit: Any, self: Any, entity: Any, is_resource: Any) -> Any:
    """The executor's visit; a resource's under its lock (visited at most once)."""
    gate: ResourceGate | None = getattr(self, GATE, None)
    if gate is None or not is_resource(entity):
        return visit(self, entity)
    with gate.lock_for(entity.name):
        if gate.failure is not None and entity.scope not in self._after_cache:
            raise Cancelled()
        try:
            return visit(self, entity)
        except Cancelled:
            raise
        except BaseException as error:
            # recorded before the lock is released: a thread waiting for this resource must not
            # deploy it again (its resource may exist already); upstream marked it failed
            if gate.failure is None and type(error).__name__ != "TriggerRollback":
                # upstream's execute keeps only str(error): the traceback is logged here
                LOG.warning("CloudFormation resource %s failed", entity.name, exc_info=True)
            gate.fail(error)
            raise


def deploy_concurrently(self: Any, resources: list[Any], workers: int = WORKERS) -> None:
    """Visit every resource on a pool of threads; raise the first failure once all stopped."""
    gate = ResourceGate()

    def deploy(node: Any) -> None:
        if gate.failure is not None:
            return
        try:
            self.visit(node)
        except Cancelled:
            pass
        except BaseException as error:  # noqa: BLE001 - handed to the stack thread below
            gate.fail(error)

    stack = self._change_set.stack
    stack.set_stack_status = gate.defer_status  # an instance attribute, deleted below
    setattr(self, GATE, gate)
    try:
        with ThreadPoolExecutor(max_workers=min(workers, len(resources)),
                                thread_name_prefix="cfn-resource") as pool:
            list(pool.map(deploy, resources))
    finally:
        setattr(self, GATE, None)
        del stack.set_stack_status
        if gate.status is not None:
            stack.set_stack_status(*gate.status)
    if gate.failure is not None:
        raise gate.failure


def _patch_executor(module: Any) -> None:
    from localstack.aws.api.cloudformation import StackStatus
    from localstack.services.cloudformation.engine.v2.change_set_model import (
        NodeResource,
        is_nothing,
    )
    from localstack.utils.patch import Patch

    executor = module.ChangeSetModelExecutor
    visit = executor.visit
    visit_node_resources = executor.visit_node_resources

    def is_resource(entity: Any) -> bool:
        return isinstance(entity, NodeResource)

    def _visit(self: Any, change_set_entity: Any) -> Any:  # upstream passes it by keyword too
        return visit_once(visit, self, change_set_entity, is_resource)

    def condition_false(self: Any, resource: Any) -> bool:
        # upstream's visit_node_resources (change_set_model_preproc.py) skips these
        reference = resource.condition_reference
        return not is_nothing(reference) and \
            self._resolve_resource_condition_reference(reference).after is False

    def _visit_node_resources(self: Any, node_resources: Any) -> Any:
        resources = [r for r in node_resources.resources if not condition_false(self, r)]
        deleting = self._change_set.stack.status == StackStatus.DELETE_IN_PROGRESS
        if len(resources) > 1 and not deleting and getattr(self, GATE, None) is None:
            deploy_concurrently(self, resources)
        return visit_node_resources(self, node_resources)

    Patch(executor, "visit", _visit).apply()
    Patch(executor, "visit_node_resources", _visit_node_resources).apply()
    LOG.debug("CloudFormation: a change set deploys independent resources on %d threads",
              WORKERS)


def apply() -> None:
    on_import(EXECUTOR, _patch_executor)


PATCH = HostPatch(
    name="cloudformation_concurrent_resources",
    changes=(
        "CloudFormation's change set executor deploys resources that do not depend on each "
        f"other at the same time ({WORKERS} threads), each once, dependencies first"
    ),
    why=(
        "upstream deploys one resource after another, nearly all of it waiting on LocalStack's "
        "own services: a 17-function stack took ~5-7 s to create"
    ),
    verified_on=("4.14.0",),
    opt_out="HOSTMODE_CFN_CONCURRENT",
    apply=apply,
)
