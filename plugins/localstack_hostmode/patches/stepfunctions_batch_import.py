"""Step Functions loads without importing moto's whole EC2 backend.

Why: LocalStack 4.14.0's Step Functions provider imports every service integration at load
time; one of them (services/stepfunctions/asl/component/state/state_execution/state_task/
service/state_task_service_batch.py) does ``from moto.batch.utils import JobStatus`` for an
enum. Importing ``moto.batch.utils`` runs ``moto/batch/__init__.py`` first, which imports
moto's Batch models and with them all of ``moto.ec2``: the EC2 instance-type catalogue (JSON),
botocore's endpoint data and the EC2 service model. A CPU profile (py-spy --gil) of LocalStack
during the first `make deploy-local` after `make up` put the Step Functions provider load at 21%
of LocalStack's CPU for the whole deploy, 58% of it under that one import; the provider loaded
in ~1.5 s instead of ~3-4.5 s without it (fresh interpreter, busy 2-core machine). Nothing else
the kit uses imports moto.ec2.

What changes: when ``localstack.services.stepfunctions`` is first imported (the provider is
loaded on the service's first request, so an idle LocalStack pays nothing), ``moto.batch.utils``
(an enum and a helper; it imports only moto.utilities and moto.batch.exceptions) is loaded as
the submodule it is, without running ``moto/batch/__init__.py``. The integration gets the same
``JobStatus`` class. A later real ``import moto.batch`` runs the package's ``__init__`` as
before (it reuses the loaded ``utils``, which is also set as the package's attribute).

Verified on localstack-core 4.14.0 (moto-ext 5.1.21); on any other version the registry
(registry.py) skips it with a warning. Opt-out: ``HOSTMODE_SFN_LIGHT_BATCH_IMPORT=0``.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import sys
import types
from typing import Any

from .registry import HostPatch

LOG = logging.getLogger(__name__)

PACKAGE = "moto.batch"
SUBMODULE = "moto.batch.utils"


def preload_batch_utils() -> bool:
    """Import ``moto.batch.utils`` without running ``moto/batch/__init__.py``.

    Returns False (nothing done) when moto.batch is already imported or cannot be found."""
    if PACKAGE in sys.modules or SUBMODULE in sys.modules:
        return False
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return False
    # a stand-in parent with the real package's search path, for the one submodule import
    standin = types.ModuleType(PACKAGE)
    standin.__path__ = list(spec.submodule_search_locations)
    standin.__spec__ = spec
    standin.__file__ = spec.origin
    sys.modules[PACKAGE] = standin
    try:
        importlib.import_module(SUBMODULE)
    finally:
        # the real package is imported (its __init__ run) by whoever imports it later
        if sys.modules.get(PACKAGE) is standin:
            del sys.modules[PACKAGE]
    return True


def _set_utils_attribute(package: Any) -> None:
    """The real moto.batch, once imported, has its already-loaded ``utils`` as an attribute."""
    if SUBMODULE in sys.modules and not hasattr(package, "utils"):
        package.utils = sys.modules[SUBMODULE]


def _before_stepfunctions(_module: Any) -> None:
    try:
        if preload_batch_utils():
            LOG.debug("moto.batch.utils loaded without moto.batch (and moto.ec2)")
    except Exception:  # upstream's own import then runs as before
        LOG.warning("could not preload moto.batch.utils; Step Functions imports moto.batch",
                    exc_info=True)
        sys.modules.pop(SUBMODULE, None)


def apply() -> None:
    import wrapt

    wrapt.register_post_import_hook(_set_utils_attribute, PACKAGE)
    # the package's __init__ is empty: its hook runs before any Step Functions module
    wrapt.register_post_import_hook(_before_stepfunctions, "localstack.services.stepfunctions")


PATCH = HostPatch(
    name="stepfunctions_batch_import",
    changes=(
        "Step Functions' Batch integration gets moto.batch.utils (its JobStatus enum) without "
        "moto/batch/__init__.py, which imported moto's Batch models and all of moto.ec2"
    ),
    why=(
        "loading the Step Functions provider (first deploy of a stack with a state machine) "
        "imported moto.ec2: 58% of the provider's load, 12% of LocalStack's CPU for the deploy"
    ),
    verified_on=("4.14.0",),
    opt_out="HOSTMODE_SFN_LIGHT_BATCH_IMPORT",
    apply=apply,
)
