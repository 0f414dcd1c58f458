"""Preloaded spares with the real runtime (runtime/preload.py, spares.py): a spare imports a
layer's module before it is claimed, reports what that import read, and is handed only to a
function that would have imported the same thing itself."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pytest

from localstack_hostmode.lambda_runtime.launch import runtime_command
from localstack_hostmode.lambda_runtime.process import Frame
from localstack_hostmode.lambda_runtime.spares import SpareKind, SparePool, preload_fits
from localstack_hostmode.runtime import frames

LIMIT_S = 30.0

DEPENDENCY = """
import os
MODE = os.environ.get("FAKEDEP_MODE", "default")
HOME_SEEN = "HOME" in os.environ
"""

HANDLER = """
import sys
PRELOADED = "fakedep" in sys.modules
import fakedep

def handler(event, context):
    return {"preloaded": PRELOADED, "mode": fakedep.MODE}
"""


@pytest.fixture
def layer(tmp_path: Path) -> Path:
    site = tmp_path / "layer" / "python"
    site.mkdir(parents=True)
    (site / "fakedep.py").write_text(DEPENDENCY)
    return tmp_path / "layer"


@pytest.fixture
def code(tmp_path: Path) -> Path:
    code = tmp_path / "code"
    code.mkdir()
    (code / "app.py").write_text(HANDLER)
    return code


@pytest.fixture
def pool():
    pool = SparePool(runtime_command)
    yield pool
    pool.close()


def _ready_spare(pool: SparePool, kind: SpareKind):
    pool.replenish(kind)
    deadline = time.perf_counter() + LIMIT_S
    while not pool.ready(kind):
        assert time.perf_counter() < deadline, "no preloaded spare started"
        time.sleep(0.01)
    spare = pool.take(kind)
    assert spare is not None
    return spare


def _env(**extra: str) -> dict[str, str]:
    return {"PATH": "/usr/bin:/bin", "_HANDLER": "app.handler", "TZ": ":UTC", **extra}


def test_preload_report_names_the_modules_and_the_variables_they_read(pool, layer):
    kind = SpareKind(sys.executable, (str(layer),), None, ("fakedep", "no_such_module"),
                     (("TZ", ":UTC"),))
    spare = _ready_spare(pool, kind)
    try:
        assert "fakedep" in spare.preloaded["modules"]
        assert "no_such_module" not in spare.preloaded["modules"]
        assert spare.preloaded["env"] == {"FAKEDEP_MODE": None, "HOME": None}
    finally:
        spare.close()


def test_claimed_preloaded_spare_serves_the_function_with_the_module_already_imported(
    pool, layer, code
):
    kind = SpareKind(sys.executable, (str(layer),), None, ("fakedep",))
    spare = _ready_spare(pool, kind)
    env = _env()
    try:
        assert preload_fits(spare.preloaded, env, str(code))
        spare.claim(env, str(code), {"layers": [str(layer)], "runtime_lib": None})
        ready = spare.pump(time.perf_counter() + LIMIT_S)
        assert isinstance(ready, Frame) and ready.kind == frames.KIND_READY, spare.take_logs()
        header = {"id": "req-1", "deadline": int(time.time() * 1000) + 10_000}
        spare.send(frames.encode_invoke(header, b"{}"))
        result = spare.pump(time.perf_counter() + LIMIT_S)
        assert isinstance(result, Frame) and result.kind == frames.KIND_OK
        assert json.loads(frames.split_result(result.body)[1]) == {
            "preloaded": True, "mode": "default"
        }
    finally:
        spare.close()


def test_preload_does_not_fit_a_function_that_would_import_something_else(pool, layer, code):
    kind = SpareKind(sys.executable, (str(layer),), None, ("fakedep",))
    spare = _ready_spare(pool, kind)
    spare.close()
    report = spare.preloaded

    # the function sets a variable the import read: its own import would differ
    assert not preload_fits(report, _env(FAKEDEP_MODE="fast"), str(code))
    assert not preload_fits(report, _env(HOME="/home/fn"), str(code))
    # its code directory has its own module of that name (a vendored dependency)
    (code / "fakedep").mkdir()
    assert not preload_fits(report, _env(), str(code))
    # a plain spare (nothing preloaded) fits anything
    assert preload_fits(None, _env(FAKEDEP_MODE="fast"), str(code))


def test_a_spare_that_does_not_fit_stays_for_the_next_function(pool, layer):
    kind = SpareKind(sys.executable, (str(layer),), None, ("fakedep",))
    pool.replenish(kind)
    deadline = time.perf_counter() + LIMIT_S
    while not pool.ready(kind):
        assert time.perf_counter() < deadline, "no preloaded spare started"
        time.sleep(0.01)

    assert pool.take(kind, lambda spare: False) is None
    assert pool.ready(kind)
    spare = pool.take(kind)
    assert spare is not None and spare.alive()
    spare.close()
