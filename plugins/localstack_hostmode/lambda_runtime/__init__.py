"""Python Lambda functions as local processes (host mode): the LocalStack RuntimeExecutor
`local-process` (executor.py) over a process engine with no LocalStack import (process.py)."""
