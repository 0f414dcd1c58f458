"""LocalStack runtime executor that runs Python Lambda functions as local processes (host mode).

One executor = one execution environment = at most one live child process running
`runtime/bootstrap.py` under the interpreter matching the function's runtime. LocalStack creates
one executor per concurrent environment, reuses warm ones and stops idle ones (keepalive).
Cold starts claim a pre-started spare process of that interpreter when the function allows it
(SparePool), so the interpreter's own start-up is off the critical path.

Configuration (LocalStack's environment): LAMBDA_RUNTIME_EXECUTOR=local-process selects it;
HOSTMODE_LAMBDA_RUNTIME_LIB is the runtime-bundled SDK directory (last on the handler's sys.path);
HOSTMODE_PYTHON_3_12 / _3_13 / ... pin interpreters (else PATH, then pyenv's versions). The
handler reaches LocalStack at 127.0.0.1:<gateway port> (AWS_ENDPOINT_URL), from GATEWAY_LISTEN.

No HTTP between LocalStack and the child: `invoke()` writes a frame on a pipe and returns the
`InvocationResult` itself. The child's stdout and stderr share one pipe (fd level, so C extensions
and subprocesses are captured too); everything written before the result frame is in that pipe
when the result arrives, which keeps the logs of an invocation complete and in order.

Faults follow AWS: the executor enforces the timeout (Sandbox.Timedout) and the memory size
(the process is killed above MemorySize: Runtime.OutOfMemory), reports a dead process as
Runtime.ExitError, a too large response as Function.ResponseSizeTooLarge, and the process is
replaced on the next invoke after any of them, or after an init failure, or after a hot-reload
change. HOSTMODE_LAMBDA_MEMORY_LIMIT=0 turns the memory limit off.
"""

from __future__ import annotations

import atexit
import base64
import binascii
import errno
import fcntl
import json
import logging
import math
import os
import select
import signal
import subprocess
import sys
import threading
import time
import weakref
from datetime import UTC, datetime
from pathlib import Path

from localstack import config
from localstack.aws.api.lambda_ import InvocationType, PackageType, RequestTooLargeException
from localstack.services.lambda_.invocation.lambda_models import (
    FunctionVersion,
    InvocationResult,
)
from localstack.services.lambda_.invocation.runtime_executor import (
    LambdaRuntimeException,
    RuntimeExecutor,
)

from localstack_hostmode.executor_interpreters import find_interpreter
from localstack_hostmode.executor_logs import LogSettings
from localstack_hostmode.executor_reload import watcher_for
from localstack_hostmode.executor_util import (
    exit_reason,
    host_path,
    needs_direct_start,
    platform_error,
    resident_kib,
)
from localstack_hostmode.runtime import bootstrap as protocol

LOG = logging.getLogger(__name__)

RUNTIME_DIR = str(Path(protocol.__file__).resolve().parent)
ENTRYPOINT = os.path.join(RUNTIME_DIR, "entrypoint.py")
RUNTIME_LIB_ENV = "HOSTMODE_LAMBDA_RUNTIME_LIB"
# Where `make up` installs the runtime-bundled SDK; used when the launcher did not pass it.
DEFAULT_RUNTIME_LIB = (
    Path(__file__).resolve().parents[2] / ".localstack" / "lambda-runtime" / "python"
)

# AWS: Invoke request payloads up to 6 MB (the API answers 413 above), responses up to
# 6 MB + 100 bytes (LocalStack's LAMBDA_LIMITS_MAX_FUNCTION_PAYLOAD_SIZE_BYTES, default 6291556).
REQUEST_LIMIT_SLACK = 100
# Variables LocalStack hands to its Docker init binary, not part of AWS's environment.
INTERNAL_ENV_PREFIXES = ("LOCALSTACK_",)
INTERNAL_ENV_VARS = frozenset({"EDGE_PORT", "AWS_LAMBDA_FUNCTION_TIMEOUT"})
LOG_TAIL_BYTES = 64 * 1024
MAX_LOG_BYTES_PER_INVOKE = 16 * 1024 * 1024
READ_CHUNK = 1 << 20
PIPE_SIZE = 1 << 20
F_SETPIPE_SZ = 1031

DEFAULT_LANG = "en_US.UTF-8"
SPARE_PATH = "/usr/local/bin:/usr/bin:/bin"

