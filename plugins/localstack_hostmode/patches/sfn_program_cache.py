"""Step Functions builds a state machine's program once per definition, not for every execution.

Why: LocalStack 4.14.0's ``ExecutionWorker._get_evaluation_entrypoint``
(services/stepfunctions/backend/execution_worker.py) runs ``AmazonStateLanguageParser.parse``
(asl/parse/asl_parser.py: the ANTLR lexer and parser over the JSON definition, then the
``Preprocessor`` visitor that turns the parse tree into evaluation components) at the start of
every execution. For the order saga's definition (6 states, retriers and catchers) that is
~16-20 ms of CPU under the GIL per execution on the 2-core reference machine (py-spy: ~2 of the
LocalStack samples per saga, the same order as all four Lambda states' scheduling together),
between StartExecution and the first state.

What changes: the program (the ``Program`` component tree, not the ANTLR parse tree) is kept in
an LRU cache keyed by the definition string (``CACHE_SIZE`` definitions) and handed to every
execution of that definition; a definition that fails to parse is not cached (the error is
raised as before, every time). Sharing is safe because LocalStack's components keep no
per-execution state: everything an execution changes lives in its own ``Environment`` (the
stack, ``env.heap`` for retry attempts and back-off multipliers keyed by the component's
``heap_key``, the event history, the states' input/output), and LocalStack itself already
evaluates one ``Program`` concurrently with separate environments (the iterations of a Map
state share their ``job_program``: state_map/iteration/iteration_worker.py). The one lazily set
attribute, ``EvalComponent.heap_key`` (a uid made on first read), is set on every component
before the program is shared, so two executions can never race to set it. Untouched: the
TestState API's worker (``TestStateExecutionWorker`` overrides the method and patches its
program), executions with a local mock test case (parsed per execution as before), and the
static analysis at CreateStateMachine/UpdateStateMachine.

Verified on localstack-core 4.14.0; on any other version the registry (registry.py) skips it.
Opt-out: ``HOSTMODE_SFN_PROGRAM_CACHE=0`` (a program per execution, as upstream).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import Any

from .registry import HostPatch, patch_function

MODULE = "localstack.services.stepfunctions.backend.execution_worker"
COMPONENTS = "localstack.services.stepfunctions.asl."  # modules whose objects form a program
CACHE_SIZE = 64


def _is_component(obj: Any, prefix: str) -> bool:
    return type(obj).__module__.startswith(prefix)


def set_heap_keys(program: Any, prefix: str = COMPONENTS) -> int:
    """Read ``heap_key`` on every object of ``program``'s tree (objects of ``prefix`` modules,
    reached through attributes and lists, tuples and dicts), so that its lazy uid is set before
    executions share the tree. Returns how many keys were set."""
    seen: set[int] = set()
    pending: list[Any] = [program]
    count = 0
    while pending:
        obj = pending.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        children: Iterable[Any]
        if isinstance(obj, (list, tuple, set, frozenset)):
            children = obj
        elif isinstance(obj, dict):
            children = obj.values()
        elif _is_component(obj, prefix) and hasattr(obj, "__dict__"):
            if isinstance(getattr(type(obj), "heap_key", None), property):
                obj.heap_key  # noqa: B018 - the read sets the uid
                count += 1
            children = vars(obj).values()
        else:
            continue
        pending.extend(children)
    return count


class ProgramCache:
    """Programs by definition, least recently used dropped beyond ``size``."""

    def __init__(self, size: int = CACHE_SIZE,
                 prepare: Callable[[Any], object] = set_heap_keys) -> None:
        self.size, self.prepare = size, prepare
        self.lock = threading.Lock()
        self.programs: OrderedDict[str, Any] = OrderedDict()

    def get(self, definition: str, build: Callable[[], Any]) -> Any:
        with self.lock:
            program = self.programs.get(definition)
            if program is not None:
                self.programs.move_to_end(definition)
                return program
        program = build()  # outside the lock; a race builds twice and keeps the first
        self.prepare(program)
        with self.lock:
            program = self.programs.setdefault(definition, program)
            self.programs.move_to_end(definition)
            while len(self.programs) > self.size:
                self.programs.popitem(last=False)
        return program


CACHE = ProgramCache()


def _cached_entrypoint(get_entrypoint: Callable[[Any], Any], worker: Any) -> Any:
    if getattr(worker, "_local_mock_test_case", None) is not None:
        return get_entrypoint(worker)
    definition = worker._evaluation_details.state_machine_details.definition
    return CACHE.get(definition, lambda: get_entrypoint(worker))


def apply() -> None:
    patch_function(MODULE, "ExecutionWorker._get_evaluation_entrypoint", _cached_entrypoint)


PATCH = HostPatch(
    name="sfn_program_cache",
    changes="Step Functions parses a definition into its program once (an LRU cache by "
    "definition) instead of at the start of every execution",
    why="every execution ran the ANTLR parser and the preprocessor (~16-20 ms of CPU) first",
    verified_on=("4.14.0",),
    opt_out="HOSTMODE_SFN_PROGRAM_CACHE",
    apply=apply,
)
