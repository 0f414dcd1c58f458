"""The launcher <-> plugin contract: what `scripts/launcher` hands LocalStack, and where.

Standard library only: the launcher (any python3, no LocalStack) imports this module too, with
``plugins/`` on its path, so both sides read the same names. Change a name here and both follow.
"""

from __future__ import annotations

import os
from pathlib import Path

# Environment variables the launcher sets in LocalStack's environment.
RUN_DIR_ENV = "HOSTMODE_RUN_DIR"  # per-port state: logs, pid file, backend state, preloads
RUNTIME_LIB_ENV = "HOSTMODE_LAMBDA_RUNTIME_LIB"  # the runtime-bundled SDK (boto3) directory
LAMBDA_SANDBOX_ENV = "HOSTMODE_LAMBDA_SANDBOX"  # auto | bwrap | process

# LocalStack's standard host name (public DNS answers 127.0.0.1): LOCALSTACK_HOST is
# <this>:<port>, and virtual-host URLs (function URLs, execute-api, S3) are subdomains of it.
STANDARD_HOSTNAME = "localhost.localstack.cloud"

# Files inside the run directory.
DYNAMODB_BACKEND_STATE = "dynamodb-backend.json"  # {"pid", "port", "url"} of the moto server
DYNAMODB_BACKEND_LOG = "dynamodb-backend.log"
NODE_LOOPBACK_PRELOAD = "node-loopback.cjs"
LAMBDA_SANDBOX_STATE = "lambda-sandbox.json"  # {"mode", "reason"}: how Lambda environments run

# Layout under the project's `.localstack/` directory.
REPO_ROOT = Path(__file__).resolve().parents[2]
LS_HOME = REPO_ROOT / ".localstack"
RUNTIME_LIB = LS_HOME / "lambda-runtime" / "python"


def run_dir_for(port: int, home: Path = LS_HOME) -> Path:
    """The run directory of the LocalStack listening on ``port``."""
    return home / "run" / str(port)


def run_dir() -> str | None:
    """This LocalStack's run directory (inside LocalStack), or None outside host mode."""
    return os.environ.get(RUN_DIR_ENV) or None


def run_dir_marker(path: Path | str) -> bytes:
    """The ``/proc/<pid>/environ`` entry that marks a process as started for that run dir."""
    return f"{RUN_DIR_ENV}={path}".encode()
