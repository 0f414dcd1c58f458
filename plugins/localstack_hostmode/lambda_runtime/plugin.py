"""Plux entry point: LAMBDA_RUNTIME_EXECUTOR=local-process selects the host-mode executor."""

from localstack.services.lambda_.invocation.plugins import RuntimeExecutorPlugin


class LocalProcessRuntimeExecutorPlugin(RuntimeExecutorPlugin):
    name = "local-process"

    def load(self, *args, **kwargs):
        from localstack_hostmode.lambda_runtime.executor import LocalProcessRuntimeExecutor

        return LocalProcessRuntimeExecutor
