"""Where host-mode LocalStack unzips Lambda code: its run directory, private, not /tmp/lambda.

LocalStack unzips every function's code and layer under ``tempfile.gettempdir()/lambda``; host
mode points its TMPDIR at ``.localstack/run/<port>/tmp`` (0700), which `down` removes (unit
tests: tests/unit/launcher/test_host_processes.py;
a full up/down: lifecycle/test_hostmode_kill9.py).
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
from executor_helpers import invoke, lambda_sandbox, sandboxed_task_roots

from localstack_hostmode import contract

pytestmark = pytest.mark.integration


def session_run_dir(url: str) -> Path:
    run_dir = contract.run_dir_for(urlparse(url).port or 4566)
    if not (run_dir / "localstack.pid").is_file():
        pytest.skip(f"LocalStack on {url} was not started by host mode's `make up`")
    return run_dir


def test_function_code_is_unzipped_privately_under_the_run_dir(
    probe: str, lam: Any, localstack: str
) -> None:
    run_dir = session_run_dir(localstack)

    code_dir = Path(invoke(lam, probe, {"action": "info"}).payload["cwd"]).resolve()

    tmp = (run_dir / "tmp").resolve()
    if lambda_sandbox() == "bwrap":  # /var/task: the directory it mounts, found by its inode
        mounted = {(r.stat().st_dev, r.stat().st_ino) for r in sandboxed_task_roots()}
        dirs = [d for d in (tmp / "lambda").glob("*/*/code")
                if (d.stat().st_dev, d.stat().st_ino) in mounted]
        assert dirs, mounted
        code_dir = dirs[0]
    assert code_dir.is_relative_to(tmp / "lambda"), code_dir
    assert not code_dir.is_relative_to(Path(tempfile.gettempdir()).resolve() / "lambda")
    assert tmp.stat().st_mode & 0o777 == 0o700