# AWS kills a sandbox whose memory use exceeds MemorySize. Here the runtime process's RSS is
# sampled this often while it runs init or an invocation (a handler's own subprocesses are
# not counted), so a spike shorter than this can slip through.
MEMORY_CHECK_S = 0.05
ENFORCE_MEMORY = os.environ.get("HOSTMODE_LAMBDA_MEMORY_LIMIT", "1") != "0"

# Frame kinds the executor records itself for an init that produced no runtime error
INIT_TIMED_OUT = b"T"
INIT_EXITED = b"X"

_live_children: weakref.WeakSet[ChildProcess] = weakref.WeakSet()
_live_lock = threading.Lock()
_shutting_down = threading.Event()


def gateway_host() -> str:
    """Address at which the child reaches LocalStack's gateway."""
    host = config.GATEWAY_LISTEN[0].host.strip("[]")
    if host in ("", "0.0.0.0", "::"):
        return "127.0.0.1"
    return f"[{host}]" if ":" in host else host


def runtime_lib_path() -> str | None:
    path = os.environ.get(RUNTIME_LIB_ENV) or (
        str(DEFAULT_RUNTIME_LIB) if DEFAULT_RUNTIME_LIB.is_dir() else None
    )
    if not path:
        LOG.warning(
            "%s is not set: Lambda handlers will not find the runtime-bundled boto3",
            RUNTIME_LIB_ENV,
        )
    return path


def runtime_command(interpreter: str) -> list[str]:
    """-s -S: no user or system site-packages (the bootstrap sets sys.path explicitly). No -E:
    the child's environment is built from scratch, so PYTHON* variables can only be the
    function's own, which AWS's runtime honours too (e.g. PYTHONPATH). -u: AWS's runtime
    writes stdout unbuffered."""
    return [interpreter, "-u", "-s", "-S", ENTRYPOINT]


def _kill_all_children() -> None:
    with _live_lock:
        children = list(_live_children)
    for child in children:
        child.kill()


def stop_all_workers() -> None:
    """LocalStack is shutting down: its gateway takes no new requests, so an invocation whose
    handler calls back into it could only hang (and hold up the shutdown) until the SDK times
    out. Every runtime process is killed now, and no new one starts."""
    _shutting_down.set()
    _kill_all_children()


atexit.register(_kill_all_children)


class Frame:
    __slots__ = ("kind", "body")

    def __init__(self, kind: bytes, body: bytes):
        self.kind = kind
        self.body = body


