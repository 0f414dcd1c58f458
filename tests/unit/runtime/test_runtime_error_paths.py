"""Stack traces show the function's code under /var/task and its layers under /opt, as AWS's,
although the code runs from its real directory (process mode, no sandbox)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from localstack_hostmode.runtime import errors


@pytest.fixture
def code(tmp_path: Path) -> Iterator[tuple[Path, Path, Path]]:
    task, layer1, layer2 = (tmp_path / name for name in ("code", "layer1", "layer2"))
    errors.set_code_locations(str(task), [str(layer1), str(layer2)])
    yield task, layer1, layer2
    errors.set_code_locations("", [])


def test_code_and_layer_frames_get_aws_paths(code: tuple[Path, Path, Path]) -> None:
    task, layer1, layer2 = code
    assert errors.aws_path(str(task / "app.py")) == "/var/task/app.py"
    assert errors.aws_path(str(task / "pkg" / "mod.py")) == "/var/task/pkg/mod.py"
    assert errors.aws_path(str(layer1 / "python" / "lib.py")) == "/opt/python/lib.py"
    assert errors.aws_path(str(layer2 / "python" / "x.py")) == "/opt/python/x.py"


def test_other_paths_are_unchanged(code: tuple[Path, Path, Path]) -> None:
    task, _, _ = code
    sibling = str(task) + "-other/app.py"  # a prefix of the name, not of the directory
    assert errors.aws_path(sibling) == sibling
    assert errors.aws_path("/usr/lib/python3.13/json/__init__.py").startswith("/usr/lib")
    assert errors.aws_path("<string>") == "<string>"


def test_exception_trace_uses_var_task(code: tuple[Path, Path, Path]) -> None:
    task, _, _ = code
    task.mkdir()
    source = task / "handler.py"
    source.write_text("def handler():\n    raise ValueError('bad')\n")
    namespace: dict = {}
    exec(compile(source.read_text(), str(source), "exec"), namespace)
    try:
        namespace["handler"]()
    except ValueError as exc:
        error = errors.build_exception_error(exc, "req-1")
    assert error["errorType"] == "ValueError"
    assert error["stackTrace"][-1].startswith('  File "/var/task/handler.py", line 2, in handler')
    assert str(task) not in "".join(error["stackTrace"])
