"""Lambda environments in a bubblewrap sandbox, where Linux offers one; plain processes elsewhere.

No LocalStack import (part of the process engine, unit-tested in tests/unit/lambda_runtime/).

In the sandbox a function sees what it sees on AWS: its code read-only at /var/task, its layers
at /opt, the runtime at /var/runtime, a private /tmp (a tmpfs capped at its EphemeralStorage),
its own /proc (a pid namespace whose init is the runtime itself: when the runtime ends, the
kernel kills everything left in it) and a minimal /dev. It runs as sbx_user1051 (uid 993) in a
user namespace without capabilities; the root is read-only. Of the host it sees /usr (the OS's
programs and libraries, read-only), the interpreter's installation and a few /etc files (DNS,
certificates, the dynamic loader's cache); nothing else of the host exists there. The network is
the host's: the handler reaches LocalStack on 127.0.0.1.

HOSTMODE_LAMBDA_SANDBOX=auto (default: bwrap when a quick probe can start a sandbox, else
process), bwrap (required: functions fail to start with the probe's error otherwise) or process
(today's unsandboxed processes). The decision is taken once and written to the run directory,
where `make status` reads it.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import tempfile
import threading
from dataclasses import dataclass, field

from localstack_hostmode import contract
from localstack_hostmode.runtime import sealing

LOG = logging.getLogger(__name__)

BWRAP = "bwrap"
PROCESS = "process"
UNAVAILABLE = "unavailable"  # bwrap was required but cannot run

TASK_ROOT = "/var/task"
OPT_ROOT = "/opt"
RUNTIME_ROOT = "/var/runtime"
SDK_ROOT = "/var/lang/lambda-runtime/python"  # the runtime-bundled boto3
# this runtime's directory on the host (mounted at RUNTIME_ROOT)
HOST_RUNTIME_DIR = os.path.dirname(os.path.abspath(sealing.__file__))
SPARE_ROOT = "/var/.spare"  # a spare's view of every function's code, until it is claimed
# AWS's sandbox user
USER, UID, GID = "sbx_user1051", 993, 990
DEFAULT_TMP_MB = 512
PROBE_TIMEOUT_S = 10

# Root entries that are symlinks into /usr on merged-/usr systems, directories elsewhere.
ROOT_SYSTEM_ENTRIES = ("bin", "sbin", "lib", "lib32", "lib64", "libx32")
# What of the host's /etc a runtime needs: name resolution, certificates, the dynamic loader's
# cache, alternatives (/usr/bin links point there), time zone, MIME types. The files are copied
# into the sandbox's own /etc (one mount instead of one each: each costs bwrap time); the
# directories are mounted into it.
ETC_FILES = (
    "hosts", "resolv.conf", "nsswitch.conf", "host.conf", "gai.conf", "ca-certificates.conf",
    "ld.so.cache", "ld.so.conf", "localtime", "mime.types", "os-release",
)
ETC_DIRS = ("ssl", "ca-certificates", "pki", "crypto-policies", "ld.so.conf.d", "alternatives")


@dataclass(frozen=True)
class Decision:
    mode: str  # BWRAP, PROCESS or UNAVAILABLE
    reason: str
    bwrap: str | None = None
    spares: bool = False  # sandboxed spares can mount their function's code when claimed

    @property
    def sandboxed(self) -> bool:
        return self.mode == BWRAP


class SandboxUnavailable(RuntimeError):
    """HOSTMODE_LAMBDA_SANDBOX=bwrap, but no sandbox can be started here."""


@dataclass
class Spec:
    """What one sandbox holds: host paths, mounted where AWS has them."""

    interpreter: str
    code_dir: str
    layer_dirs: list[str] = field(default_factory=list)
    runtime_dir: str = ""
    sdk_dir: str | None = None
    tmp_mb: int = DEFAULT_TMP_MB
    etc_dir: str = ""  # the sandbox's /etc (etc_dir())
    spare: bool = False  # code_dir is the code root, mounted at SPARE_ROOT until the claim


# ------------------------------------------------------------------------------- the decision

_decision: Decision | None = None
_decision_lock = threading.Lock()


def probe_args() -> list[str]:
    """A sandbox as small as the real ones, with the same namespaces and mounts."""
    return [*_namespace_args(), *_system_args(), "--size", str(1 << 20), "--tmpfs", "/tmp",
            "--remount-ro", "/", "--", "true"]


def probe(bwrap: str) -> str | None:
    """None when bwrap starts a sandbox here, else why not."""
    try:
        proc = subprocess.run([bwrap, *probe_args()], capture_output=True, text=True,
                              timeout=PROBE_TIMEOUT_S, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.SubprocessError) as e:
        return f"{bwrap} could not run: {e}"
    if proc.returncode != 0:
        detail = (proc.stderr or proc.stdout).strip().splitlines()
        return f"{bwrap} cannot create a sandbox here: {detail[-1] if detail else proc.returncode}"
    return None


def probe_spares(bwrap: str) -> str | None:
    """None when a spare sandbox can become a function's (runtime/jail.py), else why not: a
    spare started with this Python mounts a probe directory as its /var/task."""
    import sys

    python = os.path.realpath(sys.executable)
    with tempfile.TemporaryDirectory(prefix="hostmode-sandbox-probe-") as root:
        os.makedirs(os.path.join(root, "code", "probe"))
        spec = Spec(interpreter=python, code_dir=root, runtime_dir=HOST_RUNTIME_DIR,
                    etc_dir=etc_dir(), spare=True)
        jail = {"root": SPARE_ROOT, "mounts": [["code", TASK_ROOT]], "tmp_bytes": 1 << 20,
                "uid": UID, "gid": GID, "cwd": TASK_ROOT}
        check = (f"import sys, os; sys.path.insert(0, {RUNTIME_ROOT!r}); import jail; "
                 f"jail.enter({jail!r}); assert os.listdir({TASK_ROOT!r}) == ['probe']")
        try:
            proc = subprocess.run(command(Decision(BWRAP, "", bwrap), spec,
                                          [python, "-s", "-S", "-c", check]),
                                  capture_output=True, text=True, timeout=PROBE_TIMEOUT_S,
                                  stdin=subprocess.DEVNULL)
        except (OSError, subprocess.SubprocessError) as e:
            return str(e)
    if proc.returncode != 0:
        lines = (proc.stderr or proc.stdout).strip().splitlines()
        return lines[-1] if lines else f"exit status {proc.returncode}"
    return None


def _decide() -> Decision:
    wanted = (os.environ.get(contract.LAMBDA_SANDBOX_ENV) or "auto").strip().lower()
    if wanted == PROCESS:
        return Decision(PROCESS, f"{contract.LAMBDA_SANDBOX_ENV}=process")
    if wanted not in ("auto", BWRAP):
        return Decision(UNAVAILABLE, f"{contract.LAMBDA_SANDBOX_ENV} must be auto, bwrap or "
                                     f"process, got {wanted!r}")
    bwrap = shutil.which("bwrap")
    problem = None if bwrap else "bubblewrap (bwrap) is not installed"
    if bwrap and not os.path.isdir("/proc/self/ns"):
        problem = "this OS has no Linux namespaces"
    problem = problem or probe(bwrap)
    if problem is None:
        spare_problem = probe_spares(bwrap)
        if spare_problem:
            LOG.info("Lambda sandbox: no spare sandboxes (%s)", spare_problem)
        return Decision(BWRAP, f"bubblewrap sandbox ({bwrap})", bwrap, not spare_problem)
    if wanted == BWRAP:
        return Decision(UNAVAILABLE, f"{contract.LAMBDA_SANDBOX_ENV}=bwrap: {problem}")
    return Decision(PROCESS, f"no sandbox: {problem}")


def decide() -> Decision:
    """The sandbox decision of this LocalStack: probed once, written to the run directory."""
    global _decision
    with _decision_lock:
        if _decision is None:
            _decision = _decide()
            LOG.info("Lambda environments: %s (%s)", _decision.mode, _decision.reason)
            write_state(_decision)
        return _decision


def write_state(decision: Decision) -> None:
    run_dir = contract.run_dir()
    if not run_dir:
        return
    path = os.path.join(run_dir, contract.LAMBDA_SANDBOX_STATE)
    try:
        with open(path + ".tmp", "w") as f:
            json.dump({"mode": decision.mode, "reason": decision.reason}, f)
        os.replace(path + ".tmp", path)
    except OSError as e:
        LOG.warning("could not write %s: %s", path, e)


def require(decision: Decision) -> None:
    if decision.mode == UNAVAILABLE:
        raise SandboxUnavailable(f"Lambda sandbox unavailable: {decision.reason}")


# ------------------------------------------------------------------------------- the layout


def layer_mounts(count: int) -> list[str]:
    """Where layers are mounted: one layer is /opt itself, as on AWS; several are side by side
    under /opt (AWS merges them into /opt; bind mounts cannot)."""
    if count == 1:
        return [OPT_ROOT]
    return [f"{OPT_ROOT}/layer-{i + 1}" for i in range(count)]


def _layer_pairs(spec: Spec) -> list[tuple[str, str]]:
    return list(zip(spec.layer_dirs, layer_mounts(len(spec.layer_dirs)), strict=True))


def inside(path: str, spec: Spec) -> str:
    """The sandbox path of a host path of the function's code or layers (else unchanged)."""
    for host, mounted in [(spec.code_dir, TASK_ROOT), *_layer_pairs(spec)]:
        if path == host or path.startswith(host.rstrip("/") + "/"):
            return mounted + path[len(host.rstrip("/")):]
    return path


