"""A werkzeug routing rule compiles its URL builders on its first URL build, not when added.

Why: werkzeug's ``Rule.compile`` (werkzeug/routing/rules.py, 3.1; a LocalStack 4.14.0
dependency) compiles, besides the regex that matches requests, two URL *builder* functions per
rule (``_compile_builder``: an ``ast`` tree walked and passed to ``compile()``, ~1-3 CPU-ms a
rule). LocalStack adds rules at run time: every REST service's request parser maps each
operation to a rule (``RestServiceOperationRouter``: Lambda's and API Gateway's ~100 each), and
API Gateway, Step Functions and others register routes on the gateway's router when they load.
It only ever matches with them; nothing builds a URL from these rules. In a full deploy of
template.yaml, ``Map.add`` was ~14% of LocalStack's CPU (py-spy, on the GIL the stack's
resources need), ~90% of it the builders.

What changes: ``Rule._compile_builder`` returns a function that compiles the real builder (the
same function, from the rule's state as ``compile`` left it) on its first call and delegates to
it from then on. Matching is untouched; a URL build returns, or raises, what it did before. A
rule compiled again (bound anew) gets new builders, as before.

Verified on localstack-core 4.14.0 (werkzeug 3.1.6); on any other localstack-core the registry
(registry.py) skips it with a warning. Opt-out: ``HOSTMODE_WERKZEUG_LAZY_BUILDERS=0``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .registry import HostPatch, patch_function

Builder = Callable[..., tuple[str, str]]


def lazy_compile_builder(original: Callable[[Any, bool], Builder], rule: Any,
                         append_unknown: bool = True) -> Builder:
    """A stand-in for ``original(rule, append_unknown)`` that compiles it when first called."""
    compiled: Builder | None = None

    def build(bound_rule: Any, *args: Any, **values: Any) -> tuple[str, str]:
        nonlocal compiled
        if compiled is None:  # two threads may both compile: the same function, harmless
            compiled = original(bound_rule, append_unknown)
        return compiled(bound_rule, *args, **values)

    return build


def apply() -> None:
    patch_function("werkzeug.routing.rules", "Rule._compile_builder", lazy_compile_builder)


PATCH = HostPatch(
    name="werkzeug_lazy_builders",
    changes="werkzeug routing rules compile their URL builders on first use, not when added",
    why="LocalStack never builds URLs from its rules, yet compiling two builders per rule "
        "(every operation of a REST service's parser) was ~12% of its CPU in a full deploy",
    verified_on=("4.14.0",),
    opt_out="HOSTMODE_WERKZEUG_LAZY_BUILDERS",
    apply=apply,
)
