"""A Python >= 3.12 and virtualenvs built from lock files.

`venv DIR LOCK` (the dev venv) and LocalStack's own venv (``.localstack/venv``: LocalStack, our
plugins, the Lambda runtime lib, pre-installed packages). A stamp (hash of the lock and what it
includes) in each venv skips the install when nothing changed; a file lock keeps two launchers
from installing at the same time.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterable
from pathlib import Path

from . import config
from .console import HostmodeError, log

MIN_PYTHON = (3, 12)
# bump when the install recipe below changes, so existing venvs get refreshed
RECIPE_VERSION = "1"
STAMP_NAME = ".hostmode-stamp"
# npm packages LocalStack installs on first use that work without Java
PREINSTALL_PACKAGES = ["kinesis-mock"]


# ----------------------------------------------------------------------------- stamps


def hash_files(paths: Iterable[Path], extra: str = "") -> str:
    digest = hashlib.sha256(extra.encode())
    for path in paths:
        try:
            name = str(path.relative_to(config.ROOT))
        except ValueError:
            name = str(path)
        digest.update(name.encode())
        digest.update(path.read_bytes() if path.exists() else b"<missing>")
    return digest.hexdigest()


def lock_closure(lockfile: Path) -> list[Path]:
    """The lock file and every file it pulls in with -r / -c."""
    seen: list[Path] = []
    todo = [lockfile.resolve()]
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.append(current)
        if not current.exists():
            continue
        for line in current.read_text().splitlines():
            m = re.match(r"^\s*(?:-r|-c|--requirement|--constraint)\s*=?\s*(\S+)", line)
            if m:
                todo.append((current.parent / m.group(1)).resolve())
    return seen


def localstack_stamp() -> str:
    inputs = lock_closure(config.LOCALSTACK_LOCK) + [config.LAMBDA_RUNTIME_LOCK,
                                                     config.PLUGINS_DIR / "pyproject.toml"]
    return hash_files(inputs, extra=f"localstack:{RECIPE_VERSION}:{','.join(PREINSTALL_PACKAGES)}")


def _read_stamp(venv: Path) -> str:
    try:
        return (venv / STAMP_NAME).read_text().strip()
    except OSError:
        return ""


# ----------------------------------------------------------------------------- python finder


def _python_version(exe: str) -> tuple[tuple[int, int], str] | None:
    """(major, minor) and the real executable behind ``exe`` (resolves pyenv shims)."""
    try:
        out = subprocess.run(
            [exe, "-c", "import sys; print(sys.version_info[0], sys.version_info[1]); "
             "print(sys.executable)"],
            capture_output=True, text=True, timeout=20,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if out.returncode != 0:
        return None
    lines = out.stdout.split("\n")
    try:
        major, minor = (int(x) for x in lines[0].split())
    except ValueError:
        return None
    return (major, minor), (lines[1].strip() or exe)


def _path_pythons() -> list[str]:
    return [found for found in map(shutil.which, ("python3.13", "python3.12", "python3")) if found]


def _pyenv_pythons() -> list[str]:
    """pyenv's installed versions, newest first."""
    pyenv = shutil.which("pyenv")
    if not pyenv:
        return []
    try:
        root = subprocess.run([pyenv, "root"], capture_output=True, text=True,
                              timeout=20).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        root = ""
    versions = Path(root) / "versions" if root else None
    if not (versions and versions.is_dir()):
        return []

    def key(p: Path) -> tuple[int, ...]:
        return tuple(int(x) if x.isdigit() else -1 for x in re.split(r"[.\-]", p.name))

    exes = (d / "bin" / "python3" for d in sorted(versions.iterdir(), key=key, reverse=True))
    return [str(exe) for exe in exes if exe.exists()]


def _uv_python() -> list[str]:
    uv = shutil.which("uv")
    if not uv:
        return []
    try:
        out = subprocess.run([uv, "python", "find", ">=3.12"], capture_output=True,
                             text=True, timeout=60)
    except (OSError, subprocess.SubprocessError):
        return []
    return [out.stdout.strip()] if out.returncode == 0 and out.stdout.strip() else []


