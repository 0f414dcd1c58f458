"""Plux entry point: LAMBDA_RUNTIME_EXECUTOR=local-process selects the host-mode executor."""

import logging

from localstack.services.lambda_.invocation.plugins import RuntimeExecutorPlugin

LOG = logging.getLogger(__name__)


class LocalProcessRuntimeExecutorPlugin(RuntimeExecutorPlugin):
    name = "local-process"

    def load(self, *args, **kwargs):
        from localstack_hostmode.executor import LocalProcessRuntimeExecutor

        _allow_deleting_failed_functions()
        return LocalProcessRuntimeExecutor


def _allow_deleting_failed_functions() -> None:
    """LocalStack 4.14 keeps no version manager for a version whose preparation failed
    (State=Failed, e.g. a runtime without interpreter here), so DeleteFunction answered
    InternalError and the function could never be removed. Stopping such a version is a no-op."""
    from localstack.services.lambda_.invocation.lambda_service import LambdaService

    original = LambdaService.stop_version
    if getattr(original, "hostmode_patched", False):
        return

    def stop_version(self, qualified_arn: str) -> None:
        try:
            original(self, qualified_arn)
        except ValueError as e:
            LOG.debug("No running version to stop for %s: %s", qualified_arn, e)

    stop_version.hostmode_patched = True
    LambdaService.stop_version = stop_version