def interpreter_root(interpreter: str) -> str | None:
    """The installation to mount for an interpreter outside /usr (pyenv, /opt/python, ...):
    bin/pythonX.Y's parent's parent, holding lib/pythonX.Y and its shared library."""
    real = os.path.realpath(interpreter)
    if real.startswith("/usr/"):
        return None
    return os.path.dirname(os.path.dirname(real))


def _namespace_args(spare: bool = False) -> list[str]:
    # no --unshare-net: the handler reaches LocalStack on 127.0.0.1. No --die-with-parent: its
    # PR_SET_PDEATHSIG fires when the *thread* that started bwrap ends (a pool thread); the
    # runtime already ends when the executor's pipe closes, and the namespace with it. No
    # --as-pid-1: a namespace's init ignores the signals it sends itself (os.kill(os.getpid(),
    # 9) must kill the runtime, as on AWS); bwrap's own init ends the namespace with it.
    # A spare is root of its user namespace with CAP_SYS_ADMIN until it is claimed (jail.py):
    # no code of the function runs before it is uid 993 without capabilities.
    user = ["--uid", "0", "--gid", "0", "--cap-add", "CAP_SYS_ADMIN"] if spare else [
        "--uid", str(UID), "--gid", str(GID)]
    return ["--unshare-user", "--unshare-pid", "--unshare-ipc", "--unshare-uts",
            "--unshare-cgroup-try", *user, "--hostname", "localhost"]


