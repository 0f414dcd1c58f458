"""AWS's wording: the function log of an invocation, and the errors the Lambda service reports.

No LocalStack import. An invocation's platform outcome travels as an `Outcome` (REPORT's
Status field, platform.report's status), its platform errors as an `Answer` built here once.

A function's LoggingConfig is applied as AWS Lambda applies it (LocalStack stores it only):

- ``LogFormat: JSON`` sets ``AWS_LAMBDA_LOG_FORMAT=JSON`` and ``AWS_LAMBDA_LOG_LEVEL`` (the
  ApplicationLogLevel) for the runtime, whose ``logging`` handler then writes JSON records
  (runtime/bootstrap.py); Powertools' Logger reads the same level.
- The platform's START/END/REPORT lines become ``platform.start`` and ``platform.report``
  records, written only when SystemLogLevel admits INFO.
- Application log lines that are JSON objects with a ``level`` below ApplicationLogLevel are
  dropped; other lines (``print``) pass.
- ``LogGroup`` is honoured by hooks.py (the log group LocalStack writes to and
  ``AWS_LAMBDA_LOG_GROUP_NAME``).
"""

from __future__ import annotations

import enum
import json
import math
import signal
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

# Go's names for signals, as AWS reports them ("Runtime exited with error: signal: killed").
SIGNAL_NAMES = {
    signal.SIGKILL: "killed",
    signal.SIGSEGV: "segmentation fault",
    signal.SIGTERM: "terminated",
    signal.SIGABRT: "aborted",
    signal.SIGINT: "interrupt",
    signal.SIGBUS: "bus error",
    signal.SIGFPE: "floating point exception",
    signal.SIGILL: "illegal instruction",
    signal.SIGHUP: "hangup",
    signal.SIGPIPE: "broken pipe",
    signal.SIGQUIT: "quit",
    signal.SIGUSR1: "user defined signal 1",
    signal.SIGUSR2: "user defined signal 2",
    signal.SIGALRM: "alarm clock",
    signal.SIGTRAP: "trace/breakpoint trap",
    signal.SIGXCPU: "CPU time limit exceeded",
}

LEVELS = ("TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL")
_ALIASES = {"WARNING": "WARN", "CRITICAL": "FATAL"}
PLATFORM_EVENT_LEVEL = "INFO"


def _severity(level: object) -> int | None:
    if not isinstance(level, str):
        return None
    name = level.upper()
    name = _ALIASES.get(name, name)
    return LEVELS.index(name) if name in LEVELS else None


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Status(enum.Enum):
    SUCCESS = "success"  # the runtime answered (a handler's own error included)
    TIMEOUT = "timeout"
    ERROR = "error"  # the runtime failed: init error, exit, out of memory


@dataclass(frozen=True)
class Outcome:
    """The platform's verdict on one invocation."""

    status: Status = Status.SUCCESS
    error_type: str = ""

    @classmethod
    def error(cls, error_type: str) -> Outcome:
        return cls(Status.ERROR, error_type)

    def report_field(self) -> str:
        """The REPORT line's Status field ("" on success)."""
        if self.status is Status.SUCCESS:
            return ""
        if self.status is Status.TIMEOUT:
            return "Status: timeout\t"
        return f"Status: error\tError Type: {self.error_type}\t"

    def report_record(self) -> dict[str, str]:
        """platform.report's status (and errorType)."""
        if self.status is Status.ERROR:
            return {"status": "error", "errorType": self.error_type or "Unknown"}
        return {"status": self.status.value}


SUCCESS = Outcome()
TIMEOUT = Outcome(Status.TIMEOUT)


@dataclass(frozen=True)
class Answer:
    """A platform error in AWS's words: the invoke's payload, the function log's lines, the
    REPORT outcome."""

    payload: bytes
    log: bytes
    outcome: Outcome


def platform_error(error_type: str, message: str) -> bytes:
    """Errors raised by the Lambda service itself carry only errorType and errorMessage."""
    return json.dumps({"errorType": error_type, "errorMessage": message}).encode()


def exit_reason(returncode: int | None) -> str:
    """AWS's wording for a runtime process that ended (Runtime.ExitError)."""
    if returncode is None or returncode == 0:
        return "Runtime exited without providing a reason"
    if returncode > 0:
        return f"Runtime exited with error: exit status {returncode}"
    signum = -returncode
    return f"Runtime exited with error: signal: {SIGNAL_NAMES.get(signum, f'signal {signum}')}"


def timed_out(request_id: str, timeout_s: float) -> Answer:
    """The function (or its init inside an invoke) ran past its timeout (Sandbox.Timedout)."""
    message = f"Task timed out after {timeout_s:.2f} seconds"
    return Answer(
        platform_error("Sandbox.Timedout", f"RequestId: {request_id} Error: {message}"),
        f"{log_timestamp()} {request_id} {message}\n".encode(),
        TIMEOUT,
    )


def runtime_exited(request_id: str, returncode: int | None, out_of_memory: bool) -> Answer:
    """The runtime process died (Runtime.ExitError), killed over MemorySize included
    (Runtime.OutOfMemory)."""
    message = f"RequestId: {request_id} Error: {exit_reason(returncode)}"
    error_type = "Runtime.OutOfMemory" if out_of_memory else "Runtime.ExitError"
    return Answer(
        platform_error(error_type, message),
        f"{message}\n{error_type}\n".encode(),
        Outcome.error(error_type),
    )


