#!/usr/bin/env python3
"""Start, stop and inspect LocalStack: Docker when an engine answers, else host mode.

Usage (the Makefile calls these):
    hostmode.py venv DIR LOCKFILE   create/refresh a virtualenv from a lock (Python >= 3.12)
    hostmode.py up                  start LocalStack, wait for health and init-aws.sh
    hostmode.py down                stop everything `up` started
    hostmode.py status              running or not, mode, pid, URL, uptime, services
    hostmode.py logs [-f] [-n N]    tail of the LocalStack log

Host mode runs ``python -m localstack.runtime.main`` from ``.localstack/venv`` in its own session,
bound to 127.0.0.1:$LOCALSTACK_PORT, with per-port state under ``.localstack/run/<port>/``.
Environment: LOCALSTACK_MODE=auto|docker|host, LOCALSTACK_PORT (4566), and LocalStack's own knobs
(DEBUG, PERSISTENCE, LAMBDA_KEEPALIVE_MS, SERVICES, EAGER_SERVICE_LOADING, ...) pass through.
Host mode only: HOSTMODE_INIT_SCRIPT (the ready.d script instead of init-aws.sh; empty: none),
HOSTMODE_STOP_TIMEOUT (seconds `down` waits after SIGTERM before SIGKILL, default 5),
HOSTMODE_START_TIMEOUT, HOSTMODE_INIT_TIMEOUT.

Standard library only; runs under any python3 >= 3.9.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LS_HOME = ROOT / ".localstack"
LS_VENV = LS_HOME / "venv"
LAMBDA_RUNTIME_LIB = LS_HOME / "lambda-runtime" / "python"
# packages LocalStack would download at run time, pre-installed once, shared by every port
PACKAGES_ROOT = LS_HOME / "packages"
STATIC_LIBS = PACKAGES_ROOT / "usr" / "lib" / "localstack"
LOCALSTACK_LOCK = ROOT / "requirements" / "localstack.txt"
LAMBDA_RUNTIME_LOCK = ROOT / "requirements" / "lambda-runtime.txt"
PLUGINS_DIR = ROOT / "plugins"
INIT_SCRIPT = ROOT / "init-aws.sh"
COMPOSE_FILE = ROOT / "docker-compose.yml"

MIN_PYTHON = (3, 12)
# bump when the install recipe below changes, so existing venvs get refreshed
RECIPE_VERSION = "1"
STAMP_NAME = ".hostmode-stamp"
# npm packages LocalStack installs on first use that work without Java
PREINSTALL_PACKAGES = ["kinesis-mock"]

HEALTH_TIMEOUT_S = float(os.environ.get("HOSTMODE_START_TIMEOUT", "90"))
INIT_TIMEOUT_S = float(os.environ.get("HOSTMODE_INIT_TIMEOUT", "120"))
# how long `down` waits for LocalStack to shut down in order before it sends SIGKILL
TERM_GRACE_S = float(os.environ.get("HOSTMODE_STOP_TIMEOUT", "5"))
# what is left once LocalStack has exited (Lambda workers) gets this long after SIGTERM
LEFTOVER_GRACE_S = 2.0


# ----------------------------------------------------------------------------- output


def log(msg: str) -> None:
    print(f"[hostmode] {msg}", file=sys.stderr, flush=True)


class HostmodeError(Exception):
    """A failure with a message meant for the user."""


# ----------------------------------------------------------------------------- settings


def port() -> int:
    raw = os.environ.get("LOCALSTACK_PORT", "4566").strip() or "4566"
    try:
        value = int(raw)
    except ValueError:
        raise HostmodeError(f"LOCALSTACK_PORT must be a number, got {raw!r}") from None
    if not 0 < value < 65536:
        raise HostmodeError(f"LOCALSTACK_PORT out of range: {value}")
    return value


def url() -> str:
    return f"http://127.0.0.1:{port()}"


def run_dir() -> Path:
    return LS_HOME / "run" / str(port())


def fs_root() -> Path:
    return run_dir() / "fs"


def log_file() -> Path:
    return run_dir() / "localstack.log"


def pid_file() -> Path:
    return run_dir() / "localstack.pid"


def init_log_file() -> Path:
    return run_dir() / "init-aws.log"


def init_script() -> Path | None:
    """The ready.d script `up` runs: init-aws.sh, or HOSTMODE_INIT_SCRIPT (empty: none)."""
    override = os.environ.get("HOSTMODE_INIT_SCRIPT")
    if override is None:
        return INIT_SCRIPT
    if not override.strip():
        return None
    path = Path(override).expanduser()
    path = path if path.is_absolute() else ROOT / path
    if not path.is_file():
        raise HostmodeError(f"HOSTMODE_INIT_SCRIPT not found: {path}")
    return path.resolve()


# ----------------------------------------------------------------------------- small utils


def http_get_json(path: str, timeout: float = 2.0, base: str | None = None) -> dict | None:
    """GET base+path; the parsed JSON on 2xx, None if nothing (valid) answers."""
    try:
        with urllib.request.urlopen((base or url()) + path, timeout=timeout) as resp:
            if 200 <= resp.status < 300:
                return json.loads(resp.read().decode("utf-8") or "{}")
    except (OSError, ValueError, urllib.error.URLError):
        return None
    return None


def health(timeout: float = 2.0) -> dict | None:
    return http_get_json("/_localstack/health", timeout)


def hash_files(paths: Iterable[Path], extra: str = "") -> str:
    digest = hashlib.sha256(extra.encode())
    for path in paths:
        try:
            name = str(path.relative_to(ROOT))
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


def fmt_duration(seconds: float) -> str:
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m{seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


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


def find_python() -> str:
    """A Python >= 3.12: PATH, then pyenv versions, then ``uv python find``."""
    override = os.environ.get("HOSTMODE_PYTHON")
    candidates: list[str] = [override] if override else []
    for name in ("python3.13", "python3.12", "python3"):
        found = shutil.which(name)
        if found:
            candidates.append(found)
    pyenv = shutil.which("pyenv")
    if pyenv:
        try:
            root = subprocess.run([pyenv, "root"], capture_output=True, text=True,
                                  timeout=20).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            root = ""
        versions = Path(root) / "versions" if root else None
        if versions and versions.is_dir():
            def key(p: Path) -> tuple[int, ...]:
                return tuple(int(x) if x.isdigit() else -1 for x in re.split(r"[.\-]", p.name))
            for d in sorted(versions.iterdir(), key=key, reverse=True):
                exe = d / "bin" / "python3"
                if exe.exists():
                    candidates.append(str(exe))
    uv = shutil.which("uv")
    if uv:
        try:
            out = subprocess.run([uv, "python", "find", ">=3.12"], capture_output=True,
                                 text=True, timeout=60)
            if out.returncode == 0 and out.stdout.strip():
                candidates.append(out.stdout.strip())
        except (OSError, subprocess.SubprocessError):
            pass
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
    proc = subprocess.run(cmd, stdout=sys.stderr, cwd=str(ROOT))
    if proc.returncode != 0:
        raise HostmodeError(f"pip {' '.join(args[:1])} failed (exit {proc.returncode}); see above")


def _venv_python_ok(venv: Path) -> bool:
    exe = venv / "bin" / "python"
    info = _python_version(str(exe)) if exe.exists() else None
    return bool(info and info[0] >= MIN_PYTHON)


def _create_venv(venv: Path) -> None:
    if _venv_python_ok(venv):
        return
    python = find_python()
    log(f"creating {venv.relative_to(ROOT) if venv.is_relative_to(ROOT) else venv} with {python}")
    if venv.exists():
        shutil.rmtree(venv)
    subprocess.run([python, "-m", "venv", str(venv)], check=True)


def _read_stamp(venv: Path) -> str:
    try:
        return (venv / STAMP_NAME).read_text().strip()
    except OSError:
        return ""


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


def localstack_stamp() -> str:
    inputs = lock_closure(LOCALSTACK_LOCK) + [LAMBDA_RUNTIME_LOCK, PLUGINS_DIR / "pyproject.toml"]
    return hash_files(inputs, extra=f"localstack:{RECIPE_VERSION}:{','.join(PREINSTALL_PACKAGES)}")


def _packages_env() -> dict[str, str]:
    env = _clean_env()
    env.update({"OVERRIDE_IN_DOCKER": "0", "FILESYSTEM_ROOT": str(PACKAGES_ROOT),
                "DISABLE_EVENTS": "1", "SKIP_SSL_CERT_DOWNLOAD": "1"})
    return env


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


def ensure_localstack_venv() -> bool:
    """Install LocalStack, our plugins, the Lambda runtime lib and run-time packages.

    Returns True if something was (re)installed.
    """
    stamp = localstack_stamp()
    if _venv_python_ok(LS_VENV) and _read_stamp(LS_VENV) == stamp:
        return False
    with FileLock(LS_HOME / ".install.lock"):
        if _venv_python_ok(LS_VENV) and _read_stamp(LS_VENV) == stamp:
            return False  # another launcher just installed it
        return _install_localstack(stamp)


def _install_localstack(stamp: str) -> bool:
    t0 = time.monotonic()
    log("installing host-mode LocalStack into .localstack/venv (first run or a lock changed)")
    _create_venv(LS_VENV)
    (LS_VENV / STAMP_NAME).unlink(missing_ok=True)
    _pip(LS_VENV, "install", "-r", str(LOCALSTACK_LOCK))
    # editable: plugin code changes take effect at the next `make up` without a reinstall
    editable = os.environ.get("HOSTMODE_PLUGINS_EDITABLE", "1") != "0"
    _pip(LS_VENV, "install", "--no-deps", *(["-e"] if editable else []), str(PLUGINS_DIR))
    # what AWS's Python runtimes bundle (boto3 ...), put last on the handler's sys.path
    if LAMBDA_RUNTIME_LIB.exists():
        shutil.rmtree(LAMBDA_RUNTIME_LIB)
    _pip(LS_VENV, "install", "--no-deps", "--target", str(LAMBDA_RUNTIME_LIB),
         "-r", str(LAMBDA_RUNTIME_LOCK))
    for package in PREINSTALL_PACKAGES:
        log(f"pre-installing LocalStack package {package} (so nothing downloads at run time)")
        STATIC_LIBS.mkdir(parents=True, exist_ok=True)
        cmd = [str(LS_VENV / "bin" / "python"), "-m", "localstack.cli.lpm", "install",
               "--target", "static_libs", package]
        proc = subprocess.run(cmd, env=_packages_env(), stdout=sys.stderr, cwd=str(ROOT))
        if proc.returncode != 0:
            raise HostmodeError(f"installing {package} failed (exit {proc.returncode}); see above")
    (LS_VENV / STAMP_NAME).write_text(stamp + "\n")
    log(f"host-mode LocalStack installed in {time.monotonic() - t0:.0f}s")
    return True


# ----------------------------------------------------------------------------- /proc


def _read(path: str) -> bytes | None:
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        return None


class Proc:
    __slots__ = ("pid", "ppid", "pgid", "sid", "start", "cmdline", "uid")

    def __init__(self, pid: int, ppid: int, pgid: int, sid: int, start: int, cmdline: str,
                 uid: int) -> None:
        self.pid, self.ppid, self.pgid, self.sid = pid, ppid, pgid, sid
        self.start, self.cmdline, self.uid = start, cmdline, uid

    def environ(self) -> dict[str, str]:
        raw = _read(f"/proc/{self.pid}/environ") or b""
        env = {}
        for item in raw.split(b"\0"):
            if b"=" in item:
                k, _, v = item.partition(b"=")
                env[k.decode(errors="replace")] = v.decode(errors="replace")
        return env


def _stat_fields(pid: int) -> list[str]:
    """/proc/<pid>/stat after the command name: state, ppid, pgrp, session, ... ([] if gone)."""
    stat = _read(f"/proc/{pid}/stat")
    if not stat:
        return []
    text = stat.decode(errors="replace")
    # comm may contain spaces and parens: split after the last ')'
    return text[text.rfind(")") + 2:].split()


def proc_info(pid: int) -> Proc | None:
    rest = _stat_fields(pid)
    if not rest or rest[0] == "Z":  # gone, or a zombie only waiting to be reaped
        return None
    cmdline = (_read(f"/proc/{pid}/cmdline") or b"").replace(b"\0", b" ").decode(
        errors="replace").strip()
    try:
        uid = os.stat(f"/proc/{pid}").st_uid
    except OSError:
        return None
    return Proc(pid, int(rest[1]), int(rest[2]), int(rest[3]), int(rest[19]), cmdline, uid)


def all_procs() -> list[Proc]:
    procs = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            p = proc_info(int(entry))
            if p:
                procs.append(p)
    return procs


def listening_ports() -> dict[int, set[int]]:
    """port -> socket inodes of TCP sockets in LISTEN state (IPv4 and IPv6)."""
    result: dict[int, set[int]] = {}
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        data = _read(name)
        if not data:
            continue
        for line in data.decode().splitlines()[1:]:
            fields = line.split()
            if len(fields) > 9 and fields[3] == "0A":
                p = int(fields[1].rsplit(":", 1)[1], 16)
                result.setdefault(p, set()).add(int(fields[9]))
    return result


def socket_owners(inodes: set[int]) -> set[int]:
    owners = set()
    targets = {f"socket:[{i}]" for i in inodes}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            for fd in os.listdir(f"/proc/{entry}/fd"):
                try:
                    if os.readlink(f"/proc/{entry}/fd/{fd}") in targets:
                        owners.add(int(entry))
                        break
                except OSError:
                    continue
        except OSError:
            continue
    return owners


def port_listening(p: int) -> bool:
    return p in listening_ports()


# ----------------------------------------------------------------------------- pid file


def read_pidfile() -> dict | None:
    try:
        return json.loads(pid_file().read_text())
    except (OSError, ValueError):
        return None


def leader_alive(info: dict | None) -> Proc | None:
    """The LocalStack process recorded in the pid file, if it is still that process."""
    if not info or info.get("mode") != "host":
        return None
    p = proc_info(int(info.get("pid", 0)))
    # pid + start time identify a process (a reused pid starts later); the command line
    # would not: right after the fork it is still this launcher's
    if p is None or p.start != info.get("start"):
        return None
    return p


def our_processes(info: dict | None) -> list[Proc]:
    """Every process a host-mode `up` on this port started, alive or orphaned.

    Matches: LocalStack's process group and session (moto, init scripts), its descendants,
    and anything carrying our run-dir marker in its environment (services LocalStack starts in
    sessions of their own, such as the Kinesis mock; Lambda workers).
    """
    me = os.getpid()
    ancestors = set()
    p = proc_info(me)
    while p and p.ppid > 1:
        ancestors.add(p.ppid)
        p = proc_info(p.ppid)
    procs = [p for p in all_procs() if p.uid == os.getuid() and p.pid != me
             and p.pid not in ancestors]
    marker = str(run_dir())
    leader_pid = int(info["pid"]) if info and info.get("pid") else None
    leader_start = int(info.get("start") or 0) if info else 0
    by_parent: dict[int, list[Proc]] = {}
    for p in procs:
        by_parent.setdefault(p.ppid, []).append(p)
    found: dict[int, Proc] = {}
    for p in procs:
        if leader_pid and (p.sid == leader_pid or p.pgid == leader_pid) and p.start >= leader_start:
            found[p.pid] = p
        elif p.environ().get("HOSTMODE_RUN_DIR") == marker:
            found[p.pid] = p
    # descendants of anything found (e.g. workers started with a clean environment)
    todo = list(found)
    while todo:
        for child in by_parent.get(todo.pop(), []):
            if child.pid not in found:
                found[child.pid] = child
                todo.append(child.pid)
    return list(found.values())


# ----------------------------------------------------------------------------- docker


def docker_cli() -> str | None:
    return shutil.which("docker")


def docker_available(timeout: float = 3.0) -> bool:
    cli = docker_cli()
    if not cli:
        return False
    try:
        return subprocess.run([cli, "info"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              timeout=timeout).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


def compose_cmd() -> list[str]:
    cli = docker_cli()
    if cli and subprocess.run([cli, "compose", "version"], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL).returncode == 0:
        return [cli, "compose", "-f", str(COMPOSE_FILE)]
    legacy = shutil.which("docker-compose")
    if legacy:
        return [legacy, "-f", str(COMPOSE_FILE)]
    raise HostmodeError("Docker mode needs `docker compose` (or docker-compose)")


def choose_mode() -> str:
    mode = (os.environ.get("LOCALSTACK_MODE") or "auto").strip().lower()
    if mode not in ("auto", "docker", "host"):
        raise HostmodeError(f"LOCALSTACK_MODE must be auto, docker or host, got {mode!r}")
    if mode == "docker" and not docker_available():
        raise HostmodeError("LOCALSTACK_MODE=docker but no Docker engine answers `docker info`")
    if mode == "auto":
        mode = "docker" if docker_available() else "host"
    return mode


# ----------------------------------------------------------------------------- host-mode start


def _clean_env() -> dict[str, str]:
    env = dict(os.environ)
    # the caller's virtualenv/pythonpath must not leak into LocalStack's interpreter
    for key in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PYTHONSTARTUP", "__PYVENV_LAUNCHER__"):
        env.pop(key, None)
    return env


def localstack_env(token: str) -> dict[str, str]:
    p = port()
    env = _clean_env()
    # user-facing defaults; a value in the environment wins
    defaults = {
        # localhost.localstack.cloud does not resolve offline; return URLs that do
        "LOCALSTACK_HOST": f"127.0.0.1:{p}",
        "SQS_ENDPOINT_STRATEGY": "path",
        # an idle queue is polled again within 1 s instead of up to 10 s
        "LAMBDA_EVENT_SOURCE_MAPPING_MAX_BACKOFF_ON_EMPTY_POLL_SEC": "1",
        "AWS_DEFAULT_REGION": "us-east-1",
        # the Kinesis mock delays stream changes by 500 ms by default (DynamoDB streams too)
        "KINESIS_LATENCY": "0",
        # glibc gives each of LocalStack's many threads its own malloc arena: ~30 MB idle RSS
        "MALLOC_ARENA_MAX": "2",
    }
    for key, value in defaults.items():
        if not env.get(key):
            env[key] = value
    env.update({
        "OVERRIDE_IN_DOCKER": "0",
        "FILESYSTEM_ROOT": str(fs_root()),
        # hypercorn honours the 127.0.0.1 host; the twisted gateway binds 0.0.0.0
        "GATEWAY_SERVER": "hypercorn",
        "GATEWAY_LISTEN": f"127.0.0.1:{p}",
        "DNS_ADDRESS": "0",
        "SKIP_SSL_CERT_DOWNLOAD": "1",
        "DISABLE_EVENTS": "1",
        "LAMBDA_RUNTIME_EXECUTOR": "local-process",
        "PROVIDER_OVERRIDE_DYNAMODB": "moto",
        "HOSTMODE_LAMBDA_RUNTIME_LIB": str(LAMBDA_RUNTIME_LIB),
        # marks every process of this instance, so `down` finds them even when orphaned
        "HOSTMODE_RUN_DIR": str(run_dir()),
        "HOSTMODE_INSTANCE": token,
        # awslocal/aws for init scripts come from LocalStack's venv
        "PATH": f"{LS_VENV / 'bin'}{os.pathsep}{env.get('PATH', '')}",
        "PYTHONUNBUFFERED": "1",
    })
    return env


INIT_WRAPPER = """#!/usr/bin/env bash
# Generated by scripts/hostmode.py: runs the project's init-aws.sh with its output kept in
# {log} (so `make up` can show it when it fails) and in LocalStack's log.
set -o pipefail
export AWS_ENDPOINT_URL="${{AWS_ENDPOINT_URL_INIT:-{url}}}"
export AWS_DEFAULT_REGION="${{AWS_DEFAULT_REGION:-us-east-1}}"
export AWS_ACCESS_KEY_ID="${{AWS_ACCESS_KEY_ID:-test}}"
export AWS_SECRET_ACCESS_KEY="${{AWS_SECRET_ACCESS_KEY:-test}}"
export DISABLE_DEPRECATION_NOTICE=1
: > {log}
{script} 2>&1 | tee -a {log}
"""


def prepare_filesystem() -> None:
    rd, fs = run_dir(), fs_root()
    rd.mkdir(parents=True, exist_ok=True)
    persistence = os.environ.get("PERSISTENCE", "").lower() in ("1", "true")
    # without persistence every start is fresh; stale temp state only confuses LocalStack
    if not persistence and (fs / "tmp").exists():
        shutil.rmtree(fs / "tmp", ignore_errors=True)
    ready_d = fs / "etc" / "localstack" / "init" / "ready.d"
    ready_d.mkdir(parents=True, exist_ok=True)
    for old in ready_d.iterdir():
        if old.is_symlink() or old.is_file():
            old.unlink()
    script = init_script()
    if script is not None and script.exists():
        wrapper = ready_d / (script.name if script.suffix == ".sh" else script.name + ".sh")
        wrapper.write_text(INIT_WRAPPER.format(
            url=url(), log=_sh_quote(str(init_log_file())), script=_sh_quote(str(script))))
        wrapper.chmod(0o755)
    # pre-installed packages (kinesis mock ...) appear as LocalStack's static libs
    static = fs / "usr" / "lib" / "localstack"
    if STATIC_LIBS.is_dir() and not (static.is_symlink() and static.resolve() == STATIC_LIBS):
        if static.is_symlink() or static.is_file():
            static.unlink()
        elif static.is_dir():
            shutil.rmtree(static)
        static.parent.mkdir(parents=True, exist_ok=True)
        static.symlink_to(STATIC_LIBS, target_is_directory=True)
    for name in ("dynamodb-backend.json",):
        (rd / name).unlink(missing_ok=True)


def _sh_quote(s: str) -> str:
    return "'" + s.replace("'", "'\"'\"'") + "'"


def start_host() -> dict:
    prepare_filesystem()
    lf = log_file()
    if lf.exists():
        lf.replace(lf.with_suffix(".log.1"))
    token = uuid.uuid4().hex
    env = localstack_env(token)
    cmd = [str(LS_VENV / "bin" / "python"), "-m", "localstack.runtime.main"]
    with open(lf, "ab") as out:
        proc = subprocess.Popen(cmd, env=env, cwd=str(ROOT), stdin=subprocess.DEVNULL,
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
                                close_fds=True)
    p = proc_info(proc.pid)
    info = {"mode": "host", "pid": proc.pid, "start": p.start if p else 0, "port": port(),
            "url": url(), "token": token, "started_at": time.time(), "log": str(lf)}
    pid_file().write_text(json.dumps(info) + "\n")
    # we never wait() for it: it must outlive this launcher
    proc.returncode = 0
    return info


def wait_ready(info: dict | None, deadline_s: float) -> dict:
    """Poll /_localstack/health until it answers; fail early if the process died."""
    deadline = time.monotonic() + deadline_s
    while True:
        h = health(timeout=1.0)
        if h is not None:
            return h
        if info and info.get("mode") == "host" and not leader_alive(info):
            raise HostmodeError("LocalStack exited during start-up. Last log lines:\n"
                                + tail(log_file(), 30))
        if time.monotonic() > deadline:
            raise HostmodeError(f"LocalStack did not answer {url()}/_localstack/health within "
                                f"{deadline_s:.0f}s. Last log lines:\n" + tail(log_file(), 30))
        time.sleep(0.1)


def init_state() -> tuple[bool, list[dict]]:
    data = http_get_json("/_localstack/init/ready", timeout=2.0) or {}
    return bool(data.get("completed")), list(data.get("scripts") or [])


def init_output() -> str:
    """What the init scripts printed: our hook's log (host) or the container log (docker)."""
    info = read_pidfile() or {}
    if info.get("mode") == "docker":
        try:
            return subprocess.run(compose_cmd() + ["logs", "--tail", "60"], capture_output=True,
                                  text=True, cwd=str(ROOT), timeout=30).stdout
        except (OSError, subprocess.SubprocessError, HostmodeError) as e:
            return f"(could not read the container log: {e})"
    if init_log_file().exists():
        return tail(init_log_file(), 40)
    return tail(log_file(), 40)


