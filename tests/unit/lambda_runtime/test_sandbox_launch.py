"""The sandbox's launch spec (lambda_runtime/sandbox.py, launch.py): what bwrap is asked to mount
and what the function's environment says, and the once-only decision. No network, no LocalStack:
a duck-typed function version stands in for LocalStack's."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from localstack_hostmode import contract
from localstack_hostmode.lambda_runtime import interpreters, launch, sandbox
from localstack_hostmode.runtime import sealing

BWRAP = sandbox.Decision(sandbox.BWRAP, "test", "/usr/bin/bwrap")
PROCESS = sandbox.Decision(sandbox.PROCESS, "test")


def _pairs(args: list[str], option: str) -> list[tuple[str, str]]:
    return [(args[i + 1], args[i + 2]) for i, a in enumerate(args) if a == option]


def _spec(tmp_path: Path, layers: int = 0, interpreter: str = "/usr/bin/python3.13"
          ) -> sandbox.Spec:
    (tmp_path / "code").mkdir(exist_ok=True)
    layer_dirs = []
    for i in range(layers):
        (tmp_path / f"layer{i}").mkdir(exist_ok=True)
        layer_dirs.append(str(tmp_path / f"layer{i}"))
    return sandbox.Spec(interpreter=interpreter, code_dir=str(tmp_path / "code"),
                        layer_dirs=layer_dirs, runtime_dir="/rt", sdk_dir="/sdk", tmp_mb=1024,
                        etc_dir=str(tmp_path / "etc"))


@pytest.fixture
def decided(monkeypatch: pytest.MonkeyPatch):
    """Set the sandbox decision without probing; no background compiling."""
    monkeypatch.setattr(sandbox, "precompile", lambda interpreter, dirs: None)

    def set_decision(decision: sandbox.Decision) -> None:
        monkeypatch.setattr(sandbox, "_decision", decision)

    return set_decision


# ----------------------------------------------------------------------------- bwrap's options


def test_the_sandbox_shows_the_code_layers_and_runtime_where_aws_has_them(tmp_path: Path):
    spec = _spec(tmp_path, layers=1)
    args = sandbox.bwrap_args(spec)

    binds = dict((dest, src) for src, dest in _pairs(args, "--ro-bind"))
    assert binds["/var/task"] == spec.code_dir
    assert binds["/opt"] == spec.layer_dirs[0]
    assert binds["/var/runtime"] == "/rt"
    assert binds[sandbox.SDK_ROOT] == "/sdk"
    assert binds["/etc"] == str(tmp_path / "etc")  # its own /etc, not the host's
    # nothing writable from the host; no host root, home or secrets
    assert "--bind" not in args and "--dev-bind" not in args
    assert "/" not in binds and "/etc/shadow" not in binds
    assert not any(dest.startswith(("/home", "/root", "/work")) for dest in binds)
    # private /tmp capped at EphemeralStorage, read-only root, starts in /var/task
    tmpfs_at = args.index("--tmpfs")
    assert args[tmpfs_at + 1] == "/tmp" and args[tmpfs_at - 1] == str(1024 << 20)
    assert args[args.index("--remount-ro") + 1] == "/"
    assert args[args.index("--chdir") + 1] == "/var/task"
    assert ("--proc", "/proc") == tuple(args[args.index("--proc"):][:2])


def test_the_sandbox_user_is_unprivileged_in_its_own_pid_namespace_with_the_hosts_network(
        tmp_path: Path):
    args = sandbox.bwrap_args(_spec(tmp_path))

    assert args[args.index("--uid") + 1] == "993" and args[args.index("--gid") + 1] == "990"
    for option in ("--unshare-user", "--unshare-pid"):
        assert option in args
    assert "--as-pid-1" not in args  # an init ignores its own os.kill(os.getpid(), 9)
    assert "--unshare-net" not in args and "--unshare-all" not in args
    assert "--share-net" not in args  # the default with no --unshare-net
    assert "--cap-add" not in args


def test_an_interpreter_outside_usr_is_mounted_read_only_at_its_own_path(tmp_path: Path):
    prefix = tmp_path / "pyenv" / "versions" / "3.13.1"
    (prefix / "bin").mkdir(parents=True)
    (prefix / "bin" / "python3.13").write_text("")

    args = sandbox.bwrap_args(_spec(tmp_path, interpreter=str(prefix / "bin" / "python3.13")))

    assert (str(prefix), str(prefix)) in _pairs(args, "--ro-bind")
    assert sandbox.interpreter_root("/usr/bin/python3.13") is None  # /usr is mounted anyway


def test_several_layers_sit_side_by_side_under_opt(tmp_path: Path):
    spec = _spec(tmp_path, layers=2)

    assert sandbox.layer_mounts(2) == ["/opt/layer-1", "/opt/layer-2"]
    assert (spec.layer_dirs[1], "/opt/layer-2") in _pairs(sandbox.bwrap_args(spec), "--ro-bind")
    assert sandbox.inside(spec.layer_dirs[1] + "/bin/w", spec) == "/opt/layer-2/bin/w"
    assert sandbox.inside(spec.code_dir + "/w.sh", spec) == "/var/task/w.sh"
    assert sandbox.inside(spec.code_dir + "x/w.sh", spec) == spec.code_dir + "x/w.sh"


def test_the_command_runs_the_runtime_after_bwraps_options(tmp_path: Path):
    runtime = ["/usr/bin/python3.13", "-u", "/var/runtime/entrypoint.py"]
    command = sandbox.command(BWRAP, _spec(tmp_path), runtime)

    assert command[0] == "/usr/bin/bwrap" and sandbox.wraps(command)
    assert command[-4:] == ["--", *runtime]
    assert not sandbox.wraps(runtime)


def test_a_spare_sandbox_sees_the_code_root_until_it_is_claimed(tmp_path: Path):
    spec = sandbox.Spec(interpreter="/usr/bin/python3.13", code_dir=str(tmp_path),
                        runtime_dir="/rt", etc_dir=str(tmp_path / "etc"), spare=True)
    args = sandbox.bwrap_args(spec)

    assert (str(tmp_path), sandbox.SPARE_ROOT) in _pairs(args, "--ro-bind")
    assert "/var/task" not in dict((d, s) for s, d in _pairs(args, "--ro-bind"))
    assert args[args.index("--uid") + 1] == "0"  # until jail.py makes it 993
    assert args[args.index("--cap-add") + 1] == "CAP_SYS_ADMIN"
    for mount_point in ("/var/task", "/opt"):
        assert args[args.index(mount_point) - 1] == "--dir"


def test_a_claim_mounts_code_and_one_layer_from_under_the_code_root(tmp_path: Path):
    root = tmp_path / "lambda"
    (root / "fn" / "code").mkdir(parents=True)
    (root / "layer" / "code").mkdir(parents=True)
    spec = sandbox.Spec(interpreter="/usr/bin/python3.13", code_dir=str(root / "fn" / "code"),
                        layer_dirs=[str(root / "layer" / "code")], tmp_mb=1024)

    jail = sandbox.jail_spec(spec, str(root))

    assert jail == {"root": sandbox.SPARE_ROOT,
                    "mounts": [["fn/code", "/var/task"], ["layer/code", "/opt"]],
                    "tmp_bytes": 1024 << 20, "uid": 993, "gid": 990, "cwd": "/var/task"}
    # hot-reload code elsewhere, several layers: started directly
    spec.layer_dirs = [str(root / "layer" / "code")] * 2
    assert sandbox.jail_spec(spec, str(root)) is None
    spec.layer_dirs, spec.code_dir = [], str(tmp_path / "hot")
    assert sandbox.jail_spec(spec, str(root)) is None


def test_a_spare_sandbox_becomes_a_functions_sandbox():
    """The real thing (jail.py in a bwrap spare), where this machine can run it."""
    bwrap = sandbox.shutil.which("bwrap")
    if not bwrap or sandbox.probe(bwrap):
        pytest.skip("no bubblewrap sandbox on this machine")

    assert sandbox.probe_spares(bwrap) is None


# ----------------------------------------------------------------------------- the decision


@pytest.mark.parametrize(("setting", "bwrap", "probe_error", "mode"), [
    ("process", "/usr/bin/bwrap", None, sandbox.PROCESS),
    ("auto", "/usr/bin/bwrap", None, sandbox.BWRAP),
    ("", "/usr/bin/bwrap", None, sandbox.BWRAP),
    ("auto", None, None, sandbox.PROCESS),
    ("auto", "/usr/bin/bwrap", "no user namespaces", sandbox.PROCESS),
    ("bwrap", "/usr/bin/bwrap", "no user namespaces", sandbox.UNAVAILABLE),
    ("bwrap", None, None, sandbox.UNAVAILABLE),
    ("docker", "/usr/bin/bwrap", None, sandbox.UNAVAILABLE),
])
def test_the_setting_and_the_probe_decide(monkeypatch: pytest.MonkeyPatch, setting: str,
                                          bwrap: str | None, probe_error: str | None,
                                          mode: str):
    monkeypatch.setenv(contract.LAMBDA_SANDBOX_ENV, setting)
    monkeypatch.setattr(sandbox.shutil, "which", lambda name: bwrap)
    monkeypatch.setattr(sandbox, "probe", lambda path: probe_error)

    decision = sandbox._decide()

    assert decision.mode == mode
    assert decision.sandboxed == (mode == sandbox.BWRAP)
    if probe_error:
        assert probe_error in decision.reason
    if mode == sandbox.UNAVAILABLE:
        with pytest.raises(sandbox.SandboxUnavailable, match=contract.LAMBDA_SANDBOX_ENV):
            sandbox.require(decision)


def test_the_sandboxs_etc_knows_its_user_and_holds_no_secrets(tmp_path: Path):
    sandbox.make_etc(str(tmp_path / "etc"))

    names = {p.name for p in (tmp_path / "etc").iterdir()}
    assert {"passwd", "group"} <= names and "shadow" not in names and "gshadow" not in names
    assert "sbx_user1051:x:993:990:" in (tmp_path / "etc" / "passwd").read_text()
    if Path("/etc/ssl").is_dir():  # a mount point for the host's certificates
        assert (tmp_path / "etc" / "ssl").is_dir() and not any((tmp_path / "etc/ssl").iterdir())
        args = sandbox._etc_args(str(tmp_path / "etc"))
        assert ("/etc/ssl", "/etc/ssl") in _pairs(args, "--ro-bind")


def test_a_failing_probe_says_why(tmp_path: Path):
    fake = tmp_path / "bwrap"
    fake.write_text("#!/bin/sh\necho 'bwrap: No permissions to creating new namespace' >&2\n"
                    "exit 1\n")
    fake.chmod(0o755)

    assert "No permissions to creating new namespace" in sandbox.probe(str(fake))


def test_the_decision_is_written_for_make_status(monkeypatch: pytest.MonkeyPatch,
                                                 tmp_path: Path):
    monkeypatch.setenv(contract.RUN_DIR_ENV, str(tmp_path))

    sandbox.write_state(PROCESS)

    state = json.loads((tmp_path / contract.LAMBDA_SANDBOX_STATE).read_text())
    assert state == {"mode": "process", "reason": "test"}


def test_the_runtime_pid_is_under_the_sandboxs_init():
    # like bwrap -> bwrap (the namespace's init) -> runtime
    monitor = subprocess.Popen(["sh", "-c", "sh -c 'sleep 30; :' & wait"])
    try:
        import time

        def runtime_cmdline() -> bytes:
            pid = sandbox.runtime_pid(monitor.pid)
            return Path(f"/proc/{pid}/cmdline").read_bytes() if pid else b""

        deadline = time.monotonic() + 10  # until the inner shell has exec'd sleep
        while not runtime_cmdline().startswith(b"sleep") and time.monotonic() < deadline:
            time.sleep(0.01)
        assert runtime_cmdline().startswith(b"sleep")
        assert sandbox.runtime_pid(monitor.pid) != monitor.pid
    finally:
        sealing.kill_descendants(monitor.pid)
        monitor.kill()
        monitor.wait()


def test_bwraps_exit_status_says_how_the_runtime_ended():
    assert sandbox.exit_status(137) == -9  # killed: Popen's returncode for a signal
    assert sandbox.exit_status(3) == 3
    assert sandbox.exit_status(-9) == -9  # bwrap itself was killed
    assert sandbox.exit_status(None) is None


# ----------------------------------------------------------------------------- build_launch


def _function_version(code: Path, layers: list[Path], env: dict | None = None,
                      hot: bool = False):
    def code_of(path: Path, hot_reloading: bool = False):
        return SimpleNamespace(get_unzipped_code_location=lambda: path,
                               is_hot_reloading=lambda: hot_reloading)

    config = SimpleNamespace(
        runtime="python3.13", code=code_of(code, hot), environment=env or {},
        layers=[SimpleNamespace(code=code_of(layer)) for layer in layers],
        logging_config=None, ephemeral_storage=SimpleNamespace(size=2048),
    )
    return SimpleNamespace(config=config)


@pytest.fixture
def function_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    monkeypatch.setattr(interpreters, "_cache", {"python3.13": sys.executable})
    monkeypatch.setenv(contract.RUNTIME_LIB_ENV, str(tmp_path / "sdk"))
    monkeypatch.setattr(sandbox, "_state_dir", str(tmp_path / "state"))
    code, layer = tmp_path / "code", tmp_path / "layer"
    (code).mkdir()
    (layer / "bin").mkdir(parents=True)
    (layer / "bin" / "wrap").write_text("#!/bin/sh\nexec \"$@\"\n")
    (layer / "bin" / "wrap").chmod(0o755)
    return code, layer


def test_a_sandboxed_launch_shows_aws_paths(decided, function_dirs):
    decided(BWRAP)
    code, layer = function_dirs

    spec = launch.build_launch(_function_version(code, [layer]), {"_HANDLER": "app.h"}, 6000)

    env = spec.env
    assert env["LAMBDA_TASK_ROOT"] == env["PWD"] == "/var/task"
    assert env["LAMBDA_RUNTIME_DIR"] == env["PYTHONPATH"] == "/var/runtime"
    assert env["LD_LIBRARY_PATH"].split(":") == ["/var/task", "/var/task/lib", "/opt/lib"]
    assert env["PATH"].split(":")[-1] == "/opt/bin"
    assert spec.child_config["layers"] == ["/opt"]
    assert spec.child_config["runtime_lib"] == sandbox.SDK_ROOT
    assert spec.sandboxed and not spec.can_use_spare() and spec.cwd == "/"
    command = spec.command
    assert command[0] == "/usr/bin/bwrap"
    assert command[command.index("--") + 1:] == launch.runtime_command(
        sys.executable, "/var/runtime/entrypoint.py")
    tmpfs_at = command.index("--tmpfs")
    assert command[tmpfs_at - 1] == str(2048 << 20)  # EphemeralStorage.Size, MB


def test_a_sandboxed_exec_wrapper_runs_at_its_aws_path(decided, function_dirs):
    decided(BWRAP)
    code, layer = function_dirs
    version = _function_version(code, [layer], {"AWS_LAMBDA_EXEC_WRAPPER": "/opt/bin/wrap"})

    spec = launch.build_launch(version, {"AWS_LAMBDA_EXEC_WRAPPER": "/opt/bin/wrap"}, 6000)

    assert spec.wrapper == str(layer / "bin" / "wrap") and spec.wrapper_error() is None
    assert spec.command[spec.command.index("--") + 1] == "/opt/bin/wrap"


def test_hot_reloaded_code_is_mounted_too(decided, function_dirs):
    decided(BWRAP)
    code, _layer = function_dirs

    spec = launch.build_launch(_function_version(code, [], hot=True), {}, 6000)

    assert spec.child_config["hot_reload_roots"] == ["/var/task"]
    assert (str(code), "/var/task") in _pairs(spec.command, "--ro-bind")


def test_process_mode_keeps_the_real_directories(decided, function_dirs):
    decided(PROCESS)
    code, layer = function_dirs

    spec = launch.build_launch(_function_version(code, [layer]), {}, 6000)

    assert spec.env["LAMBDA_TASK_ROOT"] == spec.cwd == str(code)
    assert spec.env["LAMBDA_RUNTIME_DIR"] == launch.RUNTIME_DIR
    assert spec.child_config["layers"] == [str(layer)]
    assert spec.command == launch.runtime_command(sys.executable)
    assert not spec.sandboxed and spec.can_use_spare()
    assert launch.spare_command(sys.executable) == spec.command


def test_sandboxed_environments_take_no_spares_where_jail_cannot_run(decided):
    decided(BWRAP)

    with pytest.raises(launch.SparesNotUsed):
        launch.spare_command(sys.executable)


def test_sandboxed_spares_are_claimed_with_what_to_mount(decided, function_dirs,
                                                         monkeypatch: pytest.MonkeyPatch):
    decided(sandbox.Decision(sandbox.BWRAP, "test", "/usr/bin/bwrap", spares=True))
    code, layer = function_dirs
    monkeypatch.setattr(sandbox, "code_root", lambda: str(code.parent))

    spec = launch.build_launch(_function_version(code, [layer]), {}, 6000)
    spare = launch.spare_command(sys.executable)

    assert spec.can_use_spare()
    assert spec.child_config["jail"]["mounts"] == [["code", "/var/task"], ["layer", "/opt"]]
    assert sandbox.wraps(spare) and (str(code.parent), sandbox.SPARE_ROOT) in _pairs(
        spare, "--ro-bind")
    assert spare[-1] == "/var/runtime/entrypoint.py"
    hot = launch.build_launch(_function_version(code, [layer], hot=True), {}, 6000)
    assert "jail" in hot.child_config  # a folder under the code root mounts like any other
    monkeypatch.setattr(sandbox, "code_root", lambda: "/elsewhere")
    assert not launch.build_launch(_function_version(code, []), {}, 6000).can_use_spare()


def test_a_required_sandbox_that_cannot_start_fails_the_launch(decided, function_dirs):
    decided(sandbox.Decision(sandbox.UNAVAILABLE, "HOSTMODE_LAMBDA_SANDBOX=bwrap: no bwrap"))
    code, _layer = function_dirs

    with pytest.raises(sandbox.SandboxUnavailable, match="no bwrap"):
        launch.build_launch(_function_version(code, []), {}, 6000)
    with pytest.raises(launch.SparesNotUsed):  # no unsandboxed spares either
        launch.spare_command(sys.executable)
