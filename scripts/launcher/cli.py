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

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlparse

from . import config, docker_backend, host_processes, pidfile, python_env, readiness
from .backend import Backend
from .console import HostmodeError, log
from .docker_backend import DockerBackend
from .host_backend import HostBackend
from .pidfile import PidFile
from .procfs import port_listening

BACKENDS: dict[str, type[Backend]] = {"host": HostBackend, "docker": DockerBackend}


# ----------------------------------------------------------------------------- the backend


def choose_mode() -> str:
    """The mode a new instance starts in: LOCALSTACK_MODE, or docker if an engine answers."""
    mode = (os.environ.get("LOCALSTACK_MODE") or "auto").strip().lower()
    if mode not in ("auto", "docker", "host"):
        raise HostmodeError(f"LOCALSTACK_MODE must be auto, docker or host, got {mode!r}")
    if mode == "docker" and not docker_backend.docker_available():
        raise HostmodeError("LOCALSTACK_MODE=docker but no Docker engine answers `docker info`")
    if mode == "auto":
        mode = "docker" if docker_backend.docker_available() else "host"
    return mode


def recorded_backend(info: PidFile | None) -> Backend:
    """The backend of the instance the pid file records. Without one (or a stale one), host:
    only host mode leaves processes behind that `down` must find without a pid file."""
    return BACKENDS["docker" if info is not None and info.is_docker else "host"]()


# ----------------------------------------------------------------------------- commands