def wait_init(deadline_s: float) -> list[dict]:
    """Wait until the ready.d scripts have run; raise with their output if one failed."""
    deadline = time.monotonic() + deadline_s
    while True:
        completed, scripts = init_state()
        failed = [s for s in scripts if s.get("state") == "ERROR"]
        if failed:
            names = ", ".join(s.get("name", "?") for s in failed)
            output = init_output()
            raise HostmodeError(f"init script failed: {names}. Its output:\n{output}\n"
                                "LocalStack is still running; fix the script, then "
                                "`make down && make up`.")
        if completed and all(s.get("state") == "SUCCESSFUL" for s in scripts):
            return scripts
        if time.monotonic() > deadline:
            states = ", ".join(f"{s.get('name')}={s.get('state')}" for s in scripts) or "none"
            raise HostmodeError(f"init scripts not finished after {deadline_s:.0f}s ({states})")
        time.sleep(0.1)


def tail(path: Path, lines: int = 50) -> str:
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - 64 * 1024))
            data = f.read().decode(errors="replace")
    except OSError:
        return f"(no log at {path})"
    return "\n".join(data.splitlines()[-lines:])


# ----------------------------------------------------------------------------- stopping


def _signal(pids: Iterable[int], sig: int) -> None:
    for pid in pids:
        try:
            os.kill(pid, sig)
        except (ProcessLookupError, PermissionError):
            pass