class ChildProcess:
    """One spawned runtime process and its three pipes.

    Started as ``<command> <request fd> <response fd> <config JSON>``, where the command is the
    interpreter and entrypoint (behind AWS_LAMBDA_EXEC_WRAPPER, if set).
    """

    def __init__(self, command: list[str], child_config: dict, env: dict[str, str], cwd: str):
        self.popen: subprocess.Popen | None = None
        self.init_error: Frame | None = None  # init failed: error frame to answer the next invoke
        self.init_duration_ms: float | None = None
        self.init_logs = b""
        self.max_rss_kib = 0
        self.memory_limit_kib: int | None = None  # set per function; None: not enforced
        self.out_of_memory = False
        self.dead = False
        self.returncode: int | None = None
        self.tail = bytearray()
        self._rbuf = bytearray()
        self._logs = bytearray()
        self._out = memoryview(b"")
        self._resp_eof = False
        self._log_eof = False
        self._killed = threading.Event()
        self._io_lock = threading.Lock()
        self.invoked = False
        self._spawn(command, child_config, env, cwd)

    # -- lifecycle ---------------------------------------------------------------------------

    def _spawn(self, command: list[str], child_config: dict, env: dict[str, str], cwd: str) -> None:
        if _shutting_down.is_set():
            raise RuntimeError("LocalStack is shutting down: no new Lambda runtime starts")
        # os.pipe() fds are close-on-exec: no other runtime process inherits them
        req_r, self.req_w = os.pipe()
        self.resp_r, resp_w = os.pipe()
        self.log_r, log_w = os.pipe()
        for fd in (self.req_w, self.resp_r):
            try:
                fcntl.fcntl(fd, F_SETPIPE_SZ, PIPE_SIZE)
            except OSError:
                pass  # larger pipes only save syscalls
        argv = [*command, str(req_r), str(resp_w), json.dumps(child_config)]
        self.started = time.perf_counter()
        try:
            self.popen = subprocess.Popen(
                argv,
                env=env,
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                stdout=log_w,
                stderr=log_w,
                pass_fds=(req_r, resp_w),
                start_new_session=True,  # own process group: stop() kills handler subprocesses too
            )
        except BaseException:
            for fd in (req_r, resp_w, log_w, self.req_w, self.resp_r, self.log_r):
                os.close(fd)
            raise
        finally:
            if self.popen is not None:
                for fd in (req_r, resp_w, log_w):
                    os.close(fd)
        for fd in (self.req_w, self.resp_r, self.log_r):
            os.set_blocking(fd, False)
        with _live_lock:
            _live_children.add(self)

    def claim(self, env: dict[str, str], cwd: str, child_config: dict) -> None:
        """Hand a spare process its function; the init starts now (see _wait_ready)."""
        body = json.dumps({"env": env, "cwd": cwd, "config": child_config}).encode()
        self.started = time.perf_counter()
        self.send(b"".join((protocol.KIND_CLAIM, len(body).to_bytes(4, "big"), body)))

    def alive(self) -> bool:
        return not self.dead and self.popen is not None and self.popen.poll() is None

    @property
    def pid(self) -> int | None:
        return self.popen.pid if self.popen else None

    def kill(self) -> None:
        """SIGKILL the whole process group, reap the child, close our pipe ends."""
        if self._killed.is_set() or self.popen is None:
            return
        self._killed.set()
        try:
            os.killpg(self.popen.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            self.returncode = self.popen.wait(timeout=5)
        except subprocess.TimeoutExpired:
            LOG.warning("Lambda runtime process %s did not exit after SIGKILL", self.popen.pid)
        self.dead = True

    def close(self) -> None:
        """Kill, then close our pipe ends once no thread is reading them (an invoke or the
        init wait returns promptly: the kill ends the child's side of the pipes)."""
        self.kill()
        if self._io_lock.acquire(timeout=10):
            try:
                for name in ("req_w", "resp_r", "log_r"):
                    fd = getattr(self, name, -1)
                    if fd >= 0:
                        try:
                            os.close(fd)
                        except OSError:
                            pass
                        setattr(self, name, -1)
            finally:
                self._io_lock.release()
        with _live_lock:
            _live_children.discard(self)

    def reap(self) -> int | None:
        """After EOF on the response pipe: the exit status (the process is gone or going)."""
        if self.popen is None:
            return None
        try:
            self.returncode = self.popen.wait(timeout=2)
        except subprocess.TimeoutExpired:
            # closed its pipe but lingers (e.g. a handler closing fds): treat as dead
            self.kill()
        self.dead = True
        return self.returncode

    # -- I/O ---------------------------------------------------------------------------------

    def take_logs(self) -> bytes:
        with self._io_lock:
            self._drain_logs()
            logs = bytes(self._logs)
            self._logs.clear()
        return logs

    def _add_logs(self, data: bytes) -> None:
        if len(self._logs) < MAX_LOG_BYTES_PER_INVOKE:
            self._logs += data
        self.tail += data
        if len(self.tail) > LOG_TAIL_BYTES:
            del self.tail[: len(self.tail) - LOG_TAIL_BYTES]

    def _drain_logs(self) -> None:
        """Read what is in the log pipe now (everything the child wrote before its last frame)."""
        while not self._log_eof and self.log_r >= 0:
            try:
                data = os.read(self.log_r, READ_CHUNK)
            except BlockingIOError:
                return
            except OSError:
                self._log_eof = True
                return
            if not data:
                self._log_eof = True
                return
            self._add_logs(data)

    def _next_frame(self) -> Frame | None:
        buf = self._rbuf
        if len(buf) < protocol.FRAME_HEADER_SIZE:
            return None
        length = int.from_bytes(buf[1:5], "big")
        end = protocol.FRAME_HEADER_SIZE + length
        if len(buf) < end:
            return None
        frame = Frame(bytes(buf[0:1]), bytes(buf[protocol.FRAME_HEADER_SIZE : end]))
        del buf[:end]
        return frame

    def send(self, data: bytes) -> None:
        self._out = memoryview(data)

    def pump(self, deadline: float | None) -> Frame | str:
        """Write pending request bytes and collect logs until the child sends a frame.

        Returns the frame, "eof" when the child closed its response pipe (it died), or
        "timeout" when `deadline` (perf_counter seconds) passed.
        """
        with self._io_lock:
            return self._pump(deadline)

    def _pump(self, deadline: float | None) -> Frame | str:
        if self.resp_r < 0:
            return "eof"
        poller = select.poll()
        poller.register(self.resp_r, select.POLLIN)
        if not self._log_eof:
            poller.register(self.log_r, select.POLLIN)
        writing = bool(self._out)
        if writing:
            poller.register(self.req_w, select.POLLOUT)
        limit_kib = self.enforced_limit_kib
        next_memory_check = time.perf_counter() + MEMORY_CHECK_S
        while True:
            frame = self._next_frame()
            if frame is not None:
                self._drain_logs()
                return frame
            if self._resp_eof:
                self._drain_logs()
                return "eof"
            now = time.perf_counter()
            if limit_kib and now >= next_memory_check:
                next_memory_check = now + MEMORY_CHECK_S
                if self._kill_if_over(resident_kib(self.pid) if self.pid else None):
                    self._drain_logs()
                    return "eof"
            if deadline is None:
                remaining = None
            else:
                remaining = deadline - now
                if remaining <= 0:
                    self._drain_logs()
                    return "timeout"
            if limit_kib:
                until_check = max(0.0, next_memory_check - now)
                remaining = until_check if remaining is None else min(remaining, until_check)
            timeout_ms = None if remaining is None else max(1, math.ceil(remaining * 1000))
            for fd, _events in poller.poll(timeout_ms):
                if fd == self.resp_r:
                    try:
                        data = os.read(fd, READ_CHUNK)
                    except BlockingIOError:
                        continue
                    if data:
                        self._rbuf += data
                    else:
                        self._resp_eof = True
                elif fd == self.log_r:
                    try:
                        data = os.read(fd, READ_CHUNK)
                    except BlockingIOError:
                        continue
                    if data:
                        self._add_logs(data)
                    else:
                        self._log_eof = True
                        poller.unregister(fd)
                elif fd == self.req_w and writing:
                    try:
                        written = os.write(fd, self._out)
                        self._out = self._out[written:]
                    except BlockingIOError:
                        continue
                    except OSError as e:  # EPIPE: the child is gone, the EOF will tell
                        if e.errno != errno.EPIPE:
                            raise
                        self._out = memoryview(b"")
                    if not self._out:
                        writing = False
                        poller.unregister(fd)

    @property
    def enforced_limit_kib(self) -> int | None:
        return self.memory_limit_kib if ENFORCE_MEMORY else None

    def over_memory_peak(self) -> bool:
        """After a result: kill the process if its reported peak RSS exceeded the limit."""
        return self._kill_if_over(self.max_rss_kib)

    def _kill_if_over(self, rss_kib: int | None) -> bool:
        """Kill the process if `rss_kib` is above the limit (AWS: Runtime.OutOfMemory)."""
        limit_kib = self.enforced_limit_kib
        if not limit_kib or rss_kib is None or rss_kib <= limit_kib:
            return False
        self.max_rss_kib = max(self.max_rss_kib, rss_kib)
        self.out_of_memory = True
        self.kill()
        return True


class SparePool:
    """One idle runtime process per interpreter, started ahead of need.

    A cold start then skips the interpreter's start-up and the stdlib imports every init needs
    (about 25 ms of CPU, far more on a busy machine): the spare gets the function's environment,
    directory and config in a claim frame, and a new spare is started in the background.
    Functions whose start depends on the process environment itself (an exec wrapper, PYTHON*,
    locale or dynamic-loader variables, native libraries found through LD_LIBRARY_PATH) are
    always started directly.
    """

    def __init__(self) -> None:
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

    def _start(self, interpreter: str) -> None:
        try:
            env = {"PATH": SPARE_PATH, "LANG": DEFAULT_LANG}
            spare = ChildProcess(runtime_command(interpreter), {"spare": True}, env, "/")
            with self._lock:
                self._spares[interpreter] = spare
        except Exception as e:
            LOG.debug("Could not start a spare runtime for %s: %s", interpreter, e)
        finally:
            with self._lock:
                self._starting.discard(interpreter)


SPARES = SparePool()


class LocalProcessRuntimeExecutor(RuntimeExecutor):
    """RuntimeExecutor plugin `local-process` (LAMBDA_RUNTIME_EXECUTOR=local-process)."""

    def __init__(self, id: str, function_version: FunctionVersion) -> None:
        super().__init__(id=id, function_version=function_version)
        self._lock = threading.Lock()
        self._child: ChildProcess | None = None
        self._stopped = False
        self._command: list[str] = []
        self._env: dict[str, str] = {}
        self._cwd = ""
        self._watchers: list = []
        self._wrapper: str | None = None
        self._interpreter = ""
        self._child_config: dict = {}
        self._layer_dirs: list[str] = []
        self._own_env: dict = {}
        self._generations: list[int] = []
        self._tail = b""
        self._log_settings = LogSettings()

    # -- addresses ---------------------------------------------------------------------------

    def get_address(self) -> str:
        return "127.0.0.1"

    def get_endpoint_from_executor(self) -> str:
        return gateway_host()

    def get_runtime_endpoint(self) -> str:
        # Only handed to LocalStack's Docker init binary; our child talks over pipes.
        return (
            f"http://{gateway_host()}:{config.GATEWAY_LISTEN[0].port}/_localstack_lambda/{self.id}"
        )

    # -- preparation -------------------------------------------------------------------------

    @classmethod
    def prepare_version(cls, function_version: FunctionVersion) -> None:
        """Fail fast (State=Failed, StateReason) when the function cannot run on this host."""
        fv_config = function_version.config
        if fv_config.package_type != PackageType.Zip:
            raise LambdaRuntimeException(
                "Container image functions are not supported by the host-mode local-process "
                "executor (no Docker): deploy a Zip package with a Python runtime"
            )
        SPARES.replenish(find_interpreter(fv_config.runtime))
        if fv_config.code:
            fv_config.code.prepare_for_execution()
            if fv_config.code.is_hot_reloading():
                path = fv_config.code.get_unzipped_code_location()
                if not path.is_dir():
                    raise LambdaRuntimeException(f"Hot-reload code folder {path} does not exist")
                watcher_for(str(path))
        for layer in fv_config.layers or []:
            if layer.code:
                layer.code.prepare_for_execution()

    @classmethod
    def cleanup_version(cls, function_version: FunctionVersion) -> None:
        pass

    # -- lifecycle ---------------------------------------------------------------------------

    def _build_launch(self, env_vars: dict[str, str]) -> None:
        """What every (re)start of this environment's runtime needs: the command, the
        handler's environment (AWS's variables and the function's own, nothing internal),
        the code directory and the child's config."""
        fv_config = self.function_version.config
        runtime = str(fv_config.runtime)
        interpreter = find_interpreter(runtime)
        code_dir = str(fv_config.code.get_unzipped_code_location())
        layer_dirs = [
            str(layer.code.get_unzipped_code_location())
            for layer in fv_config.layers or []
            if layer.code
        ]
        hot_roots = [
            str(c.get_unzipped_code_location())
            for c in [fv_config.code, *(layer.code for layer in fv_config.layers or [])]
            if c and c.is_hot_reloading()
        ]
        self._watchers = [watcher_for(root) for root in hot_roots]

        own_env = fv_config.environment or {}
        env = {
            "PATH": os.pathsep.join(
                [os.path.dirname(interpreter), "/usr/local/bin", "/usr/bin", "/bin"]
                + [os.path.join(layer, "bin") for layer in layer_dirs]
            ),
            "LANG": DEFAULT_LANG,
            "LD_LIBRARY_PATH": os.pathsep.join(
                [code_dir, os.path.join(code_dir, "lib")]
                + [os.path.join(layer, "lib") for layer in layer_dirs]
            ),
        }
        for key, value in env_vars.items():
            if key in own_env or not (
                key.startswith(INTERNAL_ENV_PREFIXES) or key in INTERNAL_ENV_VARS
            ):
                env[key] = str(value)
        # Reserved by AWS: the function's environment cannot change these.
        env.update(
            {
                "AWS_EXECUTION_ENV": f"AWS_Lambda_{runtime}",
                "LAMBDA_TASK_ROOT": code_dir,
                "LAMBDA_RUNTIME_DIR": RUNTIME_DIR,
                "PWD": code_dir,
            }
        )
        self._log_settings = LogSettings.of(fv_config.logging_config)
        env.update(self._log_settings.runtime_env())

        child_config = {
            "layers": layer_dirs,
            "runtime_lib": runtime_lib_path(),
            # the function's own hot code compiles from source (an edit saved in the same
            # second can hide behind a .pyc); hot layers (dependencies) keep their caches
            "hot_reload_roots": [code_dir] if fv_config.code.is_hot_reloading() else [],
            "response_limit": config.LAMBDA_LIMITS_MAX_FUNCTION_PAYLOAD_SIZE_BYTES,
        }
        command = runtime_command(interpreter)
        self._interpreter, self._child_config = interpreter, child_config
        self._layer_dirs, self._own_env = layer_dirs, own_env
        self._wrapper = None
        if wrapper := env.get("AWS_LAMBDA_EXEC_WRAPPER"):
            self._wrapper = host_path(wrapper, code_dir, layer_dirs)
            command.insert(0, self._wrapper)
        self._command, self._env, self._cwd = command, env, code_dir

    def start(self, env_vars: dict[str, str]) -> None:
        self._build_launch(env_vars)
        with self._lock:
            if self._stopped:
                raise LambdaRuntimeException(f"Executor {self.id} was stopped before it started")
            self._spawn_locked()
        child = self._child
        # LocalStack's own startup timer (LAMBDA_RUNTIME_ENVIRONMENT_TIMEOUT) fires first and
        # calls stop(): its usual "Timeout while starting up lambda environment" error follows.
        self._wait_ready(child, config.LAMBDA_RUNTIME_ENVIRONMENT_TIMEOUT + 2)
        if self._stopped:
            raise LambdaRuntimeException(f"Executor {self.id} was stopped during startup")

    def _spawn_locked(self) -> None:
        self._generations = [w.generation() for w in self._watchers]
        wrapper_error = self._check_wrapper()
        if wrapper_error:
            self._child = _FailedChild(*wrapper_error)
            return
        if not needs_direct_start(self._env, self._own_env, self._cwd, self._layer_dirs):
            spare = SPARES.take(self._interpreter)
            if spare is not None:
                spare.claim(self._env, self._cwd, self._child_config)
                spare.memory_limit_kib = self._memory_limit_kib()
                self._child = spare
                return
        self._child = ChildProcess(self._command, self._child_config, self._env, self._cwd)
        self._child.memory_limit_kib = self._memory_limit_kib()

    def _memory_limit_kib(self) -> int | None:
        memory_mb = self.function_version.config.memory_size
        return memory_mb * 1024 if memory_mb else None

    def _check_wrapper(self) -> tuple[int, str] | None:
        # AWS's runtime bootstrap script checks the wrapper the same way (exit 127 / 126).
        wrapper = self._wrapper
        if not wrapper:
            return None
        if not os.path.isfile(wrapper):
            return 127, f"{wrapper}: does not exist\n"
        if not os.access(wrapper, os.X_OK):
            return 126, f"{wrapper}: is not an executable\n"
        return None

    def _wait_ready(self, child: ChildProcess | _FailedChild, limit_s: float) -> None:
        """Run the init phase: until the child is ready, reports an init error, or dies."""
        if isinstance(child, _FailedChild):
            return
        frame = child.pump(child.started + limit_s)
        child.init_duration_ms = (time.perf_counter() - child.started) * 1000
        child.init_logs = child.take_logs()
        if isinstance(frame, Frame) and frame.kind == protocol.KIND_READY:
            return
        if isinstance(frame, Frame) and frame.kind == protocol.KIND_INIT_ERROR:
            child.init_error = frame
            child.reap()
            return
        if frame == "timeout":
            child.kill()
            child.init_error = Frame(INIT_TIMED_OUT, b"")
        else:
            child.reap()
            child.init_error = Frame(INIT_EXITED, b"")

    def stop(self) -> None:
        with self._lock:
            self._stopped = True
            child, self._child = self._child, None
        if child is not None:
            self._tail = bytes(child.tail)
            child.close()

    # -- invoke ------------------------------------------------------------------------------

    def _ensure_child(self) -> tuple[ChildProcess | _FailedChild, bool]:
        """The process to invoke, (re)started when needed; returns (child, cold)."""
        with self._lock:
            if self._stopped:
                raise LambdaRuntimeException(f"Executor {self.id} is stopped")
            child = self._child
            changed = bool(self._watchers) and (
                [w.generation() for w in self._watchers] != self._generations
            )
            if child is not None and not changed and not child.invoked:
                return child, True  # first invoke after start(): init already ran (or failed)
            if child is not None and not changed and not child.dead:
                return child, False
            if child is not None:
                child.close()
            self._spawn_locked()
            child = self._child
        # Init repeated inside an invoke counts against the function timeout, as on AWS.
        self._wait_ready(child, self.function_version.config.timeout)
        return child, True

    def invoke(self, payload: dict[str, str]) -> InvocationResult:
        request_id = payload["invoke-id"]
        invocation = _calling_invocation()
        event = payload["payload"]
        event = event.encode() if isinstance(event, str) else event
        request_limit = config.LAMBDA_LIMITS_MAX_FUNCTION_PAYLOAD_SIZE_BYTES - REQUEST_LIMIT_SLACK
        if len(event) > request_limit and (
            invocation is None or invocation.invocation_type == InvocationType.RequestResponse
        ):
            raise RequestTooLargeException(
                f"Request must be smaller than {request_limit} bytes for the InvokeFunction "
                "operation",
                Type="User",
            )

        child, cold = self._ensure_child()
        child.invoked = True
        init_logs, child.init_logs = child.init_logs, b""
        timeout_s = self.function_version.config.timeout
        started = time.perf_counter()
        if child.init_error is not None:
            child.dead = True  # the next invoke runs init again, as AWS does
            result, output, status = _init_failure_result(child, request_id, timeout_s)
            is_error = True
        else:
            header = {
                "id": request_id,
                "arn": payload.get("invoked-function-arn"),
                "deadline": int(time.time() * 1000) + timeout_s * 1000,
                "trace": payload.get("trace-id"),
                "cc": _decode_client_context(invocation.client_context if invocation else None),
            }
            result, is_error, output, status = self._run(child, request_id, header, event, started)
        duration_ms = (time.perf_counter() - started) * 1000
        log_text = self._format_logs(
            request_id,
            init_logs,
            output,
            duration_ms,
            child.max_rss_kib,
            child.init_duration_ms if cold else None,
            status,
        )
        return InvocationResult(request_id, result, is_error=is_error, logs=log_text)

    def _run(
        self, child: ChildProcess, request_id: str, header: dict, event: bytes, started: float
    ) -> tuple[bytes, bool, bytes, str]:
        """One invocation on a ready child: (result, is_error, output, REPORT status)."""
        timeout_s = self.function_version.config.timeout
        limit = config.LAMBDA_LIMITS_MAX_FUNCTION_PAYLOAD_SIZE_BYTES
        head = json.dumps(header).encode()
        child.send(
            b"".join(
                (
                    protocol.KIND_INVOKE,
                    (4 + len(head) + len(event)).to_bytes(4, "big"),
                    len(head).to_bytes(4, "big"),
                    head,
                    event,
                )
            )
        )
        frame = child.pump(started + timeout_s)
        output = child.take_logs()
        if isinstance(frame, Frame):
            child.max_rss_kib = int.from_bytes(frame.body[:8], "big")
            if child.over_memory_peak():
                # the child's own peak (VmHWM) says what sampling can miss: a spike between two
                # checks. AWS would have killed it; the result is dropped, the process too.
                frame = "eof"
        if isinstance(frame, Frame):
            result = frame.body[8:]
            if frame.kind == protocol.KIND_TOO_LARGE or len(result) > limit:
                return (
                    platform_error(
                        "Function.ResponseSizeTooLarge",
                        "Response payload size exceeded maximum allowed payload size "
                        f"({limit} bytes).",
                    ),
                    True,
                    output,
                    "",
                )
            return result, frame.kind == protocol.KIND_ERROR, output, ""
        if frame == "timeout":
            child.kill()
            output += child.take_logs()
            message = f"Task timed out after {timeout_s:.2f} seconds"
            output += f"{_log_timestamp()} {request_id} {message}\n".encode()
            error = platform_error("Sandbox.Timedout", f"RequestId: {request_id} Error: {message}")
            return error, True, output, "timeout"
        reason = exit_reason(child.reap())
        output += child.take_logs()
        error_type = "Runtime.OutOfMemory" if child.out_of_memory else "Runtime.ExitError"
        output += f"RequestId: {request_id} Error: {reason}\n{error_type}\n".encode()
        error = platform_error(error_type, f"RequestId: {request_id} Error: {reason}")
        return error, True, output, f"error\tError Type: {error_type}"

    def _format_logs(
        self,
        request_id: str,
        init_logs: bytes,
        output: bytes,
        duration_ms: float,
        max_rss_kib: int,
        init_duration_ms: float | None,
        status: str,
    ) -> str:
        """Function log of one invocation, as AWS writes it: START, output, END, REPORT
        (platform.start and platform.report records with LoggingConfig.LogFormat JSON)."""
        qualifier = self.function_version.id.qualifier
        memory = self.function_version.config.memory_size
        if self._log_settings.json:
            return self._log_settings.json_invocation_log(
                request_id, qualifier, init_logs, output, duration_ms, memory,
                max_rss_kib, init_duration_ms, status,
            )
        report = (
            f"REPORT RequestId: {request_id}\tDuration: {duration_ms:.2f} ms\t"
            f"Billed Duration: {max(1, math.ceil(duration_ms))} ms\tMemory Size: {memory} MB\t"
            f"Max Memory Used: {math.ceil(max_rss_kib / 1024)} MB\t"
        )
        if init_duration_ms:
            report += f"Init Duration: {init_duration_ms:.2f} ms\t"
        if status:
            report += f"Status: {status}\t"
        text = init_logs.decode("utf-8", "replace")
        if text and not text.endswith("\n"):
            text += "\n"
        text += f"START RequestId: {request_id} Version: {qualifier}\n"
        text += output.decode("utf-8", "replace")
        if not text.endswith("\n"):
            text += "\n"
        return text + f"END RequestId: {request_id}\n{report}\n"

    def get_logs(self) -> str:
        child = self._child
        tail = bytes(child.tail) if child is not None else self._tail
        return tail.decode("utf-8", "replace")


class _FailedChild:
    """A runtime that could not even be exec'd (AWS: the bootstrap script exits 127/126)."""

    def __init__(self, returncode: int, message: str):
        self.returncode = returncode
        self.init_error = Frame(INIT_EXITED, b"")
        self.init_logs = message.encode()
        self.init_duration_ms = 0.0
        self.max_rss_kib = 0
        self.dead = True
        self.invoked = False
        self.tail = bytearray(self.init_logs)

    def close(self) -> None:
        pass

    def kill(self) -> None:
        pass


def _init_failure_result(child, request_id: str, timeout_s: int) -> tuple[bytes, bytes, str]:
    """Answer for an invoke whose init failed: (payload, output, REPORT status).

    The runtime's own init error (Runtime.ImportModuleError, ...) is returned as it sent it;
    a process that died during init is a Runtime.ExitError, as on AWS.
    """
    frame = child.init_error
    if frame.kind == protocol.KIND_INIT_ERROR:
        error_type = json.loads(frame.body).get("errorType", "")
        return frame.body, b"", f"error\tError Type: {error_type}"
    if frame.kind == INIT_TIMED_OUT:
        message = f"Task timed out after {timeout_s:.2f} seconds"
        error = platform_error("Sandbox.Timedout", f"RequestId: {request_id} Error: {message}")
        return error, f"{_log_timestamp()} {request_id} {message}\n".encode(), "timeout"
    message = f"RequestId: {request_id} Error: {exit_reason(child.returncode)}"
    error_type = "Runtime.OutOfMemory" if getattr(child, "out_of_memory", False) else (
        "Runtime.ExitError")
    error = platform_error(error_type, message)
    return error, f"{message}\n{error_type}\n".encode(), f"error\tError Type: {error_type}"


def _calling_invocation():
    """The `Invocation` being served, read from LocalStack's ExecutionEnvironment.invoke frame.

    LocalStack's invoke payload drops the ClientContext and the invocation type (its Docker init
    has no use for them); the caller's frame still has them.
    """
    frame = sys._getframe(2)
    for _ in range(3):
        if frame is None:
            return None
        candidate = frame.f_locals.get("invocation")
        if candidate is not None and hasattr(candidate, "client_context"):
            return candidate
        frame = frame.f_back
    return None


def _decode_client_context(raw: str | None) -> str | None:
    """Invoke's ClientContext is base64-encoded JSON; the runtime gets the JSON text."""
    if not raw:
        return None
    try:
        return base64.b64decode(raw, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return raw


def _log_timestamp() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