def fmt_duration(seconds: float) -> str:
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m{seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def describe(info: PidFile) -> str:
    parts = [f"mode={info.mode}", f"url={info.url or config.url()}"]
    if info.pid:
        parts.append(f"pid={info.pid}")
    if info.started_at:
        parts.append(f"uptime={fmt_duration(time.time() - float(info.started_at))}")
    return ", ".join(parts)


def cmd_venv(args: list[str]) -> int:
    if len(args) != 2:
        raise HostmodeError("usage: hostmode.py venv DIR LOCKFILE")
    venv, lock = Path(args[0]), Path(args[1])
    python_env.ensure_venv(venv if venv.is_absolute() else config.ROOT / venv,
                           lock if lock.is_absolute() else config.ROOT / lock)
    return 0


def _foreign_localstack() -> bool:
    """True if something `up` did not start answers on the port; raise if something else has it."""
    if not port_listening(config.port()):
        return False
    if readiness.health() is not None:
        log(f"something already answers {config.url()}/_localstack/health (not started by "
            "`make up`); using it as is")
        return True
    raise HostmodeError(f"port {config.port()} is in use by another program; stop it or set "
                        "LOCALSTACK_PORT")


# what `make deploy-local` wrote: the outputs and the endpoint of the stack it deployed
OUTPUTS_FILE = Path(os.environ.get("STACK_OUTPUTS_FILE") or config.ROOT / ".build" / "outputs.json")
STALE_OUTPUTS_FILE = OUTPUTS_FILE.with_name("outputs.stale.json")


def forget_stale_outputs() -> None:
    """LocalStack just started fresh: the stack deployed to this port before is gone. Its
    outputs (a dead ApiUrl) are moved aside and the user is told to redeploy."""
    if os.environ.get("PERSISTENCE", "").lower() in ("1", "true"):
        return
    try:
        data = json.loads(OUTPUTS_FILE.read_text())
        endpoint = urlparse(str(data.get("_endpoint", "")))
        same_port = endpoint.port == config.port()
    except (OSError, ValueError, AttributeError):
        return
    if not same_port or endpoint.hostname not in ("127.0.0.1", "localhost", "::1"):
        return
    OUTPUTS_FILE.replace(STALE_OUTPUTS_FILE)
    log(f"the app stack {data.get('_stack', '')!r} deployed to port {config.port()} is gone "
        "(LocalStack started fresh): run `make deploy-local` (its old outputs are in "
        f"{os.path.relpath(STALE_OUTPUTS_FILE, config.ROOT)})")


def cmd_up(_args: list[str]) -> int:
    t0 = time.monotonic()
    info = pidfile.read()
    recorded = recorded_backend(info)
    if recorded.already_up(info):
        readiness.wait_init(config.INIT_TIMEOUT_S, recorded.init_output,
                            recorded.init_script_exited())
        log(f"LocalStack is already running ({describe(info)})")
        return 0
    if _foreign_localstack():
        return 0
    backend = BACKENDS[choose_mode()]()
    installed = backend.install()
    t_start = time.monotonic()
    info = backend.up()
    if installed:
        t0 = t_start  # report start-up time, not install time
    t_health = time.monotonic()
    scripts = readiness.wait_init(config.INIT_TIMEOUT_S, backend.init_output,
                                  backend.init_script_exited())
    ran = ", ".join(s["name"] for s in scripts) or "no init scripts"
    now = time.monotonic()
    log(f"LocalStack is ready in {now - t0:.1f}s (gateway {t_health - t0:.1f}s + init "
        f"{now - t_health:.1f}s; {describe(info)}; ran {ran})")
    forget_stale_outputs()
    return 0


def cmd_down(_args: list[str]) -> int:
    info = pidfile.read()
    recorded_backend(info).down(info)
    return 0


def _print_services(health: dict) -> None:
    """Services grouped by state: running, available, then the rest."""
    by_state: dict[str, list[str]] = {}
    for name, state in sorted((health.get("services") or {}).items()):
        by_state.setdefault(str(state), []).append(name)
    for state in ("running", "available"):
        names = by_state.pop(state, [])
        if names:
            print(f"  {state} ({len(names)}): {', '.join(names)}")
    for state, names in sorted(by_state.items()):
        print(f"  {state} ({len(names)}): {', '.join(names)}")


def standard_names_line() -> str:
    """Whether LocalStack's standard names resolve here (function URLs need them, or a Host
    header: curl -H 'Host: <url host>' http://127.0.0.1:<port>/)."""
    import socket

    try:
        resolves = socket.gethostbyname(config.contract.STANDARD_HOSTNAME) == "127.0.0.1"
    except OSError:
        resolves = False
    state = "resolve" if resolves else "do NOT resolve: use 127.0.0.1 with a Host header"
    return f"  DNS: *.{config.contract.STANDARD_HOSTNAME} names {state}"


def lambda_sandbox_line() -> str | None:
    """How host mode runs Lambda environments, as the plugin decided (its run-dir file)."""
    try:
        state = json.loads((config.run_dir() / config.contract.LAMBDA_SANDBOX_STATE).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(state, dict):
        return None
    mode = state.get("mode")
    if mode == "bwrap":
        return ("  Lambda environments: sandboxed (bubblewrap: /var/task, private /tmp, "
                "no host files)")
    what = "local processes, not sandboxed" if mode == "process" else "cannot start"
    return f"  Lambda environments: {what} ({state.get('reason', '?')})"


def print_leftovers(info: PidFile | None) -> None:
    """What a dead host-mode LocalStack left running (e.g. after kill -9): processes carrying
    this port's run dir, and the ports they still listen on."""
    if info is not None and info.is_docker:
        return
    procs = host_processes.our_processes(info)
    if not procs:
        return
    ports = host_processes.listening_ports_of(p.pid for p in procs)
    listening = f", listening on port(s) {', '.join(map(str, ports))}" if ports else ""
    print(f"  leftovers of an earlier run: {len(procs)} process(es){listening}")
    for p in procs[:10]:
        print(f"    pid {p.pid}: {p.cmdline[:100]}")
    print("  `make down` stops them (`make up` also does before it starts)")


def cmd_status(_args: list[str]) -> int:
    info = pidfile.read()
    h = readiness.health()
    if not recorded_backend(info).running(info, h):
        if h is None:
            print(f"LocalStack is not running (port {config.port()})")
            print_leftovers(info)
            return 1
        print(f"LocalStack answers on {config.url()} but was not started by `make up`")
        info = PidFile(mode="unknown", url=config.url())
    print(f"LocalStack is running: {describe(info)}")
    if h is None:
        print("  health: no answer from /_localstack/health")
        return 1
    print(f"  version: {h.get('version', '?')}, edition: {h.get('edition', '?')}")
    print(standard_names_line())
    if not info.is_docker and (sandbox_line := lambda_sandbox_line()):
        print(sandbox_line)
    _print_services(h)
    _, scripts = readiness.init_state()
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
    return recorded_backend(pidfile.read()).logs(lines, follow)


COMMANDS: dict[str, Callable[[list[str]], int]] = {
    "venv": cmd_venv, "up": cmd_up, "down": cmd_down, "status": cmd_status, "logs": cmd_logs,
}


def _run(command: str, args: list[str]) -> int:
    if command in ("up", "down"):  # one start or stop per port at a time
        with python_env.FileLock(config.run_dir() / ".lock"):
            return COMMANDS[command](args)
    return COMMANDS[command](args)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in COMMANDS:
        print(__doc__, file=sys.stderr)
        return 2
    try:
        return _run(argv[0], argv[1:])
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
