"""CloudFormation's v2 engine loads without LocalStack's 32,000-line EC2 API module.

Why: LocalStack 4.14.0's change-set preprocessor
(services/cloudformation/engine/v2/change_set_model_preproc.py) imports
``AvailabilityZoneList`` and ``DescribeAvailabilityZonesResult`` from ``localstack.aws.api.ec2``
for two local variable annotations (the module has ``from __future__ import annotations``: they
are never evaluated). That import builds every EC2 shape and enum (~32,500 lines): in a CPU
profile (py-spy --gil) of LocalStack during the first `make deploy-local` after `make up` it was
~40% of the CloudFormation provider's load (~0.3 s on a busy 2-core machine). Nothing else the
kit deploys imports it (no EC2 resources).

What changes: while the preprocessor module itself executes (and only when
``localstack.aws.api.ec2`` is not loaded yet), that name is a stand-in module with the two names
(``list`` and ``dict``, what the annotations' types are at run time); any other name asked of it
loads the real module. Afterwards the real module is imported by whoever imports it, as before.

Verified on localstack-core 4.14.0; on any other version the registry (registry.py) skips it
with a warning. Opt-out: ``HOSTMODE_CFN_LIGHT_EC2_IMPORT=0``.
"""

from __future__ import annotations

import importlib
import importlib.abc
import logging
import sys
import types
from typing import Any

from .registry import HostPatch

LOG = logging.getLogger(__name__)

PREPROC = "localstack.services.cloudformation.engine.v2.change_set_model_preproc"
EC2_API = "localstack.aws.api.ec2"
# the names the preprocessor imports, as the types they are at run time
STAND_INS = {"AvailabilityZoneList": list, "DescribeAvailabilityZonesResult": dict}


class _StandIn(types.ModuleType):
    """Its names; anything else comes from the real module (imported then)."""

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        if sys.modules.get(self.__name__) is self:
            del sys.modules[self.__name__]
        return getattr(importlib.import_module(self.__name__), name)


class _Loader(importlib.abc.Loader):
    """Executes a module with ``replaced`` in sys.modules as a _StandIn with ``names``."""

    def __init__(self, loader: Any, replaced: str, names: dict[str, Any]) -> None:
        self._loader = loader
        self._replaced = replaced
        self._names = names

    def create_module(self, spec: Any) -> Any:
        return self._loader.create_module(spec)

    def exec_module(self, module: Any) -> None:
        if self._replaced in sys.modules:
            self._loader.exec_module(module)
            return
        placeholder = _StandIn(self._replaced, "host mode's stand-in for one module's import")
        placeholder.__dict__.update(self._names)
        sys.modules[self._replaced] = placeholder
        try:
            self._loader.exec_module(module)
        finally:
            if sys.modules.get(self._replaced) is placeholder:
                del sys.modules[self._replaced]

    def __getattr__(self, name: str) -> Any:
        return getattr(self._loader, name)


class Finder(importlib.abc.MetaPathFinder):
    """Finds ``module`` with the other finders and wraps its loader in _Loader, so that while
    it executes ``replaced`` is a stand-in with ``names``."""

    def __init__(self, module: str = PREPROC, replaced: str = EC2_API,
                 names: dict[str, Any] | None = None) -> None:
        self.module = module
        self.replaced = replaced
        self.names = STAND_INS if names is None else names

    def find_spec(self, name: str, path: Any, target: Any = None) -> Any:
        if name != self.module:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(name, path, target)
            if spec is not None:
                if spec.loader is not None:
                    spec.loader = _Loader(spec.loader, self.replaced, self.names)
                return spec
        return None


def apply() -> None:
    if PREPROC in sys.modules:
        return  # too late: already imported with the real module
    sys.meta_path.insert(0, Finder())


PATCH = HostPatch(
    name="cloudformation_ec2_api_import",
    changes=(
        "CloudFormation's v2 change-set preprocessor gets its two EC2 annotation types from a "
        "stand-in instead of importing localstack.aws.api.ec2"
    ),
    why=(
        "that import (every EC2 shape, ~32,500 lines) was ~40% of the CloudFormation "
        "provider's load in the first deploy after `make up`, for two unevaluated annotations"
    ),
    verified_on=("4.14.0",),
    opt_out="HOSTMODE_CFN_LIGHT_EC2_IMPORT",
    apply=apply,
)
