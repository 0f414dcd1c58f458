"""The Kinesis mock (node) starts while LocalStack boots when the init script will need it.

Why: LocalStack starts the mock on the first Kinesis call of an account (or the first table with
a stream), and that call waits for it. On `make up` that is init-aws.sh's first request: the
mock's start (~0.6 CPU-s of node, ~1 s on two busy cores) sat on the critical path of every
start, after LocalStack's own boot. Started at ``on_infra_start`` instead, node runs on the
other core while LocalStack's interpreter boots, and is up (or nearly) when init asks for it.

What changes, in LocalStack 4.14.0's services/kinesis/kinesis_mock_server.py:

* every ``KinesisServerManager`` shares one lock and one account -> server map (the Kinesis
  provider makes its own manager when it loads; it finds the server started ahead of it, and
  its ``shutdown_all`` stops it as upstream's would);
* with ``HOSTMODE_KINESIS_PRESTART=1`` (the launcher sets it when init-aws.sh's data layer has
  a Kinesis stream or a table stream, see scripts/launcher/config.py), a daemon thread starts
  the server of LocalStack's default account (000000000000, the account of the `test` keys the
  init script signs with) at start-up, as the first request would have. Nothing else changes:
  other accounts' mocks still start lazily, and without the variable no mock starts early.
  LocalStack's shutdown stops the mock's process thread (TMP_THREADS) even if the Kinesis
  provider never loaded.

Verified on localstack-core 4.14.0; on any other version the registry (registry.py) skips it
with a warning. Opt-out: ``HOSTMODE_KINESIS_PRESTART=0`` (the mock starts lazily, as upstream).
"""

from __future__ import annotations

import logging
import os
import threading
from typing import Any

from .registry import HostPatch, on_import

LOG = logging.getLogger(__name__)

MODULE = "localstack.services.kinesis.kinesis_mock_server"
PRESTART_ENV = "HOSTMODE_KINESIS_PRESTART"
DEFAULT_ACCOUNT = "000000000000"  # localstack.constants.DEFAULT_AWS_ACCOUNT_ID

# the first manager's lock and map, then every manager's
_shared: dict[str, Any] = {}


def share_servers(manager: Any) -> None:
    """Make ``manager`` use the lock and account -> server map of the first manager."""
    _shared.setdefault("lock", manager._lock)
    _shared.setdefault("servers", manager._servers)
    manager._lock = _shared["lock"]
    manager._servers = _shared["servers"]


def _patch_manager(module: Any) -> None:
    from localstack.utils.patch import Patch

    def init(original: Any, self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        share_servers(self)

    Patch.function(module.KinesisServerManager.__init__, init).apply()


def prestart() -> None:
    """Start the default account's mock as its first request would (in this thread)."""
    try:
        from localstack.services.kinesis.kinesis_mock_server import KinesisServerManager

        KinesisServerManager().get_server_for_account(DEFAULT_ACCOUNT)
    except Exception as e:  # the first Kinesis request starts it (and reports) as upstream
        LOG.warning("could not start the Kinesis mock ahead of need: %s", e)


def start_in_background() -> threading.Thread:
    thread = threading.Thread(target=prestart, name="kinesis-mock-prestart", daemon=True)
    thread.start()
    return thread


def apply() -> None:
    on_import(MODULE, _patch_manager)
    if os.environ.get(PRESTART_ENV) == "1":
        start_in_background()


PATCH = HostPatch(
    name="kinesis_mock_prestart",
    changes=(
        "Kinesis server managers share their servers, and with HOSTMODE_KINESIS_PRESTART=1 "
        "the default account's Kinesis mock starts while LocalStack boots"
    ),
    why="the mock's start (~1 s) waited behind LocalStack's boot on every `make up`, in "
        "init-aws.sh's first Kinesis or table-stream request",
    verified_on=("4.14.0",),
    opt_out=PRESTART_ENV,
    apply=apply,
)
