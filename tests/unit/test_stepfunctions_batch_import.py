"""The stepfunctions_batch_import patch: moto.batch.utils without moto/batch/__init__.py (which
imports moto.ec2), in a fresh interpreter so this session's imports do not interfere."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytest.importorskip("moto")

PLUGINS = Path(__file__).resolve().parents[2] / "plugins"


def run(script: str) -> subprocess.CompletedProcess:
    path = [str(PLUGINS), *filter(None, [os.environ.get("PYTHONPATH")])]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(path)}
    return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120, env=env)


SCRIPT = textwrap.dedent(
    """
    import sys
    from localstack_hostmode.patches.stepfunctions_batch_import import preload_batch_utils

    assert preload_batch_utils() is True
    from moto.batch.utils import JobStatus
    assert JobStatus.SUCCEEDED.name == "SUCCEEDED"
    assert "moto.batch" not in sys.modules, "the stand-in package must not stay"
    assert "moto.ec2" not in sys.modules
    assert preload_batch_utils() is False  # once only

    import moto.batch  # the real package, its __init__ run, reusing the loaded utils
    assert hasattr(moto.batch, "batch_backends")
    assert sys.modules["moto.batch.utils"].JobStatus is JobStatus
    print("ok")
    """
)


def test_preload_loads_the_enum_without_moto_batch_and_keeps_the_real_package_importable():
    proc = run(SCRIPT)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "ok"


def test_preload_is_a_no_op_once_moto_batch_is_imported():
    script = ("import moto.batch\n"
              "from localstack_hostmode.patches.stepfunctions_batch_import import "
              "preload_batch_utils\n"
              "assert preload_batch_utils() is False\nprint('ok')\n")
    proc = run(script)
    assert proc.returncode == 0, proc.stderr
