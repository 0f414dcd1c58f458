"""LocalStack runtime executor that runs Python Lambda functions as local processes (host mode).

The LocalStack adapter only: the processes are process.py's, their launch launch.py's, AWS's
wording reports.py's.

One executor = one execution environment = at most one live child process running
`runtime/bootstrap.py` under the interpreter matching the function's runtime. LocalStack creates
one executor per concurrent environment, reuses warm ones and stops idle ones (keepalive).
Cold starts claim a pre-started spare process of that interpreter when the function allows it
(SparePool), so the interpreter's own start-up is off the critical path, and so is the import of
the function's dependencies that the spare preloaded from its layers (HOSTMODE_LAMBDA_PRELOAD).

Configuration (LocalStack's environment): LAMBDA_RUNTIME_EXECUTOR=local-process selects it;
HOSTMODE_LAMBDA_RUNTIME_LIB is the runtime-bundled SDK directory (last on the handler's sys.path);
HOSTMODE_PYTHON_3_12 / _3_13 / ... pin interpreters (else PATH, then pyenv's versions). The
handler reaches LocalStack at 127.0.0.1:<gateway port> (AWS_ENDPOINT_URL), from GATEWAY_LISTEN.

No HTTP between LocalStack and the child: `invoke()` writes a frame on a pipe and returns the
`InvocationResult` itself.

Faults follow AWS: the executor enforces the timeout (Sandbox.Timedout) and the memory size
(the process is killed above MemorySize: Runtime.OutOfMemory), reports a dead process as
Runtime.ExitError, a too large response as Function.ResponseSizeTooLarge, and the process is
replaced on the next invoke after any of them, or after an init failure, or after a hot-reload
change. HOSTMODE_LAMBDA_MEMORY_LIMIT=0 turns the memory limit off.
"""

from __future__ import annotations

import base64
import binascii
import threading
import time

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

from localstack_hostmode.lambda_runtime import reports
from localstack_hostmode.lambda_runtime.hot_reload import watcher_for
from localstack_hostmode.lambda_runtime.interpreters import find_interpreter
from localstack_hostmode.lambda_runtime.launch import (
    FailedChild,
    Launch,
    build_launch,
    runtime_lib_path,
    spare_command,
)
from localstack_hostmode.lambda_runtime.process import (
    ChildProcess,
    Frame,
    PumpEnd,
    resident_kib,
)
from localstack_hostmode.lambda_runtime.spares import (
    SpareKind,
    SparePool,
    preload_fits,
    preload_from_env,
)
from localstack_hostmode.patches.lambda_invocation_context import current_invocation
from localstack_hostmode.runtime import frames

# AWS: Invoke request payloads up to 6 MB (the API answers 413 above), responses up to
# 6 MB + 100 bytes (LocalStack's LAMBDA_LIMITS_MAX_FUNCTION_PAYLOAD_SIZE_BYTES, default 6291556).
REQUEST_LIMIT_SLACK = 100
INIT_TYPE_ENV = "AWS_LAMBDA_INITIALIZATION_TYPE"
PROVISIONED = "provisioned-concurrency"
ON_DEMAND = "on-demand"

SPARES = SparePool(spare_command)  # sandboxed: a spare that mounts its code when claimed
PRELOAD = preload_from_env()
# the variables a preload runs with: the same for every on-demand function of a runtime
PRELOAD_ENV_NAMES = ("AWS_EXECUTION_ENV", "AWS_LAMBDA_INITIALIZATION_TYPE", "TZ")


def spare_kind(
    interpreter: str, layer_dirs: list[str], runtime_lib: str | None, env: dict[str, str],
    hot_reloading: bool,
) -> SpareKind:
    """The spare a function can claim: preloaded from its layers and SDK, unless its code is
    hot-reloaded (a preload would hold modules an edit must replace)."""
    if hot_reloading or not PRELOAD:
        return SpareKind(interpreter)
    preload_env = tuple((k, str(env[k])) for k in PRELOAD_ENV_NAMES if k in env)
    return SpareKind(interpreter, tuple(layer_dirs), runtime_lib, PRELOAD, preload_env)


def _prepared_kind(fv_config) -> SpareKind:
    """prepare_version's guess of spare_kind() for a new function's first on-demand start."""
    layers = [layer.code for layer in fv_config.layers or [] if layer.code]
    hot = fv_config.code.is_hot_reloading() or any(c.is_hot_reloading() for c in layers)
    env = {
        "AWS_EXECUTION_ENV": f"AWS_Lambda_{fv_config.runtime}",
        "AWS_LAMBDA_INITIALIZATION_TYPE": ON_DEMAND,
        "TZ": ":UTC",  # LocalStack's, as on AWS
    }
    dirs = [str(c.get_unzipped_code_location()) for c in layers]
    return spare_kind(find_interpreter(fv_config.runtime), dirs, runtime_lib_path(), env, hot)


