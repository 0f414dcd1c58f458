"""Where things are, the HOSTMODE_* knobs, and the environment host-mode LocalStack runs in.

Paths shared with the plugins (the run directory, the runtime lib, the names LocalStack's side
reads from its environment) come from ``plugins/localstack_hostmode/contract.py``.
"""

from __future__ import annotations

import ast
import json
import os
import re
import sys
from pathlib import Path

from .console import HostmodeError

ROOT = Path(__file__).resolve().parents[2]
PLUGINS_DIR = ROOT / "plugins"
# the contract is stdlib-only; its package __init__ imports nothing of LocalStack
if str(PLUGINS_DIR) not in sys.path:
    sys.path.append(str(PLUGINS_DIR))
from localstack_hostmode import contract  # noqa: E402

LS_HOME = contract.LS_HOME
LS_VENV = LS_HOME / "venv"
LAMBDA_RUNTIME_LIB = contract.RUNTIME_LIB
# packages LocalStack would download at run time, pre-installed once, shared by every port
PACKAGES_ROOT = LS_HOME / "packages"
STATIC_LIBS = PACKAGES_ROOT / "usr" / "lib" / "localstack"
LOCALSTACK_LOCK = ROOT / "requirements" / "localstack.txt"
LAMBDA_RUNTIME_LOCK = ROOT / "requirements" / "lambda-runtime.txt"
INIT_SCRIPT = ROOT / "init-aws.sh"
COMPOSE_FILE = ROOT / "docker-compose.yml"
# the app's resource names; init-aws.sh applies them, each overridable by its `env` variable
DATA_LAYER_SPEC = ROOT / "functions" / "common" / "data_layer.json"

HEALTH_TIMEOUT_S = float(os.environ.get("HOSTMODE_START_TIMEOUT", "90"))
INIT_TIMEOUT_S = float(os.environ.get("HOSTMODE_INIT_TIMEOUT", "120"))
# how long `down` waits for LocalStack to shut down in order before it sends SIGKILL
TERM_GRACE_S = float(os.environ.get("HOSTMODE_STOP_TIMEOUT", "5"))
# what is left once LocalStack has exited (Lambda workers) gets this long after SIGTERM
LEFTOVER_GRACE_S = 2.0


def plugins_editable() -> bool:
    """Install the plugins editable: their code changes take effect at the next `make up`."""
    return os.environ.get("HOSTMODE_PLUGINS_EDITABLE", "1") != "0"


# ----------------------------------------------------------------------------- per port


def port() -> int:
    raw = os.environ.get("LOCALSTACK_PORT", "4566").strip() or "4566"
    try:
        value = int(raw)
    except ValueError:
        raise HostmodeError(f"LOCALSTACK_PORT must be a number, got {raw!r}") from None
    if not 0 < value < 65536:
        raise HostmodeError(f"LOCALSTACK_PORT out of range: {value}")
    return value


def url() -> str:
    return f"http://127.0.0.1:{port()}"


def run_dir() -> Path:
    return contract.run_dir_for(port(), LS_HOME)


def fs_root() -> Path:
    return run_dir() / "fs"


def tmp_dir() -> Path:
    """LocalStack's TMPDIR: the Lambda code and layers it unzips stay private to this port and
    go with `down` (by default they pile up, world-readable, in the system's /tmp/lambda)."""
    return run_dir() / "tmp"


def log_file() -> Path:
    return run_dir() / "localstack.log"


def pid_file() -> Path:
    return run_dir() / "localstack.pid"


def init_log_file() -> Path:
    return run_dir() / "init-aws.log"


def init_done_file() -> Path:
    """Written by the host-mode init wrapper when the init script has exited (its status)."""
    return run_dir() / "init-aws.done"


def dynamodb_backend_file() -> Path:
    return run_dir() / contract.DYNAMODB_BACKEND_STATE


