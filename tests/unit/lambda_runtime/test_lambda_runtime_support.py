"""Executor helpers without LocalStack: interpreter discovery, hot-reload watchers, AWS wording."""

from __future__ import annotations

import os
import signal
import stat
import sys
from pathlib import Path

import pytest

from localstack_hostmode.lambda_runtime import hot_reload as reload
from localstack_hostmode.lambda_runtime import interpreters
from localstack_hostmode.lambda_runtime.launch import host_path, needs_direct_start
from localstack_hostmode.lambda_runtime.process import resident_kib
from localstack_hostmode.lambda_runtime.reports import exit_reason, platform_error


@pytest.fixture(autouse=True)
def _fresh_interpreter_cache(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(interpreters, "_cache", {})


def _fake_binary(path: Path, script: bool = False) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"#!/bin/sh\n" if script else b"\x7fELF fake")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def test_non_python_runtime_is_rejected_with_a_reason():
    with pytest.raises(interpreters.RuntimeNotAvailable, match="only Python runtimes"):
        interpreters.find_interpreter("nodejs20.x")
    with pytest.raises(interpreters.RuntimeNotAvailable, match="container image"):
        interpreters.find_interpreter(None)


def test_env_override_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    binary = _fake_binary(tmp_path / "custom" / "python-3.13")
    monkeypatch.setenv("HOSTMODE_PYTHON_3_13", str(binary))
    assert interpreters.find_interpreter("python3.13") == str(binary)


def test_bad_env_override_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("HOSTMODE_PYTHON_3_13", str(tmp_path / "missing"))
    with pytest.raises(interpreters.RuntimeNotAvailable, match="HOSTMODE_PYTHON_3_13="):
        interpreters.find_interpreter("python3.13")