def find_python() -> str:
    """A Python >= 3.12: HOSTMODE_PYTHON, PATH, then pyenv versions, then ``uv python find``."""
    override = os.environ.get("HOSTMODE_PYTHON")
    candidates = ([override] if override else []) + _path_pythons() + _pyenv_pythons() \
        + _uv_python()
    for exe in candidates:
        info = _python_version(exe)
        if info and info[0] >= MIN_PYTHON:
            return info[1]
    raise HostmodeError(
        "LocalStack needs Python >= 3.12, and none was found (looked at python3.13, python3.12 "
        "and python3 on PATH, `pyenv root`/versions/*, and `uv python find`). Install one, e.g. "
        "`pyenv install 3.13` or `uv python install 3.13`, or point HOSTMODE_PYTHON at it."
    )


# ----------------------------------------------------------------------------- venvs


def _pip(venv: Path, *args: str) -> None:
    cmd = [str(venv / "bin" / "python"), "-m", "pip", "--disable-pip-version-check", *args]
    log("$ " + " ".join(cmd[2:]))
    # pip's progress goes to the user's terminal; stdout joins stderr so `make up | ...` stays clean
    proc = subprocess.run(cmd, stdout=sys.stderr, cwd=str(config.ROOT))
    if proc.returncode != 0:
        raise HostmodeError(f"pip {' '.join(args[:1])} failed (exit {proc.returncode}); see above")


def _venv_cfg_version(venv: Path) -> tuple[int, int] | None:
    """(major, minor) that ``python -m venv`` recorded in pyvenv.cfg (``version = 3.13.0``)."""
    try:
        text = (venv / "pyvenv.cfg").read_text()
    except OSError:
        return None
    m = re.search(r"^\s*version(?:_info)?\s*=\s*(\d+)\.(\d+)", text, re.MULTILINE)
    return (int(m.group(1)), int(m.group(2))) if m else None


def _venv_python_ok(venv: Path) -> bool:
    """The venv's interpreter exists (its symlink resolves) and is >= MIN_PYTHON.

    Read from pyvenv.cfg: starting the interpreter to ask it cost ~0.15 s of every `make up`.
    Without a readable version there, the interpreter is asked."""
    exe = venv / "bin" / "python"
    if not exe.exists():
        return False
    recorded = _venv_cfg_version(venv)
    if recorded is not None:
        return recorded >= MIN_PYTHON
    info = _python_version(str(exe))
    return bool(info and info[0] >= MIN_PYTHON)


def _create_venv(venv: Path) -> None:
    if _venv_python_ok(venv):
        return
    python = find_python()
    shown = venv.relative_to(config.ROOT) if venv.is_relative_to(config.ROOT) else venv
    log(f"creating {shown} with {python}")
    if venv.exists():
        shutil.rmtree(venv)
    subprocess.run([python, "-m", "venv", str(venv)], check=True)


def ensure_venv(venv: Path, lockfile: Path) -> None:
    """`venv DIR LOCKFILE`: a venv with exactly the lock installed; skipped when up to date."""
    if not lockfile.exists():
        raise HostmodeError(f"lock file not found: {lockfile}")
    stamp = hash_files(lock_closure(lockfile), extra=f"venv:{RECIPE_VERSION}")
    if _venv_python_ok(venv) and _read_stamp(venv) == stamp:
        return
    t0 = time.monotonic()
    _create_venv(venv)
    _pip(venv, "install", "-r", str(lockfile))
    (venv / STAMP_NAME).write_text(stamp + "\n")
    log(f"{venv} ready ({time.monotonic() - t0:.0f}s)")