def _wait_gone(info: dict | None, timeout: float) -> list[Proc]:
    deadline = time.monotonic() + timeout
    while True:
        left = our_processes(info)
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.1)


def backend_ports() -> set[int]:
    ports = set()
    try:
        data = json.loads((run_dir() / "dynamodb-backend.json").read_text())
        ports.add(int(data["port"]))
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return ports


def _wait_leader_gone(leader: Proc, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        p = proc_info(leader.pid)
        if p is None or p.start != leader.start:
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)


def _thread_dump(leader: Proc) -> str:
    """Ask a hung LocalStack for every thread's stack (our plugin registers SIGUSR2 with
    faulthandler) and return what it wrote to its log."""
    path = log_file()
    try:
        offset = path.stat().st_size
    except OSError:
        return "(no log)"
    if _stat_fields(leader.pid)[:1] in (["T"], ["t"]):
        return "(none: the process is stopped, e.g. by SIGSTOP or a debugger)"
    _signal([leader.pid], signal.SIGUSR2)
    deadline = time.monotonic() + 2.0
    dump, previous = "", None
    while time.monotonic() < deadline:
        time.sleep(0.2)
        with path.open("rb") as f:
            f.seek(offset)
            dump = f.read().decode(errors="replace")
        if dump and dump == previous:  # stopped growing
            break
        previous = dump
    return dump.strip() or "(no thread dump)"


