"""What every (re)start of a function's runtime process needs: its command line, the handler's
environment (AWS's variables and the function's own, nothing internal), the code directory and
the child's config. Read from LocalStack's FunctionVersion (duck-typed: no LocalStack import,
so the pure parts are unit-testable without it).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

from localstack_hostmode.contract import RUNTIME_LIB, RUNTIME_LIB_ENV
from localstack_hostmode.lambda_runtime import sandbox
from localstack_hostmode.lambda_runtime.hot_reload import watcher_for
from localstack_hostmode.lambda_runtime.interpreters import find_interpreter
from localstack_hostmode.lambda_runtime.process import DEFAULT_LANG, Frame, PumpEnd
from localstack_hostmode.lambda_runtime.reports import LogSettings
from localstack_hostmode.runtime import frames

LOG = logging.getLogger(__name__)

RUNTIME_DIR = str(Path(frames.__file__).resolve().parent)
ENTRYPOINT = os.path.join(RUNTIME_DIR, "entrypoint.py")
SANDBOX_ENTRYPOINT = os.path.join(sandbox.RUNTIME_ROOT, "entrypoint.py")

# Variables LocalStack hands to its Docker init binary, not part of AWS's environment.
INTERNAL_ENV_PREFIXES = ("LOCALSTACK_",)
INTERNAL_ENV_VARS = frozenset({"EDGE_PORT", "AWS_LAMBDA_FUNCTION_TIMEOUT"})
# Variables read when a process starts (interpreter, locale, dynamic loader): set by the
# function, they rule out a pre-started spare process.
PROCESS_START_ENV_PREFIXES = ("PYTHON", "LANG", "LC_", "LD_")


def runtime_lib_path() -> str | None:
    path = os.environ.get(RUNTIME_LIB_ENV) or (str(RUNTIME_LIB) if RUNTIME_LIB.is_dir() else None)
    if not path:
        LOG.warning(
            "%s is not set: Lambda handlers will not find the runtime-bundled boto3",
            RUNTIME_LIB_ENV,
        )
    return path


def runtime_command(interpreter: str, entrypoint: str = ENTRYPOINT) -> list[str]:
    """-s -S: no user or system site-packages (the bootstrap sets sys.path explicitly). No -E:
    the child's environment is built from scratch, so PYTHON* variables can only be the
    function's own, which AWS's runtime honours too (e.g. PYTHONPATH). -u: AWS's runtime
    writes stdout unbuffered."""
    return [interpreter, "-u", "-s", "-S", entrypoint]


class SparesNotUsed(RuntimeError):
    """Sandboxed environments cannot use spares here: they start directly."""


def spare_command(interpreter: str) -> list[str]:
    """The spare pool's command: a plain runtime, or in the sandbox one that mounts its
    function's code when it is claimed (runtime/jail.py)."""
    decision = sandbox.decide()
    if decision.mode == sandbox.PROCESS:
        return runtime_command(interpreter)
    if not decision.spares:  # also when a required sandbox cannot start
        raise SparesNotUsed("no spare sandboxes here: sandboxed environments start directly")
    root = sandbox.code_root()
    os.makedirs(root, exist_ok=True)  # LocalStack creates it with the first function's code
    spec = sandbox.Spec(interpreter=interpreter, code_dir=root, runtime_dir=RUNTIME_DIR,
                        sdk_dir=runtime_lib_path(), etc_dir=sandbox.etc_dir(), spare=True)
    return sandbox.command(decision, spec, runtime_command(interpreter, SANDBOX_ENTRYPOINT))


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


@dataclass
class Launch:
    """How to start one function's runtime process."""

    interpreter: str
    command: list[str]
    env: dict[str, str]
    cwd: str
    child_config: dict
    layer_dirs: list[str]
    own_env: dict
    wrapper: str | None = None
    watchers: list = field(default_factory=list)
    log_settings: LogSettings = field(default_factory=LogSettings)
    sandboxed: bool = False
    code_dir: str = ""  # on the host (cwd is the sandbox's, when sandboxed)

    def can_use_spare(self) -> bool:
        if self.sandboxed and "jail" not in self.child_config:
            return False  # hot-reload code or several layers: not under a spare's code root
        return not needs_direct_start(
            self.env, self.own_env, self.code_dir or self.cwd, self.layer_dirs
        )

    def wrapper_error(self) -> tuple[int, str] | None:
        """(exit status, message) when the exec wrapper cannot run; AWS's runtime bootstrap
        script checks it the same way (exit 127 / 126)."""
        wrapper = self.wrapper
        if not wrapper:
            return None
        if not os.path.isfile(wrapper):
            return 127, f"{wrapper}: does not exist\n"
        if not os.access(wrapper, os.X_OK):
            return 126, f"{wrapper}: is not an executable\n"
        return None


def _code_dirs(fv_config) -> tuple[str, list[str], list[str]]:
    """(code dir, layer dirs, hot-reloaded roots) of a function version's config."""
    code_dir = str(fv_config.code.get_unzipped_code_location())
    layers = fv_config.layers or []
    layer_dirs = [str(layer.code.get_unzipped_code_location()) for layer in layers if layer.code]
    hot_roots = [
        str(c.get_unzipped_code_location())
        for c in [fv_config.code, *(layer.code for layer in layers)]
        if c and c.is_hot_reloading()
    ]
    return code_dir, layer_dirs, hot_roots