def gateway_host() -> str:
    """Address at which the child reaches LocalStack's gateway."""
    host = config.GATEWAY_LISTEN[0].host.strip("[]")
    if host in ("", "0.0.0.0", "::"):
        return "127.0.0.1"
    return f"[{host}]" if ":" in host else host


class LocalProcessRuntimeExecutor(RuntimeExecutor):
    """RuntimeExecutor plugin `local-process` (LAMBDA_RUNTIME_EXECUTOR=local-process)."""

    def __init__(self, id: str, function_version: FunctionVersion) -> None:
        super().__init__(id=id, function_version=function_version)
        self._lock = threading.Lock()
        self._child: ChildProcess | FailedChild | None = None
        self._stopped = False
        self._launch: Launch | None = None
        self._generations: list[int] = []
        self._tail = b""
        self._log_settings = reports.LogSettings()

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
        find_interpreter(fv_config.runtime)
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
        if fv_config.code:
            SPARES.replenish(_prepared_kind(fv_config))

    @classmethod
    def cleanup_version(cls, function_version: FunctionVersion) -> None:
        pass

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self, env_vars: dict[str, str]) -> None:
        self._launch = build_launch(
            self.function_version, env_vars, config.LAMBDA_LIMITS_MAX_FUNCTION_PAYLOAD_SIZE_BYTES
        )
        self._log_settings = self._launch.log_settings
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
        launch = self._launch
        self._generations = [w.generation() for w in launch.watchers]
        wrapper_error = launch.wrapper_error()
        if wrapper_error:
            self._child = FailedChild(*wrapper_error)
            return
        if launch.can_use_spare():
            kind = spare_kind(
                launch.interpreter, launch.layer_dirs, launch.child_config.get("runtime_lib"),
                launch.env, bool(launch.watchers),
            )
            spare = SPARES.take(
                kind, lambda s: preload_fits(s.preloaded, launch.env, launch.code_dir or launch.cwd)
            )
            if spare is not None:
                spare.claim(launch.env, launch.cwd, launch.child_config)
                spare.memory_limit_kib = self._memory_limit_kib()
                self._child = spare
                return
        self._child = ChildProcess(launch.command, launch.child_config, launch.env, launch.cwd)
        self._child.memory_limit_kib = self._memory_limit_kib()

    def _memory_limit_kib(self) -> int | None:
        memory_mb = self.function_version.config.memory_size
        return memory_mb * 1024 if memory_mb else None

    def _wait_ready(self, child: ChildProcess | FailedChild, limit_s: float) -> None:
        """Run the init phase: until the child is ready, reports an init error, or dies."""
        if isinstance(child, FailedChild):
            return
        end = child.pump(child.started + limit_s)
        child.init_duration_ms = (time.perf_counter() - child.started) * 1000
        child.init_logs = child.take_logs()
        if isinstance(end, Frame) and end.kind == frames.KIND_READY:
            return
        if end is PumpEnd.TIMEOUT:
            child.kill()
            child.init_error = PumpEnd.TIMEOUT
            return
        child.reap()
        is_init_error = isinstance(end, Frame) and end.kind == frames.KIND_INIT_ERROR
        child.init_error = end if is_init_error else PumpEnd.EOF

    def stop(self) -> None:
        with self._lock:
            self._stopped = True
            child, self._child = self._child, None
        if child is not None:
            self._tail = bytes(child.tail)
            child.close()

    # -- invoke ------------------------------------------------------------------------------

    def _ensure_child(self) -> tuple[ChildProcess | FailedChild, bool]:
        """The process to invoke, (re)started when needed; returns (child, cold)."""
        with self._lock:
            if self._stopped:
                raise LambdaRuntimeException(f"Executor {self.id} is stopped")
            child = self._child
            watchers = self._launch.watchers if self._launch else []
            changed = bool(watchers) and (
                [w.generation() for w in watchers] != self._generations
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

    def _on_demand_if_provisioning_failed(
        self, child: ChildProcess | FailedChild
    ) -> ChildProcess | FailedChild:
        """A provisioned environment whose init failed serves its invocation as AWS does: from
        an on-demand environment (init runs again, AWS_LAMBDA_INITIALIZATION_TYPE=on-demand);
        only that init's error reaches the caller."""
        env = self._launch.env if self._launch else {}
        if child.init_error is None or env.get(INIT_TYPE_ENV) != PROVISIONED:
            return child
        env[INIT_TYPE_ENV] = ON_DEMAND
        with self._lock:
            if self._stopped:
                raise LambdaRuntimeException(f"Executor {self.id} is stopped")
            child.close()
            self._spawn_locked()
            child = self._child
        self._wait_ready(child, self.function_version.config.timeout)
        return child

    def invoke(self, payload: dict[str, str]) -> InvocationResult:
        request_id = payload["invoke-id"]
        invocation = current_invocation()
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
        child = self._on_demand_if_provisioning_failed(child)
        child.invoked = True
        init_logs, child.init_logs = child.init_logs, b""
        started = time.perf_counter()
        if child.init_error is not None:
            child.dead = True  # the next invoke runs init again, as AWS does
            answer = _init_failure(child, request_id, self.function_version.config.timeout)
            result, is_error, output, outcome = answer.payload, True, answer.log, answer.outcome
        else:
            header = {
                "id": request_id,
                "arn": payload.get("invoked-function-arn"),
                "deadline": int(time.time() * 1000) + self.function_version.config.timeout * 1000,
                "trace": payload.get("trace-id"),
                "cc": _decode_client_context(invocation.client_context if invocation else None),
            }
            result, is_error, output, outcome = self._run(child, request_id, header, event, started)
        log_text = self._log_settings.invocation_log(reports.InvocationReport(
            request_id,
            self.function_version.id.qualifier,
            init_logs,
            output,
            (time.perf_counter() - started) * 1000,
            self.function_version.config.memory_size,
            child.max_rss_kib,
            child.init_duration_ms if cold else None,
            outcome,
        ))
        return InvocationResult(request_id, result, is_error=is_error, logs=log_text)

    def _run(
        self, child: ChildProcess, request_id: str, header: dict, event: bytes, started: float
    ) -> tuple[bytes, bool, bytes, reports.Outcome]:
        """One invocation on a ready child: (result, is_error, output, outcome)."""
        timeout_s = self.function_version.config.timeout
        limit = config.LAMBDA_LIMITS_MAX_FUNCTION_PAYLOAD_SIZE_BYTES
        child.send(frames.encode_invoke(header, event))
        end = child.pump(started + timeout_s)
        output = child.take_logs()
        if isinstance(end, Frame):
            child.max_rss_kib, result = frames.split_result(end.body)
            # the child's own peak (VmHWM) says what sampling can miss: a spike between two
            # checks. AWS would have killed it; the result is dropped, the process too.
            if not child.over_memory_peak():
                if end.kind == frames.KIND_TOO_LARGE or len(result) > limit:
                    return reports.response_too_large(limit), True, output, reports.SUCCESS
                return result, end.kind == frames.KIND_ERROR, output, reports.SUCCESS
            end = PumpEnd.EOF
        if end is PumpEnd.TIMEOUT:
            child.kill()
            answer = reports.timed_out(request_id, timeout_s)
        else:
            answer = reports.runtime_exited(request_id, child.reap(), child.out_of_memory)
        return answer.payload, True, output + child.take_logs() + answer.log, answer.outcome

    def resident_kib(self) -> int:
        """The runtime process's RSS in KiB (what reclaiming idle environments frees); in a
        sandbox that is bwrap's child, not bwrap."""
        child = self._child
        pid = child.runtime_pid() if isinstance(child, ChildProcess) else None
        return (resident_kib(pid) or 0) if pid else 0

    def get_logs(self) -> str:
        child = self._child
        tail = bytes(child.tail) if child is not None else self._tail
        return tail.decode("utf-8", "replace")


def _init_failure(child: ChildProcess | FailedChild, request_id: str, timeout_s: int):
    """Answer for an invoke whose init failed.

    The runtime's own init error (Runtime.ImportModuleError, ...) is returned as it sent it;
    a process that died during init is a Runtime.ExitError, as on AWS.
    """
    error = child.init_error
    if isinstance(error, Frame):
        return reports.Answer(error.body, b"", reports.init_error_outcome(error.body))
    if error is PumpEnd.TIMEOUT:
        return reports.timed_out(request_id, timeout_s)
    return reports.runtime_exited(request_id, child.returncode, child.out_of_memory)


def _decode_client_context(raw: str | None) -> str | None:
    """Invoke's ClientContext is base64-encoded JSON; the runtime gets the JSON text."""
    if not raw:
        return None
    try:
        return base64.b64decode(raw, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return raw