def stop_host(info: dict | None) -> int:
    """Stop LocalStack and everything it started; KILL what does not stop.

    SIGTERM goes to LocalStack alone first: its shutdown stops the DynamoDB backend, the Kinesis
    mock and the Lambda workers in order (signalled at the same time, a backend died under a
    still-running LocalStack, which restarted it). What is left after it exited (or everything,
    if it was already dead) gets SIGTERM, then SIGKILL. Returns how many processes were stopped.
    """
    procs = our_processes(info)
    ports = {port()} | backend_ports()
    if procs:
        leader = leader_alive(info)
        what = f"LocalStack pid {leader.pid}" if leader else "orphans of a dead LocalStack"
        log(f"stopping {len(procs)} process(es) ({what})")
        leader_hung = False
        if leader:
            _signal([leader.pid], signal.SIGTERM)
            leader_hung = not _wait_leader_gone(leader, TERM_GRACE_S)
        left = our_processes(info)
        if left and not leader_hung:
            _signal([p.pid for p in left], signal.SIGTERM)
            left = _wait_gone(info, LEFTOVER_GRACE_S if leader else TERM_GRACE_S)
        if left:
            why = (f"LocalStack did not exit within {TERM_GRACE_S:g}s of SIGTERM" if leader_hung
                   else f"{len(left)} process(es) ignored SIGTERM")
            if leader_hung:
                log(f"{why}; its threads were:\n{_thread_dump(leader)}")
            log(f"{why}; sending SIGKILL: " + "; ".join(f"{p.pid} {p.cmdline[:60]}" for p in left))
            for p in left:
                try:
                    os.killpg(p.pgid, signal.SIGKILL) if p.pgid == p.pid else None
                except (ProcessLookupError, PermissionError):
                    pass
            _signal([p.pid for p in left], signal.SIGKILL)
            left = _wait_gone(info, 3.0)
        if left:
            raise HostmodeError("could not stop: " + ", ".join(f"{p.pid} {p.cmdline[:80]}"
                                                              for p in left))
    # verify: nothing of ours listens any more
    deadline = time.monotonic() + 3.0
    while True:
        listening = listening_ports()
        busy = sorted(p for p in ports if p in listening)
        if not busy:
            break
        if time.monotonic() > deadline:
            owners = socket_owners(set().union(*(listening[p] for p in busy)))
            raise HostmodeError(f"port(s) {busy} still listening (pids {sorted(owners) or '?'}; "
                                "not started by this launcher?)")
        time.sleep(0.1)
    pid_file().unlink(missing_ok=True)
    return len(procs)