def init_script() -> Path | None:
    """The ready.d script `up` runs: init-aws.sh, or HOSTMODE_INIT_SCRIPT (empty: none)."""
    override = os.environ.get("HOSTMODE_INIT_SCRIPT")
    if override is None:
        return INIT_SCRIPT
    if not override.strip():
        return None
    path = Path(override).expanduser()
    path = path if path.is_absolute() else ROOT / path
    if not path.is_file():
        raise HostmodeError(f"HOSTMODE_INIT_SCRIPT not found: {path}")
    return path.resolve()


# ----------------------------------------------------------------------------- environments


def clean_env() -> dict[str, str]:
    env = dict(os.environ)
    # the caller's virtualenv/pythonpath must not leak into LocalStack's interpreter
    for key in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PYTHONSTARTUP", "__PYVENV_LAUNCHER__"):
        env.pop(key, None)
    return env


def packages_env() -> dict[str, str]:
    """For `localstack.cli.lpm install`: installs into the shared packages root."""
    env = clean_env()
    env.update({"OVERRIDE_IN_DOCKER": "0", "FILESYSTEM_ROOT": str(PACKAGES_ROOT),
                "DISABLE_EVENTS": "1", "SKIP_SSL_CERT_DOWNLOAD": "1"})
    return env


# What of the caller's environment LocalStack gets (see localstack_env)
PASSED_NAMES = frozenset({
    "PATH", "HOME", "USER", "LOGNAME", "SHELL", "TERM", "LANG", "LANGUAGE", "TZ", "TMPDIR",
    "NO_COLOR", "SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE",
})
PASSED_PREFIXES = ("LOCALSTACK_", "HOSTMODE_", "LAMBDA_", "PROVIDER_OVERRIDE_", "AWS_", "LC_",
                   "PYENV")
# AWS credentials stay out: LocalStack takes any, init scripts default to test/test
WITHHELD_NAMES = frozenset({
    "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN",
    "AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN",
})


def localstack_config_names() -> frozenset[str]:
    """The environment variables LocalStack's config reads (its CONFIG_ENV_VARS list, read from
    the installed source: the launcher does not import LocalStack)."""
    for source in sorted(LS_VENV.glob("lib/python3*/site-packages/localstack/config.py")):
        try:
            tree = ast.parse(source.read_text(encoding="utf-8"))
        except (OSError, SyntaxError, ValueError):
            continue
        for node in tree.body:
            if (isinstance(node, ast.Assign) and isinstance(node.value, ast.List)
                    and any(getattr(t, "id", None) == "CONFIG_ENV_VARS" for t in node.targets)):
                return frozenset(e.value for e in node.value.elts
                                 if isinstance(e, ast.Constant) and isinstance(e.value, str))
    return frozenset()


def _spec_env_names(node: object) -> set[str]:
    if isinstance(node, dict):
        found = {node["env"]} if isinstance(node.get("env"), str) else set()
        for value in node.values():
            found |= _spec_env_names(value)
        return found
    if isinstance(node, list):
        return set().union(*(_spec_env_names(value) for value in node))
    return set()