def _handler_env(
    interpreter: str, runtime: str, code_dir: str, layer_dirs: list[str],
    env_vars: dict[str, str], own_env: dict, runtime_dir: str = RUNTIME_DIR,
) -> dict[str, str]:
    """The handler's environment; the paths are those the function sees (in its sandbox:
    /var/task, /opt, /var/runtime)."""
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
        # AWS: /var/runtime. The bootstrap drops this directory from the handler's sys.path,
        # so it changes nothing there; a function's own PYTHONPATH replaces it, as on AWS.
        "PYTHONPATH": runtime_dir,
        # AWS's bootstrap script execs the runtime from a shell, which leaves SHLVL=0
        "SHLVL": "0",
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
            "LAMBDA_RUNTIME_DIR": runtime_dir,
            "PWD": code_dir,
        }
    )
    if "AWS_ACCESS_KEY_ID" in env:  # AWS's documented list has both names
        env["AWS_ACCESS_KEY"] = env["AWS_ACCESS_KEY_ID"]
    return env


def build_launch(function_version, env_vars: dict[str, str], response_limit: int) -> Launch:
    """The Launch of a function version, given the environment LocalStack prepared for it and
    the largest response (bytes) the runtime may return."""
    fv_config = function_version.config
    runtime = str(fv_config.runtime)
    interpreter = find_interpreter(runtime)
    code_dir, layer_dirs, hot_roots = _code_dirs(fv_config)
    decision = sandbox.decide()
    sandbox.require(decision)
    spec = _sandbox_spec(fv_config, interpreter, code_dir, layer_dirs) if decision.sandboxed \
        else None
    # the paths as the function sees them
    task_root = sandbox.TASK_ROOT if spec else code_dir
    layers_seen = sandbox.layer_mounts(len(layer_dirs)) if spec and layer_dirs else layer_dirs
    own_env = fv_config.environment or {}
    env = _handler_env(interpreter, runtime, task_root, layers_seen, env_vars, own_env,
                       sandbox.RUNTIME_ROOT if spec else RUNTIME_DIR)
    log_settings = LogSettings.of(fv_config.logging_config)
    env.update(log_settings.runtime_env())

    runtime_lib = runtime_lib_path()
    child_config = {
        "layers": layers_seen,
        "runtime_lib": (sandbox.SDK_ROOT if runtime_lib else None) if spec else runtime_lib,
        # the function's own hot code compiles from source (an edit saved in the same
        # second can hide behind a .pyc); hot layers (dependencies) keep their caches
        "hot_reload_roots": [task_root] if fv_config.code.is_hot_reloading() else [],
        "response_limit": response_limit,
    }
    if spec and decision.spares and (jail := sandbox.jail_spec(spec, sandbox.code_root())):
        child_config["jail"] = jail  # what a claimed spare mounts (runtime/jail.py)
    command = runtime_command(interpreter, SANDBOX_ENTRYPOINT if spec else ENTRYPOINT)
    wrapper = None
    if wrapper_path := env.get("AWS_LAMBDA_EXEC_WRAPPER"):
        wrapper = host_path(wrapper_path, code_dir, layer_dirs)
        command.insert(0, sandbox.inside(wrapper, spec) if spec else wrapper)
    if spec:
        command = sandbox.command(decision, spec, command)
        read_only = (RUNTIME_DIR, spec.sdk_dir, code_dir, *layer_dirs)
        sandbox.precompile(interpreter, [d for d in read_only if d and d not in hot_roots])
    return Launch(
        interpreter=interpreter,
        command=command,
        env=env,
        cwd="/" if spec else code_dir,  # sandboxed: bwrap changes to /var/task
        child_config=child_config,
        layer_dirs=layer_dirs,
        own_env=own_env,
        wrapper=wrapper,
        watchers=[watcher_for(root) for root in hot_roots],
        log_settings=log_settings,
        sandboxed=spec is not None,
        code_dir=code_dir,
    )


def _sandbox_spec(fv_config, interpreter: str, code_dir: str, layer_dirs: list[str]
                  ) -> sandbox.Spec:
    storage = getattr(fv_config, "ephemeral_storage", None)
    return sandbox.Spec(
        interpreter=interpreter,
        code_dir=code_dir,
        layer_dirs=layer_dirs,
        runtime_dir=RUNTIME_DIR,
        sdk_dir=runtime_lib_path(),
        tmp_mb=getattr(storage, "size", None) or sandbox.DEFAULT_TMP_MB,
        etc_dir=sandbox.etc_dir(),
    )


class FailedChild:
    """A runtime that could not even be exec'd (AWS: the bootstrap script exits 127/126)."""

    def __init__(self, returncode: int, message: str):
        self.returncode = returncode
        self.init_error: Frame | PumpEnd | None = PumpEnd.EOF
        self.init_logs = message.encode()
        self.init_duration_ms = 0.0
        self.max_rss_kib = 0
        self.out_of_memory = False
        self.dead = True
        self.invoked = False
        self.tail = bytearray(self.init_logs)

    def close(self) -> None:
        pass

    def kill(self) -> None:
        pass
