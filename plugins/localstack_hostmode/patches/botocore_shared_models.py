"""botocore's service list and service models are built once per process, not once per session.

Why: every new boto3/botocore session has a loader of its own, which lists the ~420 service
directories of botocore/data (``list_available_services``: ~2,000 stat/listdir calls, ~10 CPU-ms)
and parses each service model it is asked for again. During one `make up` LocalStack's process
parsed S3's model 6 times and DynamoDB's 6 times (the request chain's region check, each
service store's regions, moto's backends, the internal client factory, the init's clients:
a probe on ``JSONFileLoader.load_file`` counted ~190 CPU-ms of repeated parses on a busy
machine), all on the GIL that serves the init's requests. botocore_shared_data already shares
endpoints.json.

What changes, in botocore's loaders.py (a LocalStack 4.14.0 dependency, botocore 1.42): for a
plain ``botocore.loaders.Loader`` (LocalStack's own spec loader, which patches the models it
loads, and any other subclass keep theirs), ``list_available_services`` and
``load_service_model`` of a ``service-2`` model or an ``endpoint-rule-set-1`` (S3's was parsed
twice, ~20 CPU-ms each) return one process-wide result per arguments, search paths and extras
types: the model with its sdk-extras merged, as the first loader built it. botocore and
LocalStack only read these dicts (a single loader already hands one object to every client it
serves); the service list is copied for each caller.

Verified on localstack-core 4.14.0 (botocore 1.42.54); on any other version the registry
(registry.py) skips it with a warning. Opt-out: ``HOSTMODE_BOTOCORE_SHARED_MODELS=0``.
"""

from __future__ import annotations

import threading
from typing import Any

from .registry import HostPatch, on_import

SHARED_TYPES = frozenset({"service-2", "endpoint-rule-set-1"})

_cache: dict[tuple[Any, ...], Any] = {}
_lock = threading.RLock()  # a model's load lists the services under it


def _loader_key(loader: Any) -> tuple[Any, ...]:
    return (tuple(loader.search_paths), tuple(loader.extras_types))


def _shared(key: tuple[Any, ...], build: Any) -> Any:
    found = _cache.get(key)
    if found is None:
        with _lock:  # one build, also when two threads ask at once
            found = _cache.get(key)
            if found is None:
                found = _cache[key] = build()
    return found


def list_available_services_shared(original: Any, self: Any, type_name: str) -> list[str]:
    key = ("services", type_name, *_loader_key(self))
    return list(_shared(key, lambda: original(self, type_name)))


def load_service_model_shared(original: Any, self: Any, service_name: str, type_name: str,
                              api_version: str | None = None) -> Any:
    if type_name not in SHARED_TYPES:
        return original(self, service_name, type_name, api_version)
    key = ("model", service_name, type_name, api_version, *_loader_key(self))
    return _shared(key, lambda: original(self, service_name, type_name, api_version))


def _patch_loader(module: Any) -> None:
    from localstack.utils.patch import Patch

    plain = module.Loader
    # by name: both are botocore's instance_cache wrappers (__name__ "_wrapper")
    list_original = plain.list_available_services
    model_original = plain.load_service_model

    def list_available_services(self: Any, type_name: str) -> list[str]:
        if type(self) is not plain:
            return list_original(self, type_name)
        return list_available_services_shared(list_original, self, type_name)

    def load_service_model(self: Any, service_name: str, type_name: str,
                           api_version: str | None = None) -> Any:
        if type(self) is not plain:
            return model_original(self, service_name, type_name, api_version)
        return load_service_model_shared(model_original, self, service_name, type_name,
                                         api_version)

    Patch(plain, "list_available_services", list_available_services).apply()
    Patch(plain, "load_service_model", load_service_model).apply()


def apply() -> None:
    on_import("botocore.loaders", _patch_loader)


PATCH = HostPatch(
    name="botocore_shared_models",
    changes=(
        "a plain botocore Loader's service list, service-2 models and endpoint rule sets are "
        "built once per process and shared by every session's loader"
    ),
    why="each new session listed botocore's ~420 service directories and parsed its models "
        "again: S3's and DynamoDB's 6 times each during a `make up`, on the GIL that serves "
        "the init script",
    verified_on=("4.14.0",),
    opt_out="HOSTMODE_BOTOCORE_SHARED_MODELS",
    apply=apply,
)