def init_script_names() -> frozenset[str]:
    """The variables the init script reads: those it names ($NAME, ${NAME}) and the data
    layer's overrides (USERS_TABLE, ORDERS_QUEUE, ...), which it applies through Python."""
    names: set[str] = set()
    script = init_script()
    try:
        if script is not None:
            text = script.read_text(encoding="utf-8", errors="replace")
            names |= set(re.findall(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)", text))
        names |= _spec_env_names(json.loads(DATA_LAYER_SPEC.read_text(encoding="utf-8")))
    except (OSError, ValueError):
        pass
    return frozenset(names)


def init_needs_kinesis() -> bool:
    """Whether the init script is the data layer's (init-aws.sh) and its spec has a Kinesis
    stream or a table with a stream: then the Kinesis mock is needed by every `make up`, and
    LocalStack starts it while it boots (patch kinesis_mock_prestart)."""
    if init_script() != INIT_SCRIPT:
        return False
    try:
        spec = json.loads(DATA_LAYER_SPEC.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    tables = (spec.get("tables") or {}).values()
    return bool(spec.get("streams")) or any(t.get("stream") for t in tables)


def read_names() -> frozenset[str]:
    """The names LocalStack or the init script read, beyond PASSED_NAMES and PASSED_PREFIXES."""
    return localstack_config_names() | init_script_names()


def passed_env(environ: dict[str, str], known_names: frozenset[str]) -> dict[str, str]:
    """The part of `environ` LocalStack may see: the names in PASSED_NAMES, those starting with
    a PASSED_PREFIXES entry, and `known_names` (read_names()), minus AWS credentials."""
    def passed(key: str) -> bool:
        if key in WITHHELD_NAMES:
            return False
        return key in PASSED_NAMES or key in known_names or key.startswith(PASSED_PREFIXES)

    return {key: value for key, value in environ.items() if passed(key)}


def localstack_env(token: str) -> dict[str, str]:
    """LocalStack's environment: minimal, because everything in it is readable by any Lambda
    handler (/proc/<LocalStack's pid>/environ). The rule: only what LocalStack and its children
    need passes (passed_env: the basics -- PATH, HOME, locale, TMPDIR, certificates --, the
    LOCALSTACK_/HOSTMODE_/LAMBDA_/AWS_ knobs without credentials, pyenv's variables that
    find interpreters, the names LocalStack's config reads, and those the init script reads:
    init_script_names); the rest of the caller's shell (tokens, passwords, other projects'
    settings) stays out."""
    p = port()
    env = passed_env(clean_env(), read_names())
    # user-facing defaults; a value in the environment wins
    defaults = {
        # LocalStack's standard names (public DNS -> 127.0.0.1): function URLs are virtual hosts
        # of it; without DNS, connect to 127.0.0.1 with the name as the Host header
        "LOCALSTACK_HOST": f"{contract.STANDARD_HOSTNAME}:{p}",
        # queue URLs follow the host the client called (http://127.0.0.1:<port>/queue/...)
        "SQS_ENDPOINT_STRATEGY": "dynamic",
        # an idle queue is polled again within 1 s instead of up to 10 s
        "LAMBDA_EVENT_SOURCE_MAPPING_MAX_BACKOFF_ON_EMPTY_POLL_SEC": "1",
        "AWS_DEFAULT_REGION": "us-east-1",
        # the Kinesis mock delays stream changes by 500 ms by default (DynamoDB streams too)
        "KINESIS_LATENCY": "0",
        # glibc gives each of LocalStack's many threads its own malloc arena: ~30 MB idle RSS
        "MALLOC_ARENA_MAX": "2",
        # the init script's first request would start the Kinesis mock: start it at boot
        "HOSTMODE_KINESIS_PRESTART": "1" if init_needs_kinesis() else "",
    }
    for key, value in defaults.items():
        if value and not env.get(key):
            env[key] = value
    env.update({
        "OVERRIDE_IN_DOCKER": "0",
        "FILESYSTEM_ROOT": str(fs_root()),
        "TMPDIR": str(tmp_dir()),
        # hypercorn honours the 127.0.0.1 host; the twisted gateway binds 0.0.0.0
        "GATEWAY_SERVER": "hypercorn",
        "GATEWAY_LISTEN": f"127.0.0.1:{p}",
        "DNS_ADDRESS": "0",
        "SKIP_SSL_CERT_DOWNLOAD": "1",
        "DISABLE_EVENTS": "1",
        "LAMBDA_RUNTIME_EXECUTOR": "local-process",
        "PROVIDER_OVERRIDE_DYNAMODB": "moto",
        contract.RUNTIME_LIB_ENV: str(LAMBDA_RUNTIME_LIB),
        # marks every process of this instance, so `down` finds them even when orphaned
        contract.RUN_DIR_ENV: str(run_dir()),
        "HOSTMODE_INSTANCE": token,
        # awslocal/aws for init scripts come from LocalStack's venv
        "PATH": f"{LS_VENV / 'bin'}{os.pathsep}{env.get('PATH', '')}",
        "PYTHONUNBUFFERED": "1",
    })
    return env


def run_dir_marker() -> bytes:
    """The /proc/<pid>/environ entry every process of this port's instance carries."""
    return contract.run_dir_marker(run_dir())
