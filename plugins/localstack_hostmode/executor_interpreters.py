"""Moved to localstack_hostmode.lambda_runtime.interpreters; kept because
tests/integration/test_executor.py (not ours to edit) imports this path."""

from localstack_hostmode.lambda_runtime.interpreters import RuntimeNotAvailable, find_interpreter

__all__ = ["RuntimeNotAvailable", "find_interpreter"]
