"""The DynamoDB backend: moto's server, in LocalStack's own process (default) or as a process.

In-process (``HOSTMODE_DYNAMODB_BACKEND=thread``, the default): moto's WSGI app (the one
``moto.server`` serves) on a loopback port, served by a thread of LocalStack. LocalStack already
has moto's core loaded for its moto-backed services, so this adds ~30 MB where a separate
``python -m moto.server`` cost ~80 MB RSS and ~0.5 s of CPU on the first DynamoDB request.
Requests keep going over HTTP through the same provider, so both modes behave the same: every
request is in moto's account 000000000000 (the ``x-moto-account-id`` header, where the process
mode sets ``MOTO_ACCOUNT_ID``), and a stop empties moto's DynamoDB backend as ending the process
did. It dies with LocalStack, so nothing can be orphaned.

As a process (``HOSTMODE_DYNAMODB_BACKEND=process``): ``python -m moto.server`` from LocalStack's
own virtualenv, spawned by a long-lived thread (PR_SET_PDEATHSIG fires when the spawning *thread*
exits), in LocalStack's own process group (so ``hostmode.py down`` reaches it with one killpg),
with PR_SET_PDEATHSIG so it also dies if LocalStack is SIGKILLed, and terminated by the
provider's shutdown hooks. Its output goes to ``contract.DYNAMODB_BACKEND_LOG``.

Either way its pid (LocalStack's own in-process) and port are in the run directory
(``contract.DYNAMODB_BACKEND_STATE``).
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

from localstack.runtime import events
from localstack.services.dynamodb.server import DynamodbServer
from localstack.utils.net import get_free_tcp_port
from localstack.utils.threads import TMP_THREADS, FuncThread

from localstack_hostmode import contract

LOG = logging.getLogger(__name__)

_PR_SET_PDEATHSIG = 1
# moto's server answers in well under a second here; a crash loop must not spin.
_MAX_RESTARTS = 5
_START_TIMEOUT_S = 30.0
# moto's account for every request (LocalStack's DEFAULT_AWS_ACCOUNT_ID)
MOTO_ACCOUNT_ID = "000000000000"


def in_process() -> bool:
    return os.environ.get("HOSTMODE_DYNAMODB_BACKEND", "thread") != "process"


class _InProcessMoto:
    """moto's server app on host:port, served by a daemon thread of this process."""

    def __init__(self, host: str, port: int) -> None:
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
        from werkzeug.serving import make_server

        moto_app = DomainDispatcherApplication(create_backend_app)

        def app(environ, start_response):  # what MOTO_ACCOUNT_ID does for the process
            environ["HTTP_X_MOTO_ACCOUNT_ID"] = MOTO_ACCOUNT_ID
            return moto_app(environ, start_response)

        self.app = app  # what the provider calls in memory (dynamodb_forward.BackendClient)
        self.pid = os.getpid()
        self._server = make_server(host, port, app, threaded=True)
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        name="dynamodb-moto", daemon=True)
        self._thread.start()

    def alive(self) -> bool:
        return self._thread.is_alive()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)
        from moto.dynamodb.models import dynamodb_backends

        # as a new process would start: no tables (only DynamoDB's, not moto's other services)
        for account_backend in list(dynamodb_backends.values()):
            account_backend.reset()
        dynamodb_backends.clear()


def _die_with_parent() -> None:  # runs in the child between fork and exec
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    except Exception:  # not Linux: the process group and shutdown hooks still apply
        pass


