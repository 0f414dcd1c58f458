"""A request parser is built once per service model's content, not once per client.

Why: LocalStack 4.14.0's ``create_parser`` (aws/protocol/parser.py) is a ``functools.cache``
keyed by the botocore ``ServiceModel`` object. A request that arrives over HTTP carries the
service catalog's model (one object per service), but one sent by an in-memory client
(``GatewayShortCircuit``: CloudFormation's resource providers and the Lambda code storage under
cloudformation_in_memory_clients, API Gateway's and Step Functions' Lambda calls) carries the
model of the client that sent it, a new object for every client, and CloudFormation makes a
client per resource. Each miss builds a parser; for a REST service (Lambda, API Gateway, S3)
that compiles a werkzeug rule for every operation of the service (~20-40 CPU-ms). A full
deploy of template.yaml built ~40 of them: 5-14% of LocalStack's CPU during the deploy (py-spy),
on the GIL the stack's resources need. The cache also kept every such model and parser forever.

What changes: ``create_parser`` as the request chain (handlers/service.py) and the skeleton
call it looks the parser up by the model's content: its service description (the dict botocore
loaded, shared by every client of the process under botocore_shared_models), its service name
and the protocol. A parser depends on nothing else, and parsers are already shared between
threads. Entries hold their description, so an id is never reused while cached; at most
``CACHE_SIZE`` parsers are kept (least recently used dropped). Parsing, its errors and the
operation it finds are unchanged.

Verified on localstack-core 4.14.0; on any other version the registry (registry.py) skips it.
Opt-out: ``HOSTMODE_PARSER_CACHE=0``.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from .registry import HostPatch, on_import

PARSER = "localstack.aws.protocol.parser"
# the modules that call create_parser per request (each bound the name at its import)
CALLERS = (PARSER, "localstack.aws.handlers.service", "localstack.aws.skeleton")
CACHE_SIZE = 256  # parsers; a process uses a few dozen services


class ParserCache:
    """``build(service, protocol)`` once per (description, service name, protocol)."""

    def __init__(self, build: Callable[[Any, Any], Any], size: int = CACHE_SIZE) -> None:
        self.build = build
        self.size = size
        self._lock = threading.Lock()
        self._entries: OrderedDict[tuple[int, str, Any], tuple[object, Any]] = OrderedDict()

    def __call__(self, service: Any, protocol: Any = None) -> Any:
        description = getattr(service, "_service_description", None)
        if description is None:  # not a botocore model: as upstream
            return self.build(service, protocol)
        key = (id(description), service.service_name, protocol)
        with self._lock:  # built under it: CloudFormation's resources ask at once
            hit = self._entries.get(key)
            if hit is not None and hit[0] is description:
                self._entries.move_to_end(key)
                return hit[1]
            parser = self.build(service, protocol)
            self._entries[key] = (description, parser)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)
            return parser


_cache: ParserCache | None = None


def _install(module: Any) -> None:
    global _cache
    from localstack.aws.protocol import parser
    from localstack.utils.patch import Patch

    if _cache is None:
        # upstream's function without its functools.cache (which kept every model it saw)
        _cache = ParserCache(getattr(parser.create_parser, "__wrapped__", parser.create_parser))
    if getattr(module, "create_parser", None) is not _cache:
        Patch(module, "create_parser", _cache).apply()


def apply() -> None:
    for module in CALLERS:  # each when first imported (at once if it already is)
        on_import(module, _install)


PATCH = HostPatch(
    name="protocol_parser_cache",
    changes="a request parser is built once per service model content, not per in-memory client",
    why="each new in-memory client's requests built a parser again (~30 CPU-ms for a REST "
        "service): 5-14% of LocalStack's CPU in a full deploy",
    verified_on=("4.14.0",),
    opt_out="HOSTMODE_PARSER_CACHE",
    apply=apply,
)