class FileLock:
    """An exclusive flock: one install / one start-stop per port at a time."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.fd = -1

    def __enter__(self) -> FileLock:
        import fcntl

        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.fd = os.open(str(self.path), os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log(f"waiting for another hostmode.py ({self.path.name})")
            fcntl.flock(self.fd, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc: object) -> None:
        os.close(self.fd)


# ----------------------------------------------------------------------------- LocalStack's venv


def ensure_localstack_venv() -> bool:
    """Install LocalStack, our plugins, the Lambda runtime lib and run-time packages.

    Returns True if something was (re)installed.
    """
    stamp = localstack_stamp()
    if _venv_python_ok(config.LS_VENV) and _read_stamp(config.LS_VENV) == stamp:
        if not _service_catalog_missing():
            return False
    with FileLock(config.LS_HOME / ".install.lock"):
        if _venv_python_ok(config.LS_VENV) and _read_stamp(config.LS_VENV) == stamp:
            if _service_catalog_missing():  # a venv installed before the catalog was
                _build_service_catalog()
            return False  # another launcher just installed it
        return _install_localstack(stamp)


def _install_localstack(stamp: str) -> bool:
    t0 = time.monotonic()
    venv = config.LS_VENV
    log("installing host-mode LocalStack into .localstack/venv (first run or a lock changed)")
    _create_venv(venv)
    (venv / STAMP_NAME).unlink(missing_ok=True)
    _pip(venv, "install", "-r", str(config.LOCALSTACK_LOCK))
    # editable: plugin code changes take effect at the next `make up` without a reinstall
    editable = ["-e"] if config.plugins_editable() else []
    _pip(venv, "install", "--no-deps", *editable, str(config.PLUGINS_DIR))
    # what AWS's Python runtimes bundle (boto3 ...), put last on the handler's sys.path
    if config.LAMBDA_RUNTIME_LIB.exists():
        shutil.rmtree(config.LAMBDA_RUNTIME_LIB)
    _pip(venv, "install", "--no-deps", "--target", str(config.LAMBDA_RUNTIME_LIB),
         "-r", str(config.LAMBDA_RUNTIME_LOCK))
    for package in PREINSTALL_PACKAGES:
        _preinstall(package)
    _build_service_catalog()
    (venv / STAMP_NAME).write_text(stamp + "\n")
    log(f"host-mode LocalStack installed in {time.monotonic() - t0:.0f}s")
    return True


def _preinstall(package: str) -> None:
    log(f"pre-installing LocalStack package {package} (so nothing downloads at run time)")
    config.STATIC_LIBS.mkdir(parents=True, exist_ok=True)
    cmd = [str(config.LS_VENV / "bin" / "python"), "-m", "localstack.cli.lpm", "install",
           "--target", "static_libs", package]
    proc = subprocess.run(cmd, env=config.packages_env(), stdout=sys.stderr, cwd=str(config.ROOT))
    if proc.returncode != 0:
        raise HostmodeError(f"installing {package} failed (exit {proc.returncode}); see above")


# LocalStack's index of every AWS service's operations (its gateway routes requests with it).
# Missing, LocalStack builds it at start-up from every botocore spec into the port's run dir:
# +340 MB RSS that process keeps (and seconds) on each new run dir's first start. Built here once
# into the shared static libs, where LocalStack looks first (its Docker image does the same).
CATALOG_GLOB = "service-catalog-*.dill"
_BUILD_CATALOG = """
import os, sys
from localstack import config
from localstack.aws import spec
path = os.path.join(config.dirs.static_libs, spec._get_catalog_filename())
spec.build_service_index_cache(path + ".tmp")
os.replace(path + ".tmp", path)
print(path)
"""


def _service_catalog_missing() -> bool:
    return not any(config.STATIC_LIBS.glob(CATALOG_GLOB))


def _build_service_catalog() -> None:
    log("building LocalStack's service catalog (once, shared by every port)")
    config.STATIC_LIBS.mkdir(parents=True, exist_ok=True)
    for old in config.STATIC_LIBS.glob(CATALOG_GLOB):  # another LocalStack/botocore's
        old.unlink()
    cmd = [str(config.LS_VENV / "bin" / "python"), "-c", _BUILD_CATALOG]
    proc = subprocess.run(cmd, env=config.packages_env(), stdout=subprocess.DEVNULL,
                          cwd=str(config.ROOT))
    if proc.returncode != 0:
        raise HostmodeError(f"building the service catalog failed (exit {proc.returncode})")