class MotoDynamodbServer(DynamodbServer):
    """A ``DynamodbServer`` whose backend is ``moto.server`` instead of DynamoDB Local."""

    def __init__(self, port: int | None = None, host: str = "127.0.0.1") -> None:
        super().__init__(port=port or get_free_tcp_port(), host=host)
        # moto is in-memory; no DynamoDB Local db path
        self.db_path = None
        self._process: subprocess.Popen | None = None
        self._in_process: _InProcessMoto | None = None
        self._process_ready = threading.Event()
        self._stopping = threading.Event()

    @staticmethod
    def get() -> MotoDynamodbServer:
        global _SERVER
        with _SERVER_LOCK:
            if _SERVER is None:
                _SERVER = MotoDynamodbServer()
            return _SERVER

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def wsgi_app(self):
        """moto's WSGI app while it is served in this process, else None (over HTTP)."""
        in_process = self._in_process
        return in_process.app if in_process is not None else None

    def _command(self) -> list[str]:
        return [sys.executable, "-m", "moto.server", "-H", self.host, "-p", str(self.port)]

    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            {
                # what LocalStack's DEFAULT_AWS_ACCOUNT_ID is; unknown access keys map to it
                "MOTO_ACCOUNT_ID": "000000000000",
                "PYTHONUNBUFFERED": "1",
            }
        )
        # our gateway's own settings mean nothing to moto's flask app
        for key in ("GATEWAY_LISTEN", "GATEWAY_SERVER"):
            env.pop(key, None)
        return env

    def _write_state(self, pid: int) -> None:
        run_dir = contract.run_dir()
        if not run_dir:
            return
        try:
            with open(os.path.join(run_dir, contract.DYNAMODB_BACKEND_STATE), "w") as f:
                json.dump({"pid": pid, "port": self.port, "url": self.url}, f)
        except OSError as e:
            LOG.debug("could not record the DynamoDB backend: %s", e)

    def _run(self, *_args) -> None:
        restarts = 0
        while not self._stopping.is_set():
            LOG.debug("Starting DynamoDB backend (moto): %s", self._command())
            log_file = None
            log_path = None
            run_dir = contract.run_dir()
            if run_dir:
                log_path = os.path.join(run_dir, contract.DYNAMODB_BACKEND_LOG)
                log_file = open(log_path, "ab")
            self._process = subprocess.Popen(
                self._command(),
                env=self._env(),
                stdin=subprocess.DEVNULL,
                stdout=log_file or subprocess.DEVNULL,
                stderr=subprocess.STDOUT,
                preexec_fn=_die_with_parent,
                close_fds=True,
            )
            if log_file:
                log_file.close()
            self._write_state(self._process.pid)
            self._process_ready.set()
            code = self._process.wait()
            if self._stopping.is_set() or events.infra_stopping.is_set():
                break  # LocalStack is shutting down: a signal to its group is no crash
            restarts += 1
            LOG.warning("DynamoDB backend (moto) exited with %s (restart %s)", code, restarts)
            if restarts > _MAX_RESTARTS:
                LOG.error("DynamoDB backend keeps failing; see %s", log_path or "the log")
                break
            time.sleep(min(0.2 * restarts, 2.0))

    def do_start_thread(self) -> FuncThread:
        if in_process():
            return self._start_in_process()
        self._stopping.clear()
        self._process_ready.clear()
        thread = FuncThread(self._run, name="dynamodb-moto", on_stop=lambda _t: self._terminate())
        TMP_THREADS.append(thread)
        thread.start()
        self._process_ready.wait(_START_TIMEOUT_S)
        # DynamodbServer.stop_dynamodb reads ``self._thread.process.pid`` as a last resort
        thread.process = self._process
        return thread

    def _start_in_process(self) -> FuncThread:
        self._stopping.clear()
        LOG.debug("Starting DynamoDB backend (moto, in-process) on %s", self.url)
        self._in_process = _InProcessMoto(self.host, self.port)
        self._write_state(self._in_process.pid)
        # a FuncThread for the Server API (stop -> _terminate); it waits until we are stopped
        thread = FuncThread(lambda *_: self._stopping.wait(), name="dynamodb-moto-holder",
                            on_stop=lambda _t: self._terminate())
        TMP_THREADS.append(thread)
        thread.start()
        return thread

    def _terminate(self) -> None:
        self._stopping.set()
        server, self._in_process = self._in_process, None
        if server is not None:
            server.stop()
            return
        proc = self._process
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)

    def do_shutdown(self) -> None:
        self._terminate()

    def health(self):
        if self._in_process is not None:
            return self._in_process.alive() and super().health()
        proc = self._process
        if proc is None or proc.poll() is not None:
            return False
        return super().health()


_SERVER: MotoDynamodbServer | None = None
_SERVER_LOCK = threading.Lock()


# moto is not safe under concurrent writes: TransactWriteItems deep-copies each table it touches
# and, when cancelled, puts that copy back, wiping what other requests wrote meanwhile
# (acknowledged PutItems vanished, concurrent decrements were lost, and copying a table while it
# was written answered 500, as did a Scan of a table that grew under it). Its items are also
# applied one by one, so a concurrent read could see a write of a transaction that was then
# cancelled. So whatever reaches moto takes a readers-writer lock: the read-only operations below
# share it, every other one (item writes, PartiQL, table and backup operations, and operations
# this list does not know) has moto to itself.
_READ_OPERATIONS = frozenset({
    "GetItem", "BatchGetItem", "Query", "Scan", "TransactGetItems",
    "DescribeTable", "ListTables", "DescribeTimeToLive", "ListTagsOfResource",
    "DescribeContinuousBackups", "DescribeContributorInsights", "ListContributorInsights",
    "DescribeKinesisStreamingDestination", "DescribeGlobalTable", "DescribeGlobalTableSettings",
    "ListGlobalTables", "DescribeTableReplicaAutoScaling", "DescribeLimits", "DescribeEndpoints",
    "DescribeBackup", "ListBackups", "DescribeExport", "ListExports", "DescribeImport",
    "ListImports", "GetResourcePolicy",
})


class ReadWriteLock:
    """Many readers or one writer. Waiting writers go first, so reads cannot starve a write.

    Not re-entrant: it is only held around the HTTP call to moto, which never calls back.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._readers = 0
        self._writer = False
        self._writers_waiting = 0

    @contextlib.contextmanager
    def reading(self) -> Iterator[None]:
        with self._cond:
            while self._writer or self._writers_waiting:
                self._cond.wait()
            self._readers += 1
        try:
            yield
        finally:
            with self._cond:
                self._readers -= 1
                if not self._readers:
                    self._cond.notify_all()

    @contextlib.contextmanager
    def writing(self) -> Iterator[None]:
        with self._cond:
            self._writers_waiting += 1
            try:
                while self._writer or self._readers:
                    self._cond.wait()
            finally:
                self._writers_waiting -= 1
            self._writer = True
        try:
            yield
        finally:
            with self._cond:
                self._writer = False
                self._cond.notify_all()

    def hold(self, operation: str) -> contextlib.AbstractContextManager[None]:
        return self.reading() if operation in _READ_OPERATIONS else self.writing()