def _system_args() -> list[str]:
    args = ["--ro-bind", "/usr", "/usr"]
    for name in ROOT_SYSTEM_ENTRIES:
        path = "/" + name
        if os.path.islink(path):
            args += ["--symlink", os.readlink(path), path]
        elif os.path.isdir(path):
            args += ["--ro-bind", path, path]
    return args


def _etc_args(etc_dir: str) -> list[str]:
    """The sandbox's /etc (made by make_etc) and the host's /etc directories it has room for."""
    args = ["--ro-bind", etc_dir, "/etc"]
    for name in ETC_DIRS:
        if os.path.isdir(os.path.join(etc_dir, name)):
            args += ["--ro-bind", "/etc/" + name, "/etc/" + name]
    return args


def bwrap_args(spec: Spec) -> list[str]:
    """bwrap's options for one environment (the command follows)."""
    args = [*_namespace_args(spec.spare), *_system_args()]
    if root := interpreter_root(spec.interpreter):
        args += ["--ro-bind", root, root]
    args += _etc_args(spec.etc_dir)
    args += ["--ro-bind", spec.runtime_dir, RUNTIME_ROOT]
    if spec.sdk_dir:
        args += ["--ro-bind", spec.sdk_dir, SDK_ROOT]
    if spec.spare:  # mount points for the claim
        args += ["--ro-bind", spec.code_dir, SPARE_ROOT, "--dir", TASK_ROOT, "--dir", OPT_ROOT]
    else:
        args += ["--ro-bind", spec.code_dir, TASK_ROOT]
        for host, mounted in _layer_pairs(spec):
            args += ["--ro-bind", host, mounted]
    args += ["--proc", "/proc", "--dev", "/dev",
             "--perms", "1777", "--size", str(max(1, spec.tmp_mb) << 20), "--tmpfs", "/tmp",
             "--remount-ro", "/", "--chdir", "/" if spec.spare else TASK_ROOT]
    return args


def code_root() -> str:
    """Where LocalStack unzips every function's code and layers (its TMPDIR's lambda/)."""
    return os.path.join(tempfile.gettempdir(), "lambda")


def jail_spec(spec: Spec, root: str) -> dict | None:
    """What a claimed spare mounts to become `spec`'s sandbox (runtime/jail.py), or None when
    it cannot: code or layers outside the code root (hot reload), several layers."""
    pairs = [(spec.code_dir, TASK_ROOT), *_layer_pairs(spec)]
    prefix = root.rstrip("/") + "/"
    if len(spec.layer_dirs) > 1 or not all(host.startswith(prefix) for host, _ in pairs):
        return None
    return {"root": SPARE_ROOT, "mounts": [[host[len(prefix):], seen] for host, seen in pairs],
            "tmp_bytes": max(1, spec.tmp_mb) << 20, "uid": UID, "gid": GID, "cwd": TASK_ROOT}


