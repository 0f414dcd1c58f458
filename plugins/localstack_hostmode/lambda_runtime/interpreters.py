"""Find the host interpreter for a Lambda runtime (python3.12 -> a real python3.12 binary).

Order: env override HOSTMODE_PYTHON_3_12, then PATH, then pyenv's versions directory. Scripts
(pyenv shims and the like) are skipped: they are slow to start and may resolve to another version.
"""

from __future__ import annotations

import glob
import os
import re
import shutil
import subprocess
import threading

_RUNTIME_RE = re.compile(r"^python(\d+)\.(\d+)$")
_cache: dict[str, str] = {}
_lock = threading.Lock()


class RuntimeNotAvailable(Exception):
    """The function's runtime cannot run in host mode (clear message for StateReason)."""


def python_version_of(runtime: str | None) -> tuple[int, int]:
    match = _RUNTIME_RE.match(runtime or "")
    if not match:
        raise RuntimeNotAvailable(
            f"Runtime {runtime or '(none: container image)'} is not supported by the host-mode "
            "local-process executor: only Python runtimes (python3.x) run without Docker"
        )
    return int(match.group(1)), int(match.group(2))


def env_var_for(version: tuple[int, int]) -> str:
    return f"HOSTMODE_PYTHON_{version[0]}_{version[1]}"


def _is_native_executable(path: str) -> bool:
    try:
        if not (os.path.isfile(path) and os.access(path, os.X_OK)):
            return False
        with open(path, "rb") as f:
            return f.read(2) != b"#!"
    except OSError:
        return False


def _pyenv_root() -> str | None:
    if root := os.environ.get("PYENV_ROOT"):
        return root
    if pyenv := shutil.which("pyenv"):
        try:
            out = subprocess.run(
                [pyenv, "root"], capture_output=True, text=True, timeout=10, check=True
            )
            return out.stdout.strip() or None
        except (OSError, subprocess.SubprocessError):
            pass
    default = os.path.expanduser("~/.pyenv")
    return default if os.path.isdir(default) else None


def _version_key(path: str) -> tuple:
    # .../versions/3.13.10/bin/python3.13 sorts after 3.13.9
    name = path.split(os.sep)[-3]
    return tuple(int(p) if p.isdigit() else -1 for p in re.split(r"[.\-]", name))


def _candidates(version: tuple[int, int]):
    name = f"python{version[0]}.{version[1]}"
    if override := os.environ.get(env_var_for(version)):
        yield override
        return  # an explicit choice is not second-guessed
    for directory in os.environ.get("PATH", "").split(os.pathsep):
        if directory:
            yield os.path.join(directory, name)
    if root := _pyenv_root():
        pattern = os.path.join(root, "versions", f"{version[0]}.{version[1]}.*", "bin", name)
        yield from sorted(glob.glob(pattern), key=_version_key, reverse=True)


def find_interpreter(runtime: str | None) -> str:
    """Absolute path of the interpreter for `runtime`, or RuntimeNotAvailable explaining why."""
    version = python_version_of(runtime)
    with _lock:
        if runtime in _cache:
            return _cache[runtime]
        for candidate in _candidates(version):
            if _is_native_executable(candidate):
                # a venv's python is a symlink: the real binary starts without venv detection
                path = os.path.realpath(candidate)
                _cache[runtime] = path
                return path
        override = os.environ.get(env_var_for(version))
        if override:
            raise RuntimeNotAvailable(
                f"Runtime {runtime}: {env_var_for(version)}={override} is not an executable "
                "Python interpreter"
            )
        name = f"python{version[0]}.{version[1]}"
        raise RuntimeNotAvailable(
            f"Runtime {runtime} is not available in host mode: no {name} interpreter found. "
            f"Install Python {version[0]}.{version[1]} (e.g. pyenv install {version[0]}."
            f"{version[1]}), put {name} on PATH, or set {env_var_for(version)} to its path"
        )
