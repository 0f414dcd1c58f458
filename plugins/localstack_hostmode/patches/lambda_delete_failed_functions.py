"""A function whose preparation failed can be deleted.

Why: LocalStack 4.14.0 keeps no version manager for a version whose preparation failed
(State=Failed, e.g. a runtime without an interpreter here), so ``LambdaService.stop_version``
(services/lambda_/invocation/lambda_service.py) raised ValueError, DeleteFunction answered
InternalError and the function could never be removed.

What changes: ``stop_version`` of a version that has no running manager is a no-op (logged at
debug); every other stop is upstream's.

Verified on localstack-core 4.14.0; on any other version the registry (registry.py) skips it
with a warning. No opt-out: it only turns an InternalError into the deletion that was asked for.
"""

from __future__ import annotations

import logging
from typing import Any

from .registry import HostPatch, patch_function

LOG = logging.getLogger(__name__)


def _stop_version_if_running(stop_version: Any, self: Any, qualified_arn: str) -> None:
    try:
        stop_version(self, qualified_arn)
    except ValueError as e:
        LOG.debug("No running version to stop for %s: %s", qualified_arn, e)


def apply() -> None:
    patch_function(
        "localstack.services.lambda_.invocation.lambda_service",
        "LambdaService.stop_version",
        _stop_version_if_running,
    )


PATCH = HostPatch(
    name="lambda_delete_failed_functions",
    changes="stopping a Lambda version that has no running version manager is a no-op",
    why=(
        "a version whose preparation failed has no manager, so DeleteFunction answered "
        "InternalError and the function could never be removed"
    ),
    verified_on=("4.14.0",),
    opt_out=None,
    apply=apply,
)
