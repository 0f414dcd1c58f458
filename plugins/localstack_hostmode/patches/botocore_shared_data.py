"""botocore's session-wide data files (endpoints.json above all) are parsed once per process.

Why: every new ``boto3.Session()`` / ``botocore.session.Session()`` has a loader of its own and
parses ``botocore/data/endpoints.json`` (1.25 MB of JSON) again for its endpoint resolver. In
LocalStack many code paths make a fresh session: the region check of the request chain, each
service store's valid regions (``get_valid_regions_for_service``), moto's backends
(``_generate_regions``), the internal client factory's session. A `make up` parsed it 8 times in
LocalStack's process (~0.05 CPU-s each on the reference machine, under the GIL that serves the
init script's requests; measured with a probe on ``JSONFileLoader.load_file``).

What changes, in botocore's loaders.py (a LocalStack 4.14.0 dependency, botocore 1.42):
``Loader.load_data_with_path`` returns one shared, process-wide result for the session-level
files ``endpoints``, ``partitions``, ``sdk-default-configuration`` and ``_retry``, keyed by the
file name and the file its search paths lead to (LocalStack's internal clients, whose loader
searches LocalStack's own data directory first, share botocore's endpoints.json with boto3's
sessions: it was parsed twice per `make up`). botocore only reads these structures
(EndpointResolver, the defaults and retry handlers); a single loader already hands out one
object per file to every caller. Service models: botocore_shared_models.

Verified on localstack-core 4.14.0 (botocore 1.42.54); on any other version the registry
(registry.py) skips it with a warning. Opt-out: ``HOSTMODE_BOTOCORE_SHARED_DATA=0``.
"""

from __future__ import annotations

import threading
from typing import Any

from .registry import HostPatch, on_import

SHARED_NAMES = frozenset({"endpoints", "partitions", "sdk-default-configuration", "_retry"})

_cache: dict[tuple[str, tuple[str, ...]], Any] = {}
_lock = threading.Lock()


def _file_of(loader: Any, name: str) -> str | tuple[str, ...]:
    """The file ``load_data_with_path`` would parse (a few stat calls); its search paths if
    none: loaders whose search paths differ only where the file is not share it too."""
    for path in loader._potential_locations(name):
        if loader.file_loader.exists(path):
            return path
    return tuple(loader.search_paths)


def _load_data_with_path_shared(load_data_with_path: Any, self: Any, name: str) -> Any:
    if name not in SHARED_NAMES:
        return load_data_with_path(self, name)
    key = (name, type(self.file_loader), _file_of(self, name))
    found = _cache.get(key)
    if found is None:
        with _lock:  # one parse, also when two threads make their first session at once
            found = _cache.get(key)
            if found is None:
                found = _cache[key] = load_data_with_path(self, name)
    return found


def _patch_loader(module: Any) -> None:
    from localstack.utils.patch import Patch

    # by name: the method is botocore's instance_cache wrapper, whose __name__ is "_wrapper",
    # so Patch.function (which finds the attribute by the target's name) cannot be used
    original = module.Loader.load_data_with_path

    def load_data_with_path(self: Any, name: str) -> Any:
        return _load_data_with_path_shared(original, self, name)

    Patch(module.Loader, "load_data_with_path", load_data_with_path).apply()


def apply() -> None:
    on_import("botocore.loaders", _patch_loader)


PATCH = HostPatch(
    name="botocore_shared_data",
    changes=(
        "botocore's endpoints.json, partitions.json, sdk-default-configuration.json and "
        "_retry.json are parsed once per process and shared by every session's loader"
    ),
    why="each new boto3/botocore session parsed the 1.25 MB endpoints.json again: 8 times "
        "during a `make up`, on the GIL that serves the init script",
    verified_on=("4.14.0",),
    opt_out="HOSTMODE_BOTOCORE_SHARED_DATA",
    apply=apply,
)