# ----------------------------------------------------------------------------- commands


def cmd_venv(args: list[str]) -> int:
    if len(args) != 2:
        raise HostmodeError("usage: hostmode.py venv DIR LOCKFILE")
    venv, lock = Path(args[0]), Path(args[1])
    ensure_venv(venv if venv.is_absolute() else ROOT / venv, lock if lock.is_absolute() else
                ROOT / lock)
    return 0


def _describe(info: dict) -> str:
    parts = [f"mode={info.get('mode')}", f"url={info.get('url', url())}"]
    if info.get("pid"):
        parts.append(f"pid={info['pid']}")
    if info.get("started_at"):
        parts.append(f"uptime={fmt_duration(time.time() - float(info['started_at']))}")
    return ", ".join(parts)


def cmd_up(_args: list[str]) -> int:
    t0 = time.monotonic()
    info = read_pidfile()
    # already running?
    if info and info.get("mode") == "docker":
        if health() is not None:
            wait_init(INIT_TIMEOUT_S)
            log(f"LocalStack is already running ({_describe(info)})")
            return 0
    elif leader_alive(info):
        if health(timeout=5.0) is not None:
            wait_init(INIT_TIMEOUT_S)
            log(f"LocalStack is already running ({_describe(info)})")
            return 0
        log(f"LocalStack pid {info['pid']} does not answer {url()}; restarting it")
        stop_host(info)
        info = None
    elif info:
        log("found a stale pid file (LocalStack is not running); cleaning up")
        stop_host(info)
        info = None
    else:
        leftovers = our_processes(None)
        if leftovers:
            log(f"found {len(leftovers)} orphaned process(es) of an earlier run; stopping them")
            stop_host(None)
    if port_listening(port()):
        h = health()
        if h is not None:
            log(f"something already answers {url()}/_localstack/health (not started by "
                "`make up`); using it as is")
            return 0
        raise HostmodeError(f"port {port()} is in use by another program; stop it or set "
                            "LOCALSTACK_PORT")

    mode = choose_mode()
    if mode == "docker":
        run_dir().mkdir(parents=True, exist_ok=True)
        log(f"starting LocalStack in Docker ({COMPOSE_FILE.name})")
        env = dict(os.environ, LOCALSTACK_PORT=str(port()))
        subprocess.run(compose_cmd() + ["up", "-d"], check=True, env=env, cwd=str(ROOT))
        info = {"mode": "docker", "url": url(), "port": port(), "started_at": time.time()}
        pid_file().write_text(json.dumps(info) + "\n")
        wait_ready(None, HEALTH_TIMEOUT_S * 2)
    else:
        installed = ensure_localstack_venv()
        t_start = time.monotonic()
        info = start_host()
        log(f"starting LocalStack (host mode, pid {info['pid']}, log "
            f"{log_file().relative_to(ROOT)})")
        try:
            wait_ready(info, HEALTH_TIMEOUT_S)
        except HostmodeError:
            stop_host(info)
            raise
        if installed:
            t0 = t_start  # report start-up time, not install time
    t_health = time.monotonic()
    scripts = wait_init(INIT_TIMEOUT_S)
    ran = ", ".join(s["name"] for s in scripts) or "no init scripts"
    now = time.monotonic()
    log(f"LocalStack is ready in {now - t0:.1f}s (gateway {t_health - t0:.1f}s + init "
        f"{now - t_health:.1f}s; {_describe(info)}; ran {ran})")
    return 0


