"""Spare runtime processes: one idle runtime per kind, started ahead of need.

No LocalStack import (part of the process engine, tests/unit/lambda_runtime/).
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from localstack_hostmode.lambda_runtime.process import (
    DEFAULT_LANG,
    SPARE_PATH,
    ChildProcess,
    Frame,
)
from localstack_hostmode.runtime import frames

LOG = logging.getLogger(__name__)

PRELOAD_ENV = "HOSTMODE_LAMBDA_PRELOAD"
# what a spare imports by default, where the function's layers or SDK provide it: the SDK, and
# the libraries Python functions most often import at init (Powertools' handlers, pydantic)
DEFAULT_PRELOAD = (
    "boto3", "pydantic", "aws_lambda_powertools", "aws_lambda_powertools.event_handler",
)
PRELOAD_TIMEOUT_S = 60.0
# kinds of spares kept at once (each interpreter x layers x preload): a preloaded spare is
# ~45 MB, so the least recently used kind beyond this gives its spare up
MAX_KINDS = 3


def preload_from_env(environ: dict[str, str] | None = None) -> tuple[str, ...]:
    """HOSTMODE_LAMBDA_PRELOAD: comma-separated modules; empty: none (plain spares)."""
    raw = (environ if environ is not None else os.environ).get(PRELOAD_ENV)
    if raw is None:
        return DEFAULT_PRELOAD
    return tuple(m.strip() for m in raw.split(",") if m.strip())


@dataclass(frozen=True)
class SpareKind:
    """What a spare is prepared for: its interpreter, and what it preloads from where, with
    which environment (variables whose value is the same for every function that can use it,
    e.g. AWS_EXECUTION_ENV)."""

    interpreter: str
    layers: tuple[str, ...] = ()
    runtime_lib: str | None = None
    modules: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = ()

    def child_config(self) -> dict:
        if not self.modules:
            return {"spare": True}
        return {"spare": True, "preload": {
            "layers": list(self.layers), "runtime_lib": self.runtime_lib,
            "modules": list(self.modules), "env": dict(self.env),
        }}


def preload_fits(report: dict | None, env: dict[str, str], code_dir: str) -> bool:
    """Whether a function (its environment, its code directory) gets from this spare's preload
    exactly what it would have imported itself (runtime/preload.py)."""
    if report is None:
        return True  # nothing preloaded
    if any(env.get(name) != value for name, value in report.get("env", {}).items()):
        return False
    try:
        own = {entry.partition(".")[0] for entry in os.listdir(code_dir)}
    except OSError:
        return False
    return not own.intersection(report.get("modules", ()))


class SparePool:
    """One idle runtime process per kind, started ahead of need.

    A cold start then skips the interpreter's start-up and the stdlib imports every init needs
    (about 25 ms of CPU, far more on a busy machine) and, for a kind with modules, their import
    too (boto3 and Powertools: ~0.2 s): the spare gets the function's environment, directory and
    config in a claim frame, and a new spare is started in the background. Functions whose start
    depends on the process environment itself (an exec wrapper, PYTHON*, locale or
    dynamic-loader variables, native libraries found through LD_LIBRARY_PATH) are always
    started directly.
    """

    def __init__(self, command_for: Callable[[str], list[str]], max_kinds: int = MAX_KINDS):
        self._command_for = command_for  # interpreter -> the runtime's command line
        self._max_kinds = max_kinds
        self._lock = threading.Lock()
        self._spares: OrderedDict[SpareKind, ChildProcess] = OrderedDict()
        self._starting: set[SpareKind] = set()
        self._recent: OrderedDict[SpareKind, None] = OrderedDict()  # kinds, least recent first
        self._held = False  # memory is tight (reclaim.py): no idle spares until it is not

    def take(
        self, kind: SpareKind | str, fits: Callable[[ChildProcess], bool] = lambda spare: True
    ) -> ChildProcess | None:
        """The waiting spare of that kind if `fits` accepts it (else it stays for another)."""
        kind = _kind(kind)
        with self._lock:
            spare = self._spares.pop(kind, None)
            if spare is not None and spare.alive() and not fits(spare):
                self._spares[kind] = spare
                return None
        self.replenish(kind)
        if spare is not None and not spare.alive():
            spare.close()
            spare = None
        return spare

    def replenish(self, kind: SpareKind | str) -> None:
        kind = _kind(kind)
        with self._lock:
            self._recent.pop(kind, None)
            self._recent[kind] = None
            evicted = self._evict_locked()
            start = not self._held and kind not in self._spares and kind not in self._starting
            if start:
                self._starting.add(kind)
        for spare in evicted:
            spare.close()
        if start:
            threading.Thread(
                target=self._start, args=(kind,), name="lambda-spare-runtime", daemon=True
            ).start()

    def _evict_locked(self) -> list[ChildProcess]:
        evicted = []
        while len(self._recent) > self._max_kinds:
            old, _ = self._recent.popitem(last=False)
            if (spare := self._spares.pop(old, None)) is not None:
                evicted.append(spare)
        return evicted

    def ready(self, kind: SpareKind | str) -> bool:
        """Whether a spare of that kind waits now."""
        with self._lock:
            return _kind(kind) in self._spares

    def hold(self, tight: bool) -> None:
        """While memory is tight, stop the idle spares and start no new ones: a spare only
        saves a cold start's imports, a warm environment the whole start, so spares go before
        environments still inside their minimum idle time. The next claim after memory
        is no longer tight starts spares again."""
        with self._lock:
            if tight == self._held:
                return
            self._held = tight
        if tight:
            self.close()

    def close(self) -> None:
        """Stop the idle spares (one being started still joins the pool)."""
        with self._lock:
            spares, self._spares = list(self._spares.values()), OrderedDict()
        for spare in spares:
            spare.close()

    def _start(self, kind: SpareKind) -> None:
        spare = None
        try:
            env = {"PATH": SPARE_PATH, "LANG": DEFAULT_LANG}
            spare = ChildProcess(self._command_for(kind.interpreter), kind.child_config(), env, "/")
            if kind.modules:
                spare.preloaded = _await_preload(spare)
            with self._lock:
                if kind in self._recent and not self._held:
                    self._spares[kind] = spare
                    spare = None
        except Exception as e:
            LOG.debug("Could not start a spare runtime for %s: %s", kind.interpreter, e)
        finally:
            with self._lock:
                self._starting.discard(kind)
            if spare is not None:  # failed, or its kind was evicted meanwhile
                spare.close()


def _kind(kind: SpareKind | str) -> SpareKind:
    return kind if isinstance(kind, SpareKind) else SpareKind(kind)


def _await_preload(spare: ChildProcess) -> dict:
    """The spare's preload report ("P" frame); raises if it died or took too long."""
    end = spare.pump(time.perf_counter() + PRELOAD_TIMEOUT_S)
    if not (isinstance(end, Frame) and end.kind == frames.KIND_PRELOADED):
        raise RuntimeError(f"no preload report ({end})")
    return json.loads(end.body)
