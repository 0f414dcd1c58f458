"""Spare runtime processes: one idle runtime per interpreter, started ahead of need.

No LocalStack import (part of the process engine, tests/unit/lambda_runtime/).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from localstack_hostmode.lambda_runtime.process import DEFAULT_LANG, SPARE_PATH, ChildProcess

LOG = logging.getLogger(__name__)


class SparePool:
    """One idle runtime process per interpreter, started ahead of need.

    A cold start then skips the interpreter's start-up and the stdlib imports every init needs
    (about 25 ms of CPU, far more on a busy machine): the spare gets the function's environment,
    directory and config in a claim frame, and a new spare is started in the background.
    Functions whose start depends on the process environment itself (an exec wrapper, PYTHON*,
    locale or dynamic-loader variables, native libraries found through LD_LIBRARY_PATH) are
    always started directly.
    """

    def __init__(self, command_for: Callable[[str], list[str]]) -> None:
        self._command_for = command_for  # interpreter -> the runtime's command line
        self._lock = threading.Lock()
        self._spares: dict[str, ChildProcess] = {}
        self._starting: set[str] = set()

    def take(self, interpreter: str) -> ChildProcess | None:
        with self._lock:
            spare = self._spares.pop(interpreter, None)
        self.replenish(interpreter)
        if spare is not None and not spare.alive():
            spare.close()
            spare = None
        return spare

    def replenish(self, interpreter: str) -> None:
        with self._lock:
            if interpreter in self._spares or interpreter in self._starting:
                return
            self._starting.add(interpreter)
        threading.Thread(
            target=self._start, args=(interpreter,), name="lambda-spare-runtime", daemon=True
        ).start()

    def ready(self, interpreter: str) -> bool:
        """Whether a spare of that interpreter waits now."""
        with self._lock:
            return interpreter in self._spares

    def close(self) -> None:
        """Stop the idle spares (one being started still joins the pool)."""
        with self._lock:
            spares, self._spares = list(self._spares.values()), {}
        for spare in spares:
            spare.close()

    def _start(self, interpreter: str) -> None:
        try:
            env = {"PATH": SPARE_PATH, "LANG": DEFAULT_LANG}
            spare = ChildProcess(self._command_for(interpreter), {"spare": True}, env, "/")
            with self._lock:
                self._spares[interpreter] = spare
        except Exception as e:
            LOG.debug("Could not start a spare runtime for %s: %s", interpreter, e)
        finally:
            with self._lock:
                self._starting.discard(interpreter)
