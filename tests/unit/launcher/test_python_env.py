"""scripts/launcher/python_env.py: finding Python >= 3.12, venv stamps."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from launcher import config, python_env
from launcher.console import HostmodeError

# ----------------------------------------------------------------------------- venv stamps


def test_lock_closure_follows_includes(tmp_path: Path) -> None:
    (tmp_path / "base.txt").write_text("a==1\n")
    (tmp_path / "c.txt").write_text("b==2\n")
    (tmp_path / "top.txt").write_text("-r base.txt\n-c c.txt\nx==3\n")
    closure = python_env.lock_closure(tmp_path / "top.txt")
    assert {p.name for p in closure} == {"top.txt", "base.txt", "c.txt"}


def test_stamp_changes_when_an_included_lock_changes(tmp_path: Path) -> None:
    (tmp_path / "base.txt").write_text("a==1\n")
    (tmp_path / "top.txt").write_text("-r base.txt\n")
    before = python_env.hash_files(python_env.lock_closure(tmp_path / "top.txt"))
    assert before == python_env.hash_files(python_env.lock_closure(tmp_path / "top.txt"))
    (tmp_path / "base.txt").write_text("a==2\n")
    assert before != python_env.hash_files(python_env.lock_closure(tmp_path / "top.txt"))


def test_localstack_stamp_covers_all_inputs() -> None:
    names = {p.name for p in python_env.lock_closure(config.LOCALSTACK_LOCK)}
    assert {"localstack.txt", "localstack-runtime.txt"} <= names
    assert len(python_env.localstack_stamp()) == 64


def test_up_to_date_venv_is_not_reinstalled(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                            ) -> None:
    lock = tmp_path / "lock.txt"
    lock.write_text("pkg==1\n")
    venv = tmp_path / "venv"
    calls: list[tuple] = []
    monkeypatch.setattr(python_env, "_venv_python_ok", lambda v: v.exists())
    monkeypatch.setattr(python_env, "_create_venv", lambda v: v.mkdir(exist_ok=True))
    monkeypatch.setattr(python_env, "_pip", lambda v, *a: calls.append(a))
    python_env.ensure_venv(venv, lock)
    assert len(calls) == 1
    python_env.ensure_venv(venv, lock)
    assert len(calls) == 1, "an up-to-date venv was reinstalled"
    lock.write_text("pkg==2\n")
    python_env.ensure_venv(venv, lock)
    assert len(calls) == 2, "a changed lock did not trigger a reinstall"


# ----------------------------------------------------------------------------- python finder


def _fake_pythons(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, on_path: dict[str, tuple],
                  pyenv_versions: dict[str, tuple] | None) -> None:
    monkeypatch.delenv("HOSTMODE_PYTHON", raising=False)
    versions: dict[str, tuple] = {}
    paths = {}
    for name, ver in on_path.items():
        paths[name] = f"/usr/bin/{name}"
        versions[f"/usr/bin/{name}"] = ver
    root = tmp_path / "pyenv"
    if pyenv_versions is not None:
        for vname, ver in pyenv_versions.items():
            exe = root / "versions" / vname / "bin" / "python3"
            exe.parent.mkdir(parents=True)
            exe.write_text("")
            versions[str(exe)] = ver
        paths["pyenv"] = "/usr/bin/pyenv"

    monkeypatch.setattr(python_env.shutil, "which", lambda n: paths.get(n))

    real_run = subprocess.run

    def fake_run(cmd, *a, **kw):
        if cmd[:2] == ["/usr/bin/pyenv", "root"]:
            return subprocess.CompletedProcess(cmd, 0, stdout=f"{root}\n", stderr="")
        return real_run(cmd, *a, **kw)

    monkeypatch.setattr(python_env.subprocess, "run", fake_run)
    monkeypatch.setattr(python_env, "_python_version",
                        lambda exe: (versions[exe], exe) if exe in versions else None)


def test_finder_prefers_path(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    _fake_pythons(monkeypatch, tmp_path, {"python3.12": (3, 12), "python3": (3, 11)},
                  {"3.13.0": (3, 13)})
    assert python_env.find_python() == "/usr/bin/python3.12"


def test_finder_falls_back_to_newest_pyenv_version(monkeypatch: pytest.MonkeyPatch,
                                                   tmp_path: Path) -> None:
    _fake_pythons(monkeypatch, tmp_path, {"python3": (3, 11)},
                  {"3.12.1": (3, 12), "3.13.0": (3, 13), "3.9.18": (3, 9)})
    assert python_env.find_python().endswith("/versions/3.13.0/bin/python3")


def test_finder_explains_when_nothing_fits(monkeypatch: pytest.MonkeyPatch,
                                           tmp_path: Path) -> None:
    _fake_pythons(monkeypatch, tmp_path, {"python3": (3, 11)}, None)
    with pytest.raises(HostmodeError, match="Python >= 3.12"):
        python_env.find_python()


def test_python_version_of_this_interpreter() -> None:
    version, exe = python_env._python_version(sys.executable)
    assert version == sys.version_info[:2]
    assert Path(exe).exists()


def test_venv_python_version_comes_from_pyvenv_cfg_without_starting_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_interpreter(exe: str) -> None:
        raise AssertionError("the interpreter was started")

    monkeypatch.setattr(python_env, "_python_version", no_interpreter)
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python").symlink_to(sys.executable)
    (venv / "pyvenv.cfg").write_text("home = /usr/bin\nversion = 3.13.0\n")
    assert python_env._venv_python_ok(venv)
    (venv / "pyvenv.cfg").write_text("home = /usr/bin\nversion = 3.11.9\n")
    assert not python_env._venv_python_ok(venv)
    (venv / "bin" / "python").unlink()
    (venv / "bin" / "python").symlink_to(tmp_path / "gone")  # a removed base interpreter
    assert not python_env._venv_python_ok(venv)