def wraps(command: list[str]) -> bool:
    """Whether a command line runs its program in a sandbox (built by command())."""
    return bool(command) and os.path.basename(command[0]) == BWRAP


def with_owner_mark(command: list[str], env: dict[str, str], child_config: dict
                    ) -> tuple[dict[str, str], dict]:
    """An unsandboxed runtime carries the run directory marker in its /proc/<pid>/environ:
    `make down` finds it by that after LocalStack was SIGKILLed and the runtime reparented.
    The function does not see it in os.environ (the runtime drops it before any function code
    runs). A sandbox is not marked: its init would show the marker to the function through
    /proc/1/environ; `make down` finds bwrap by the instance's code directory in its argv."""
    run_dir = os.environ.get(contract.RUN_DIR_ENV)
    if not run_dir or wraps(command):
        return env, child_config
    return ({**env, contract.RUN_DIR_ENV: run_dir},
            {**child_config, "unset_env": [contract.RUN_DIR_ENV]})


def command(decision: Decision, spec: Spec, runtime: list[str]) -> list[str]:
    """The runtime's command line, run inside its sandbox."""
    return [decision.bwrap or BWRAP, *bwrap_args(spec), "--", *runtime]


# ------------------------------------------------------------------------------- host state

_state_dir: str | None = None


def make_etc(path: str) -> None:
    """The sandbox's /etc: copies of the host files it needs, mount points for the directories,
    and a passwd and group that know sbx_user1051 (no shadow)."""
    os.makedirs(path, exist_ok=True)
    for name in ETC_FILES:
        try:
            shutil.copyfile("/etc/" + name, os.path.join(path, name))
        except OSError:
            pass  # not on this host
    for name in ETC_DIRS:
        if os.path.isdir("/etc/" + name):
            os.makedirs(os.path.join(path, name), exist_ok=True)
    passwd = f"root:x:0:0:root:/root:/sbin/nologin\n{USER}:x:{UID}:{GID}::/tmp:/sbin/nologin\n"
    for name, text in (("passwd", passwd), ("group", f"root:x:0:\n{USER}:x:{GID}:\n")):
        with open(os.path.join(path, name), "w") as f:
            f.write(text)


def etc_dir() -> str:
    """The sandbox's /etc on the host, made once: in the run directory, else a temp dir."""
    global _state_dir
    if _state_dir is None:
        base = contract.run_dir()
        path = os.path.join(base, "lambda-sandbox") if base else tempfile.mkdtemp(
            prefix="hostmode-sandbox-")
        make_etc(os.path.join(path, "etc"))
        _state_dir = path
    return os.path.join(_state_dir, "etc")


_compiled: set[tuple[str, str]] = set()
_compiled_lock = threading.Lock()


def precompile(interpreter: str, dirs: list[str]) -> None:
    """Write the bytecode of read-only code once, on the host, in the background.

    Inside the sandbox /var/task and /opt are read-only, so the runtime cannot cache what it
    compiles (in process mode the first environment writes __pycache__ next to the source)."""
    with _compiled_lock:
        todo = [d for d in dirs if d and (interpreter, d) not in _compiled]
        _compiled.update((interpreter, d) for d in todo)
    if not todo:
        return

    def run() -> None:
        for directory in todo:
            try:
                subprocess.run([interpreter, "-m", "compileall", "-q", "-j", "1", directory],
                               stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, timeout=600, check=False)
            except (OSError, subprocess.SubprocessError) as e:
                LOG.debug("precompiling %s failed: %s", directory, e)

    threading.Thread(target=run, name="lambda-sandbox-precompile", daemon=True).start()


def _only_child(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            children = f.read().split()
        return int(children[0]) if children else None
    except (OSError, ValueError):  # no /proc/<pid>/task/<tid>/children on this kernel
        children = [p for p in sealing.descendants(pid) if sealing._parent_of(p) == pid]
        return children[0] if children else None


def runtime_pid(monitor_pid: int) -> int | None:
    """The runtime's host pid: bwrap (outside) -> bwrap (the namespace's init) -> runtime."""
    init = _only_child(monitor_pid)
    return _only_child(init) if init else None


def exit_status(returncode: int | None) -> int | None:
    """The runtime's exit status from bwrap's: bwrap exits 128+N when its command died of
    signal N (Popen's -N)."""
    if returncode is not None and 128 < returncode < 128 + 65:
        return 128 - returncode
    return returncode