def cmd_down(_args: list[str]) -> int:
    info = read_pidfile()
    if info and info.get("mode") == "docker":
        log("stopping LocalStack (docker compose down)")
        subprocess.run(compose_cmd() + ["down"], check=True, cwd=str(ROOT))
        pid_file().unlink(missing_ok=True)
        return 0
    if not info and not our_processes(None):
        if port_listening(port()) and health() is not None:
            log(f"LocalStack on {url()} was not started by `make up` (no pid file); leaving it")
            return 0
        log("LocalStack is not running")
        return 0
    n = stop_host(info)
    log(f"LocalStack stopped ({n} process(es)); port {port()} is free")
    return 0


def cmd_status(_args: list[str]) -> int:
    info = read_pidfile()
    h = health()
    if info and info.get("mode") == "docker":
        running = h is not None
    else:
        running = leader_alive(info) is not None
    if not running:
        if h is not None:
            print(f"LocalStack answers on {url()} but was not started by `make up`")
            info = {"mode": "unknown", "url": url()}
        else:
            print(f"LocalStack is not running (port {port()})")
            return 1
    print(f"LocalStack is running: {_describe(info)}")
    if h is None:
        print("  health: no answer from /_localstack/health")
        return 1
    print(f"  version: {h.get('version', '?')}, edition: {h.get('edition', '?')}")
    services = h.get("services") or {}
    by_state: dict[str, list[str]] = {}
    for name, state in sorted(services.items()):
        by_state.setdefault(str(state), []).append(name)
    for state in ("running", "available"):
        names = by_state.pop(state, [])
        if names:
            print(f"  {state} ({len(names)}): {', '.join(names)}")
    for state, names in sorted(by_state.items()):
        print(f"  {state} ({len(names)}): {', '.join(names)}")
    _, scripts = init_state()
    for s in scripts:
        print(f"  init {s.get('stage')}/{s.get('name')}: {s.get('state')}")
    return 0


