"""Step Functions parses each JSONPath of a state machine once, not at every evaluation.

Why: LocalStack 4.14.0's ``extract_json`` (services/stepfunctions/asl/utils/json_path.py: every
``Parameters``/``InputPath``/``OutputPath`` and ``.$`` value, Choice variables) and
``ResultPath._eval_body`` (asl/component/common/path/result_path.py) call jsonpath-ng's
``parse(path)`` each time a state runs. jsonpath-ng builds a PLY lexer and parser on every call:
~25-35 ms of CPU per path on this machine (measured), a dozen paths per execution of the order
saga. In the saga's history the first state spent ~95 ms between ``TaskStateEntered`` and
``LambdaFunctionScheduled`` (its two ``Parameters`` paths), and each state's ResultPath added as
much after its function returned.

What changes: the ``parse`` those two modules call is jsonpath-ng's own behind an LRU cache
keyed by the path string (``CACHE_SIZE`` paths; a parse error is not cached). A parsed path is a
tree of immutable nodes: ``find`` and ``update_or_create`` only read it, so executions can share
it across threads.

Verified on localstack-core 4.14.0; on any other version the registry (registry.py) skips it.
Opt-out: ``HOSTMODE_SFN_JSONPATH_CACHE=0``.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any

from .registry import HostPatch

LOG = logging.getLogger(__name__)

SFN = "localstack.services.stepfunctions.asl"
# the modules whose module-level ``parse`` (imported from jsonpath-ng) is called per evaluation
MODULES = (f"{SFN}.utils.json_path", f"{SFN}.component.common.path.result_path")
CACHE_SIZE = 2048


def cached(parse: Callable[[str], Any]) -> Callable[[str], Any]:
    """``parse`` behind an LRU cache of ``CACHE_SIZE`` paths."""
    if hasattr(parse, "cache_info"):  # applied already
        return parse
    return functools.lru_cache(maxsize=CACHE_SIZE)(parse)


def _cache_module_parse(module: Any) -> None:
    from localstack.utils.patch import Patch

    Patch(module, "parse", cached(module.parse)).apply()
    LOG.debug("cached jsonpath parse in %s", module.__name__)


def apply() -> None:
    import wrapt

    for module in MODULES:  # when first imported, like registry.patch_function
        wrapt.register_post_import_hook(_cache_module_parse, module)


PATCH = HostPatch(
    name="sfn_jsonpath_cache",
    changes="Step Functions parses each JSONPath once (an LRU cache), not at every evaluation",
    why="every path was parsed anew (~30 ms each, a PLY parser per call): ~0.2 s per saga",
    verified_on=("4.14.0",),
    opt_out="HOSTMODE_SFN_JSONPATH_CACHE",
    apply=apply,
)