def test_path_skips_shims_then_pyenv_versions(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    # GIVEN a pyenv shim (a script) on PATH and two pyenv installs
    _fake_binary(tmp_path / "shims" / "python3.42", script=True)
    _fake_binary(tmp_path / "pyenv" / "versions" / "3.42.9" / "bin" / "python3.42")
    newest = _fake_binary(tmp_path / "pyenv" / "versions" / "3.42.10" / "bin" / "python3.42")
    monkeypatch.setenv("PATH", str(tmp_path / "shims"))
    monkeypatch.setenv("PYENV_ROOT", str(tmp_path / "pyenv"))
    monkeypatch.delenv("HOSTMODE_PYTHON_3_42", raising=False)

    # THEN the newest real interpreter is chosen, not the shim
    assert interpreters.find_interpreter("python3.42") == str(newest)


def test_path_binary_is_used_and_symlinks_resolved(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    real = _fake_binary(tmp_path / "real" / "python3.42")
    (tmp_path / "venv").mkdir()
    (tmp_path / "venv" / "python3.42").symlink_to(real)
    monkeypatch.setenv("PATH", str(tmp_path / "venv"))
    monkeypatch.setenv("PYENV_ROOT", str(tmp_path / "no-pyenv"))
    assert interpreters.find_interpreter("python3.42") == str(real)


def test_missing_interpreter_explains_how_to_fix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv("PYENV_ROOT", str(tmp_path / "no-pyenv"))
    with pytest.raises(interpreters.RuntimeNotAvailable) as exc:
        interpreters.find_interpreter("python3.42")
    message = str(exc.value)
    assert "no python3.42 interpreter found" in message
    assert "HOSTMODE_PYTHON_3_42" in message


@pytest.mark.parametrize(
    ("returncode", "reason"),
    [
        (0, "Runtime exited without providing a reason"),
        (1, "Runtime exited with error: exit status 1"),
        (127, "Runtime exited with error: exit status 127"),
        (-signal.SIGKILL, "Runtime exited with error: signal: killed"),
        (-signal.SIGSEGV, "Runtime exited with error: signal: segmentation fault"),
        (-signal.SIGABRT, "Runtime exited with error: signal: aborted"),
    ],
)
def test_exit_reason_uses_aws_wording(returncode, reason):
    assert exit_reason(returncode) == reason


def test_platform_error_has_only_type_and_message():
    assert platform_error("Sandbox.Timedout", "late") == (
        b'{"errorType": "Sandbox.Timedout", "errorMessage": "late"}'
    )


def test_host_path_maps_var_task_and_opt(tmp_path: Path):
    first, second = tmp_path / "layer1", tmp_path / "layer2"
    (first / "bin").mkdir(parents=True)
    (second / "bin").mkdir(parents=True)
    (first / "bin" / "wrap").write_text("")
    (second / "bin" / "wrap").write_text("")
    layers = [str(first), str(second)]

    assert host_path("/var/task/w.sh", "/code", layers) == "/code/w.sh"
    assert host_path("/opt/bin/wrap", "/code", layers) == str(second / "bin" / "wrap")
    assert host_path("/opt/none", "/code", layers) == "/opt/none"
    assert host_path("/usr/local/bin/w", "/code", layers) == "/usr/local/bin/w"


@pytest.mark.parametrize("kind", ["scan", "inotify"])
def test_watcher_generation_moves_on_relevant_changes_only(tmp_path: Path, kind: str):
    (tmp_path / "pkg").mkdir()
    module = tmp_path / "pkg" / "mod.py"
    module.write_text("A = 1\n")
    if kind == "inotify":
        libc = reload._libc_with_inotify()
        if libc is None:
            pytest.skip(f"inotify is Linux-only ({sys.platform})")
        watcher = reload.InotifyWatcher(str(tmp_path), libc)
    else:
        watcher = reload.ScanWatcher(str(tmp_path))
    try:
        start = watcher.generation()

        # bytecode and editor droppings do not count
        (tmp_path / "pkg" / "__pycache__").mkdir()
        (tmp_path / "pkg" / "__pycache__" / "mod.cpython-313.pyc").write_bytes(b"x")
        (tmp_path / "pkg" / ".mod.py.swp").write_bytes(b"x")
        assert watcher.generation() == start

        # a same-size edit counts (mtime moves)
        st = module.stat()
        module.write_text("A = 2\n")
        os.utime(module, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))
        after_edit = watcher.generation()
        assert after_edit > start

        # files in a directory created later count too
        (tmp_path / "new").mkdir()
        created = watcher.generation()
        (tmp_path / "new" / "x.py").write_text("X = 1\n")
        assert watcher.generation() > max(created, after_edit)
    finally:
        watcher.close()


def test_watcher_for_shares_one_watcher_per_folder(tmp_path: Path):
    assert reload.watcher_for(str(tmp_path)) is reload.watcher_for(str(tmp_path / "."))


def test_spare_processes_only_for_functions_that_do_not_need_a_fresh_start(tmp_path: Path):
    code, layer = tmp_path / "code", tmp_path / "layer"
    code.mkdir()
    (layer / "python").mkdir(parents=True)
    (code / "app.py").write_text("")

    assert not needs_direct_start({}, {"TABLE": "t"}, str(code), [str(layer)])
    # read at process start: exec wrapper, interpreter, locale and loader variables
    assert needs_direct_start({"AWS_LAMBDA_EXEC_WRAPPER": "/w"}, {}, str(code), [])
    for key in ("PYTHONPATH", "PYTHONWARNINGS", "LANG", "LC_ALL", "LD_PRELOAD"):
        assert needs_direct_start({}, {key: "x"}, str(code), []), key
    # native libraries found through LD_LIBRARY_PATH
    (layer / "lib").mkdir()
    assert needs_direct_start({}, {}, str(code), [str(layer)])
    (code / "libfoo.so.1").write_text("")
    assert needs_direct_start({}, {}, str(code), [])


def test_resident_kib_follows_what_a_process_holds() -> None:
    before = resident_kib(os.getpid())
    assert before is not None and before > 0
    blob = b"\x01" * (64 << 20)
    after = resident_kib(os.getpid())
    assert after is not None and after - before >= 60 * 1024, (before, after)
    del blob


def test_resident_kib_of_a_missing_process_is_none() -> None:
    assert resident_kib(2**22 + 12345) is None
