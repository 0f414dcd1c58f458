"""openapi_core is imported only when LocalStack validates its own endpoints against OpenAPI.

Why: LocalStack's request chain (aws/app.py) imports ``localstack.aws.handlers.validation``,
which imports openapi_core (and with it jsonschema, jsonschema_path, openapi_spec_validator):
~20% of the import time of LocalStack's boot (`python -X importtime` of a `make up`: 3.0 of
15.3 s on a loaded 2-core machine), on the critical path of every `make up`. Its two handlers
do nothing unless ``OPENAPI_VALIDATE_REQUEST`` / ``OPENAPI_VALIDATE_RESPONSE`` is set (a
LocalStack test-suite flag, off by default).

What changes, in LocalStack 4.14.0's aws/handlers/validation.py: while neither variable is set
in LocalStack's environment, an import hook (installed at ``on_runtime_create``, before the
request chain is imported) serves that module as a stand-in: its ``OpenAPIRequestValidator`` and
``OpenAPIResponseValidator`` return at once while the config flag is off, as upstream's do, and
hand the request to upstream's handler (the real module, imported then) once it is on. Any
other name of the module is upstream's, imported on first use. With either variable set the
hook stays out of the way and upstream's module is imported as is.

Verified on localstack-core 4.14.0; on any other version the registry (registry.py) skips it
with a warning. Opt-out: ``HOSTMODE_LAZY_OPENAPI=0``.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import os
import sys
import threading
from types import ModuleType
from typing import Any

from .registry import HostPatch

MODULE = "localstack.aws.handlers.validation"
FLAGS = ("OPENAPI_VALIDATE_REQUEST", "OPENAPI_VALIDATE_RESPONSE")
TRUE_VALUES = ("1", "true")  # localstack.config.is_env_true

_upstream: dict[str, ModuleType] = {}
_lock = threading.Lock()


def validation_requested(environ: Any = os.environ) -> bool:
    return any(environ.get(flag, "").lower().strip() in TRUE_VALUES for flag in FLAGS)


def upstream_module() -> ModuleType:
    """LocalStack's own validation module (imports openapi_core), executed once, outside
    sys.modules (which holds the stand-in)."""
    with _lock:
        if "module" not in _upstream:
            package = importlib.import_module(MODULE.rpartition(".")[0])
            spec = importlib.machinery.PathFinder.find_spec(MODULE, package.__path__)
            if spec is None or spec.loader is None:
                raise ImportError(f"cannot find LocalStack's {MODULE}")
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            _upstream["module"] = module
        return _upstream["module"]


class LazyValidator:
    """Upstream's handler class ``upstream_name``, created on the first request that finds
    ``flag`` on in LocalStack's config; until then each call returns as upstream's does."""

    upstream_name = ""
    flag = ""

    def __init__(self) -> None:
        self._handler: Any = None

    def __call__(self, chain: Any, context: Any, response: Any) -> None:
        from localstack import config

        if not getattr(config, self.flag, False):
            return None
        if self._handler is None:
            self._handler = getattr(upstream_module(), self.upstream_name)()
        return self._handler(chain, context, response)


class OpenAPIRequestValidator(LazyValidator):
    upstream_name = "OpenAPIRequestValidator"
    flag = "OPENAPI_VALIDATE_REQUEST"


class OpenAPIResponseValidator(LazyValidator):
    upstream_name = "OpenAPIResponseValidator"
    flag = "OPENAPI_VALIDATE_RESPONSE"


def _module_getattr(name: str) -> Any:
    """Every other name of the module (OpenAPIValidator, LOG, ...) is upstream's."""
    if name.startswith("__"):
        raise AttributeError(name)
    return getattr(upstream_module(), name)


class StandInLoader(importlib.abc.Loader):
    def create_module(self, spec: importlib.machinery.ModuleSpec) -> None:
        return None  # the default module

    def exec_module(self, module: ModuleType) -> None:
        module.OpenAPIRequestValidator = OpenAPIRequestValidator
        module.OpenAPIResponseValidator = OpenAPIResponseValidator
        module.__getattr__ = _module_getattr


class StandInFinder(importlib.abc.MetaPathFinder):
    """Serves the stand-in for ``MODULE``; every other import passes."""

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        if fullname != MODULE:
            return None
        return importlib.util.spec_from_loader(fullname, StandInLoader(), origin=__file__)


FINDER = StandInFinder()


def apply() -> None:
    if validation_requested() or MODULE in sys.modules:
        return  # upstream's module (already imported, or its handlers are wanted)
    if FINDER not in sys.meta_path:
        sys.meta_path.insert(0, FINDER)


PATCH = HostPatch(
    name="openapi_validation_lazy",
    changes="openapi_core is imported only when OPENAPI_VALIDATE_REQUEST/RESPONSE turns "
            "LocalStack's OpenAPI validation of its own endpoints on",
    why="importing it for two handlers that are off by default was ~20% of LocalStack's "
        "boot imports on every `make up`",
    verified_on=("4.14.0",),
    opt_out="HOSTMODE_LAZY_OPENAPI",
    apply=apply,
    early=True,
)