def cmd_logs(args: list[str]) -> int:
    follow = "-f" in args or "--follow" in args
    lines = 100
    if "-n" in args:
        try:
            lines = int(args[args.index("-n") + 1])
        except (IndexError, ValueError):
            raise HostmodeError("usage: hostmode.py logs [-f] [-n LINES]") from None
    info = read_pidfile()
    if info and info.get("mode") == "docker":
        return subprocess.call(compose_cmd() + ["logs", "--tail", str(lines)]
                               + (["-f"] if follow else []), cwd=str(ROOT))
    lf = log_file()
    if not lf.exists():
        raise HostmodeError(f"no LocalStack log yet ({lf}); run `make up`")
    print(tail(lf, lines))
    if follow:
        with open(lf, "rb") as f:
            f.seek(0, os.SEEK_END)
            try:
                while True:
                    chunk = f.read()
                    if chunk:
                        sys.stdout.write(chunk.decode(errors="replace"))
                        sys.stdout.flush()
                    else:
                        time.sleep(0.2)
            except KeyboardInterrupt:
                return 0
    return 0


COMMANDS: dict[str, Callable[[list[str]], int]] = {
    "venv": cmd_venv, "up": cmd_up, "down": cmd_down, "status": cmd_status, "logs": cmd_logs,
}


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in COMMANDS:
        print(__doc__, file=sys.stderr)
        return 2
    try:
        if argv[0] in ("up", "down"):
            with FileLock(run_dir() / ".lock"):
                return COMMANDS[argv[0]](argv[1:])
        return COMMANDS[argv[0]](argv[1:])
    except HostmodeError as e:
        log(f"error: {e}")
        return 1
    except subprocess.CalledProcessError as e:
        log(f"error: {' '.join(map(str, e.cmd))} failed with exit code {e.returncode}")
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `hostmode.py logs | head`
        try:
            sys.stdout = open(os.devnull, "w")
        except OSError:
            pass
        return 0


if __name__ == "__main__":
    sys.exit(main())
