"""moto's per-request lookups that never change at run time are computed once.

Why: every request that reaches moto's server app (the DynamoDB backend: dynamodb_server.py)
first scans moto's package directory (``moto.backends.list_of_moto_modules``: an ``os.listdir``
and an ``isdir`` per entry, ~170 of them, under moto's dispatcher lock) to see whether the host
names a backend, and then lists the handler class's methods with ``inspect.getmembers``
(``method_names_from_class`` in ``BaseResponse.call_action``) to find the action. A
GIL-sampling profile (py-spy --gil) of ``GET /users/{id}`` and ``POST /users`` at concurrency 32
put these two at ~3% of LocalStack's busy time: the same answer, recomputed on every request.

What changes: ``list_of_moto_modules`` answers the names it found the first time (moto's
package does not grow while LocalStack runs), and ``moto.core.responses`` gets
``method_names_from_class`` memoised per class (a new list each call, as before, so no caller
can change the cached one). Both replace module attributes that moto reads at call time.

Verified on localstack-core 4.14.0 (with its pinned moto-ext); on any other version the registry
(registry.py) skips it with a warning. Opt-out: ``HOSTMODE_MOTO_DISPATCH_CACHES=0``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import Any

from .registry import HostPatch

_lock = threading.Lock()


def cached_module_list(original: Callable[[], Iterable[str]]) -> Callable[[], Iterable[str]]:
    """``original()`` (a generator of names) computed once; each call iterates the same names."""
    found: list[tuple[str, ...]] = []

    def list_of_moto_modules() -> Iterable[str]:
        if not found:
            names = tuple(original())
            with _lock:
                if not found:
                    found.append(names)
        return iter(found[0])

    return list_of_moto_modules


def cached_method_names(original: Callable[[Any], list[str]]) -> Callable[[Any], list[str]]:
    """``original(clazz)`` once per class; every call gets its own copy of the list."""
    by_class: dict[Any, tuple[str, ...]] = {}

    def method_names_from_class(clazz: Any) -> list[str]:
        names = by_class.get(clazz)
        if names is None:
            names = by_class[clazz] = tuple(original(clazz))
        return list(names)

    return method_names_from_class


def _replace(module_name: str, attribute: str, make: Callable[[Any], Any]) -> None:
    """Replace ``module_name.attribute`` with ``make(original)`` once the module is imported."""
    import wrapt

    def apply_to(module: Any) -> None:
        from localstack.utils.patch import Patch

        Patch(module, attribute, make(getattr(module, attribute))).apply()

    wrapt.register_post_import_hook(apply_to, module_name)


def apply() -> None:
    _replace("moto.backends", "list_of_moto_modules", cached_module_list)
    # BaseResponse.call_action uses the name it imported from moto.core.utils
    _replace("moto.core.responses", "method_names_from_class", cached_method_names)


PATCH = HostPatch(
    name="moto_dispatch_caches",
    changes="moto's backend-name scan (list_of_moto_modules) runs once, and the action lookup "
    "(method_names_from_class) is memoised per class",
    why="each request to moto's server app rescanned moto's package directory and listed the "
    "handler class's methods with inspect (~3% of LocalStack's busy time at concurrency 32)",
    verified_on=("4.14.0",),
    opt_out="HOSTMODE_MOTO_DISPATCH_CACHES",
    apply=apply,
)