def response_too_large(limit: int) -> bytes:
    return platform_error(
        "Function.ResponseSizeTooLarge",
        f"Response payload size exceeded maximum allowed payload size ({limit} bytes).",
    )


def log_truncated(dropped: int, limit: int, kept: bytes) -> bytes:
    """The line that ends an invocation's output cut at ``limit`` bytes (on its own line)."""
    start = b"" if not kept or kept.endswith(b"\n") else b"\n"
    return start + (
        f"[WARNING] Log output truncated: the function printed more than {limit} bytes in "
        f"this invocation; the last {dropped} bytes are not in this log.\n"
    ).encode()


def init_error_outcome(error_body: bytes) -> Outcome:
    """The outcome of an invoke answered with the runtime's own init error document."""
    return Outcome.error(json.loads(error_body).get("errorType", ""))


def log_timestamp() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


@dataclass(frozen=True)
class InvocationReport:
    """What the function log of one invocation tells."""

    request_id: str
    version: str
    init_output: bytes
    output: bytes
    duration_ms: float
    memory_mb: int
    max_rss_kib: int
    init_duration_ms: float | None
    outcome: Outcome

    @property
    def billed_ms(self) -> int:
        return max(1, math.ceil(self.duration_ms))

    @property
    def max_memory_mb(self) -> int:
        return math.ceil(self.max_rss_kib / 1024)


def text_invocation_log(r: InvocationReport) -> str:
    """Function log of one invocation, as AWS writes it: START, output, END, REPORT."""
    report = (
        f"REPORT RequestId: {r.request_id}\tDuration: {r.duration_ms:.2f} ms\t"
        f"Billed Duration: {r.billed_ms} ms\tMemory Size: {r.memory_mb} MB\t"
        f"Max Memory Used: {r.max_memory_mb} MB\t"
    )
    if r.init_duration_ms:
        report += f"Init Duration: {r.init_duration_ms:.2f} ms\t"
    report += r.outcome.report_field()
    text = r.init_output.decode("utf-8", "replace")
    if text and not text.endswith("\n"):
        text += "\n"
    text += f"START RequestId: {r.request_id} Version: {r.version}\n"
    text += r.output.decode("utf-8", "replace")
    if not text.endswith("\n"):
        text += "\n"
    return text + f"END RequestId: {r.request_id}\n{report}\n"


@dataclass(frozen=True)
class LogSettings:
    json: bool = False
    application_level: str = "INFO"
    system_level: str = "INFO"

    @classmethod
    def of(cls, logging_config: Mapping | None) -> LogSettings:
        config = logging_config or {}
        if str(config.get("LogFormat") or "Text").upper() != "JSON":
            return cls()
        return cls(
            json=True,
            application_level=str(config.get("ApplicationLogLevel") or "INFO").upper(),
            system_level=str(config.get("SystemLogLevel") or "INFO").upper(),
        )

    def invocation_log(self, report: InvocationReport) -> str:
        """The function log of one invocation, in the function's LogFormat."""
        if self.json:
            return self.json_invocation_log(report)
        return text_invocation_log(report)

    def runtime_env(self) -> dict[str, str]:
        if not self.json:
            return {}
        return {"AWS_LAMBDA_LOG_FORMAT": "JSON", "AWS_LAMBDA_LOG_LEVEL": self.application_level}

    def _admits(self, threshold: str, level: object) -> bool:
        severity, minimum = _severity(level), _severity(threshold)
        return severity is None or minimum is None or severity >= minimum

    def application_lines(self, output: str) -> list[str]:
        kept = []
        for line in output.splitlines():
            if line.startswith("{"):
                try:
                    record = json.loads(line)
                except ValueError:
                    record = None
                if isinstance(record, dict) and not self._admits(
                    self.application_level, record.get("level")
                ):
                    continue
            kept.append(line)
        return kept

    def json_invocation_log(self, r: InvocationReport) -> str:
        """The invocation's log with LogFormat JSON (platform.start and platform.report)."""
        platform = self._admits(self.system_level, PLATFORM_EVENT_LEVEL)
        # init output (a cold start's module-level code) precedes the invocation, as on AWS
        lines = self.application_lines(r.init_output.decode("utf-8", "replace"))
        if platform:
            lines.append(self._platform("platform.start",
                                        {"requestId": r.request_id, "version": r.version}))
        lines += self.application_lines(r.output.decode("utf-8", "replace"))
        if platform:
            metrics: dict[str, float | int] = {
                "durationMs": round(r.duration_ms, 3),
                "billedDurationMs": r.billed_ms,
                "memorySizeMB": r.memory_mb,
                "maxMemoryUsedMB": r.max_memory_mb,
            }
            if r.init_duration_ms:
                metrics["initDurationMs"] = round(r.init_duration_ms, 3)
            record: dict[str, object] = {"requestId": r.request_id, "metrics": metrics}
            record.update(r.outcome.report_record())
            lines.append(self._platform("platform.report", record))
        return "".join(line + "\n" for line in lines)

    @staticmethod
    def _platform(event_type: str, record: dict) -> str:
        return json.dumps({"time": _now(), "type": event_type, "record": record})
