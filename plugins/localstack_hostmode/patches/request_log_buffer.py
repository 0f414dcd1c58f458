"""LocalStack's per-request log lines reach its log in one write every FLUSH_S at most.

Why: LocalStack 4.14.0 logs every request it serves at INFO (``localstack.request.aws``:
``AWS dynamodb.GetItem => 200``, ``localstack.request.http``: ``GET /restapis/... => 200``;
aws/handlers/logging.py) through its default handler, a ``StreamHandler`` on stderr
(logging/setup.py), which in host mode is LocalStack's log file: a write and a flush per line,
under the handler's lock. The write lets go of the GIL while the lock is held, so under
concurrent requests the next thread to log waits for the lock, then for the GIL: perf sched at
32 concurrent GET /users/{id} (two lines each) counted ~3.5 context switches per request in
``Handler.handle``/``StreamHandler.emit``, the largest share left after the hand-offs.

What changes: the root logger's default handler is replaced by a subclass with the same stream,
level, formatter and filters that keeps those request lines (below WARNING) in memory and writes
them from one thread at most FLUSH_S later, in one write. Any other record first writes what is
kept, then itself, at once: the log's order is unchanged, warnings and errors are not delayed.
``logging.shutdown`` (at exit) writes what is kept; a LocalStack killed with SIGKILL loses at most
FLUSH_S of request lines. With LocalStack's debug logging (its request loggers then have
handlers of their own) nothing changes.

Verified on localstack-core 4.14.0; on any other version the registry (registry.py) skips it.
Opt-out: ``HOSTMODE_REQUEST_LOG_BUFFER=0``.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from typing import Any

from .registry import HostPatch

FLUSH_S = 0.1
REQUEST_LOGGERS = "localstack.request."


class RequestLogBuffer(logging.StreamHandler):
    """A StreamHandler that writes request lines in batches (see the module docstring)."""

    def __init__(self, stream: Any) -> None:
        super().__init__(stream)
        self._kept: list[str] = []
        self._due = threading.Event()
        threading.Thread(target=self._run, name="request-log-flush", daemon=True).start()

    def emit(self, record: logging.LogRecord) -> None:  # with self.lock held (Handler.handle)
        if not (record.name.startswith(REQUEST_LOGGERS) and record.levelno < logging.WARNING):
            self._write_kept()
            return super().emit(record)
        try:
            self._kept.append(self.format(record) + self.terminator)
        except Exception:
            self.handleError(record)
            return
        if len(self._kept) == 1:
            self._due.set()  # wakes the flusher once per batch, not per line

    def flush(self) -> None:
        with self.lock:
            self._due.clear()
            self._write_kept()
            super().flush()

    def _write_kept(self) -> None:
        if self._kept:
            data = "".join(self._kept)
            self._kept.clear()
            try:
                self.stream.write(data)
            except Exception:
                pass  # as StreamHandler: a broken log stream must not fail the request

    def _run(self) -> None:
        while True:
            self._due.wait()
            time.sleep(FLUSH_S)
            self.flush()


def replace_default_handler(root: logging.Logger, stream: Any) -> RequestLogBuffer | None:
    """Swap ``root``'s plain StreamHandler on ``stream`` for a RequestLogBuffer, in place."""
    for i, handler in enumerate(root.handlers):
        if type(handler) is logging.StreamHandler and handler.stream is stream:
            buffered = RequestLogBuffer(stream)
            buffered.setLevel(handler.level)
            buffered.setFormatter(handler.formatter)
            for log_filter in handler.filters:
                buffered.addFilter(log_filter)
            root.handlers[i] = buffered
            return buffered
    return None


def apply() -> None:
    replace_default_handler(logging.getLogger(), sys.stderr)


PATCH = HostPatch(
    name="request_log_buffer",
    changes="LocalStack's per-request INFO log lines are written in one batch every "
    f"{FLUSH_S} s at most (other records at once, after them)",
    why="a write per request line under the log handler's lock: lock and GIL waits under "
    "concurrent requests",
    verified_on=("4.14.0",),
    opt_out="HOSTMODE_REQUEST_LOG_BUFFER",
    apply=apply,
)
