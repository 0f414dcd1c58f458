"""Waiting for LocalStack: its health endpoint answers, then its ready.d init scripts have run.

The same in both modes; what differs (is the process still alive, where the init scripts'
output is) comes in from the backend as callables.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable

from . import config
from .console import HostmodeError, tail


def http_get_json(path: str, timeout: float = 2.0, base: str | None = None) -> dict | None:
    """GET base+path; the parsed JSON on 2xx, None if nothing (valid) answers."""
    try:
        with urllib.request.urlopen((base or config.url()) + path, timeout=timeout) as resp:
            if 200 <= resp.status < 300:
                return json.loads(resp.read().decode("utf-8") or "{}")
    except (OSError, ValueError, urllib.error.URLError):
        return None
    return None


def health(timeout: float = 2.0) -> dict | None:
    return http_get_json("/_localstack/health", timeout)


# Until LocalStack listens, a poll is a refused connect on loopback: polling often costs nothing
# and `make up` sees the gateway up within HEALTH_POLL_S.
HEALTH_POLL_S = 0.03


def wait_ready(deadline_s: float, died: Callable[[], str | None] | None = None) -> dict:
    """Poll /_localstack/health until it answers.

    ``died`` fails the wait early: it returns why (a message) once the process is gone.
    """
    deadline = time.monotonic() + deadline_s
    while True:
        h = health(timeout=1.0)
        if h is not None:
            return h
        why = died() if died else None
        if why:
            raise HostmodeError(why)
        if time.monotonic() > deadline:
            raise HostmodeError(f"LocalStack did not answer {config.url()}/_localstack/health "
                                f"within {deadline_s:.0f}s. Last log lines:\n"
                                + tail(config.log_file(), 30))
        time.sleep(HEALTH_POLL_S)


def init_state() -> tuple[bool, list[dict]]:
    data = http_get_json("/_localstack/init/ready", timeout=2.0) or {}
    return bool(data.get("completed")), list(data.get("scripts") or [])


# While the init script runs (``script_exited`` says it has not exited yet), LocalStack is asked
# only this often: each request costs LocalStack's gateway CPU that init needs (~45 requests a
# `make up` at 0.1 s), and the local check sees the end within SCRIPT_POLL_S.
SLOW_POLL_S = 1.0
SCRIPT_POLL_S = 0.02


def wait_init(deadline_s: float, init_output: Callable[[], str],
              script_exited: Callable[[], bool] | None = None) -> list[dict]:
    """Wait until the ready.d scripts have run; raise with their output if one failed.

    ``script_exited`` (the host backend's init wrapper leaves a file): while it returns False,
    LocalStack's /_localstack/init/ready is asked every SLOW_POLL_S only (it still reports a
    failure, or a script that never ran the wrapper); from then on every SCRIPT_POLL_S."""
    deadline = time.monotonic() + deadline_s
    next_ask = 0.0
    while True:
        if script_exited is not None and not script_exited() and time.monotonic() < next_ask:
            if time.monotonic() > deadline:
                raise HostmodeError(f"init scripts not finished after {deadline_s:.0f}s")
            time.sleep(SCRIPT_POLL_S)
            continue
        next_ask = time.monotonic() + SLOW_POLL_S
        completed, scripts = init_state()
        failed = [s for s in scripts if s.get("state") == "ERROR"]
        if failed:
            names = ", ".join(s.get("name", "?") for s in failed)
            raise HostmodeError(f"init script failed: {names}. Its output:\n{init_output()}\n"
                                "LocalStack is still running; fix the script, then "
                                "`make down && make up`.")
        if completed and all(s.get("state") == "SUCCESSFUL" for s in scripts):
            return scripts
        if time.monotonic() > deadline:
            states = ", ".join(f"{s.get('name')}={s.get('state')}" for s in scripts) or "none"
            raise HostmodeError(f"init scripts not finished after {deadline_s:.0f}s ({states})")
        time.sleep(SCRIPT_POLL_S if script_exited is not None else 0.1)
