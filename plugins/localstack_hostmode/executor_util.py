"""Pure helpers of the local-process executor (no LocalStack imports: unit-testable anywhere)."""

from __future__ import annotations

import json
import os
import signal

# Variables read when a process starts (interpreter, locale, dynamic loader): set by the
# function, they rule out a pre-started spare process.
PROCESS_START_ENV_PREFIXES = ("PYTHON", "LANG", "LC_", "LD_")

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


def exit_reason(returncode: int | None) -> str:
    """AWS's wording for a runtime process that ended (Runtime.ExitError)."""
    if returncode is None or returncode == 0:
        return "Runtime exited without providing a reason"
    if returncode > 0:
        return f"Runtime exited with error: exit status {returncode}"
    signum = -returncode
    return f"Runtime exited with error: signal: {SIGNAL_NAMES.get(signum, f'signal {signum}')}"


_PAGE_KIB = os.sysconf("SC_PAGE_SIZE") // 1024 if hasattr(os, "sysconf") else 4


def resident_kib(pid: int) -> int | None:
    """A process's resident set size in KiB (Linux /proc), None when unknown."""
    try:
        with open(f"/proc/{pid}/statm", "rb") as f:
            return int(f.read().split()[1]) * _PAGE_KIB
    except (OSError, ValueError, IndexError):
        return None


def platform_error(error_type: str, message: str) -> bytes:
    """Errors raised by the Lambda service itself carry only errorType and errorMessage."""
    return json.dumps({"errorType": error_type, "errorMessage": message}).encode()


def host_path(path: str, code_dir: str, layer_dirs: list[str]) -> str:
    """Map a path as the function sees it on AWS (/var/task/..., /opt/...) to this host.

    Used for AWS_LAMBDA_EXEC_WRAPPER, which users point at their package or at a layer.
    /opt is the layers extracted in order, so the last layer holding the file wins.
    """
    if path == "/var/task" or path.startswith("/var/task/"):
        return code_dir + path[len("/var/task") :]
    if path.startswith("/opt/"):
        rest = path[len("/opt/") :]
        for layer in reversed(layer_dirs):
            candidate = os.path.join(layer, rest)
            if os.path.exists(candidate):
                return candidate
    return path


def needs_direct_start(
    env: dict[str, str], own_env: dict, code_dir: str, layers: list[str]
) -> bool:
    """True when the function's process environment must exist before the interpreter starts."""
    if env.get("AWS_LAMBDA_EXEC_WRAPPER"):
        return True
    if any(k.startswith(PROCESS_START_ENV_PREFIXES) for k in own_env):
        return True
    if any(os.path.isdir(os.path.join(d, "lib")) for d in (code_dir, *layers)):
        return True  # native libraries the dynamic loader finds via LD_LIBRARY_PATH
    try:
        return any(".so" in name for name in os.listdir(code_dir))
    except OSError:
        return True
