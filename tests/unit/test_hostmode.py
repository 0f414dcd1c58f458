"""Unit tests of scripts/hostmode.py: no LocalStack, no network."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import hostmode


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point the launcher's state at a temp dir and an unusual port."""
    monkeypatch.setattr(hostmode, "LS_HOME", tmp_path / ".localstack")
    monkeypatch.setenv("LOCALSTACK_PORT", "4599")
    return tmp_path / ".localstack"


# ----------------------------------------------------------------------------- settings


@pytest.mark.parametrize("raw", ["abc", "0", "70000"])
def test_bad_port_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, raw: str) -> None:
    monkeypatch.setenv("LOCALSTACK_PORT", raw)
    with pytest.raises(hostmode.HostmodeError, match="LOCALSTACK_PORT"):
        hostmode.port()


def test_per_port_paths(home: Path) -> None:
    assert hostmode.run_dir() == home / "run" / "4599"
    assert hostmode.fs_root() == home / "run" / "4599" / "fs"
    assert hostmode.url() == "http://127.0.0.1:4599"


def test_mode_must_be_known(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOCALSTACK_MODE", "kubernetes")
    with pytest.raises(hostmode.HostmodeError, match="auto, docker or host"):
        hostmode.choose_mode()


def test_auto_mode_without_docker_is_host(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOCALSTACK_MODE", "auto")
    monkeypatch.setattr(hostmode, "docker_available", lambda timeout=3.0: False)
    assert hostmode.choose_mode() == "host"
    monkeypatch.setattr(hostmode, "docker_available", lambda timeout=3.0: True)
    assert hostmode.choose_mode() == "docker"


def test_forced_docker_without_engine_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOCALSTACK_MODE", "docker")
    monkeypatch.setattr(hostmode, "docker_available", lambda timeout=3.0: False)
    with pytest.raises(hostmode.HostmodeError, match="no Docker engine"):
        hostmode.choose_mode()


def test_forced_host_ignores_docker(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOCALSTACK_MODE", "host")
    monkeypatch.setattr(hostmode, "docker_available", lambda timeout=3.0: True)
    assert hostmode.choose_mode() == "host"


# ----------------------------------------------------------------------------- env


def test_localstack_env_binds_loopback_and_forces_host_mode(
        home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEBUG", "1")
    monkeypatch.setenv("LAMBDA_KEEPALIVE_MS", "1234")
    monkeypatch.setenv("PYTHONPATH", "/somewhere/else")
    monkeypatch.setenv("GATEWAY_LISTEN", "0.0.0.0:4566")  # must not leak onto the network
    monkeypatch.delenv("LOCALSTACK_HOST", raising=False)
    env = hostmode.localstack_env("tok")
    assert env["GATEWAY_LISTEN"] == "127.0.0.1:4599"
    assert env["GATEWAY_SERVER"] == "hypercorn"
    assert env["OVERRIDE_IN_DOCKER"] == "0"
    assert env["FILESYSTEM_ROOT"] == str(home / "run" / "4599" / "fs")
    assert env["DNS_ADDRESS"] == "0"
    assert env["SKIP_SSL_CERT_DOWNLOAD"] == "1"
    assert env["DISABLE_EVENTS"] == "1"
    assert env["LAMBDA_RUNTIME_EXECUTOR"] == "local-process"
    assert env["PROVIDER_OVERRIDE_DYNAMODB"] == "moto"
    assert Path(env["HOSTMODE_LAMBDA_RUNTIME_LIB"]).is_absolute()
    assert env["HOSTMODE_RUN_DIR"] == str(home / "run" / "4599")
    assert env["HOSTMODE_INSTANCE"] == "tok"
    assert env["PATH"].split(os.pathsep)[0] == str(hostmode.LS_VENV / "bin")
    assert int(env["LAMBDA_EVENT_SOURCE_MAPPING_MAX_BACKOFF_ON_EMPTY_POLL_SEC"]) <= 1
    # user knobs pass through, the caller's Python setup does not
    assert env["DEBUG"] == "1"
    assert env["LAMBDA_KEEPALIVE_MS"] == "1234"
    assert "PYTHONPATH" not in env
    assert env["LOCALSTACK_HOST"] == "127.0.0.1:4599"


def test_user_can_override_defaults(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAMBDA_EVENT_SOURCE_MAPPING_MAX_BACKOFF_ON_EMPTY_POLL_SEC", "5")
    monkeypatch.setenv("SQS_ENDPOINT_STRATEGY", "standard")
    env = hostmode.localstack_env("tok")
    assert env["LAMBDA_EVENT_SOURCE_MAPPING_MAX_BACKOFF_ON_EMPTY_POLL_SEC"] == "5"
    assert env["SQS_ENDPOINT_STRATEGY"] == "standard"


def test_prepare_filesystem_installs_init_hook(home: Path) -> None:
    hostmode.prepare_filesystem()
    hook = hostmode.fs_root() / "etc" / "localstack" / "init" / "ready.d" / "init-aws.sh"
    assert hook.exists() and os.access(hook, os.X_OK)
    text = hook.read_text()
    assert str(hostmode.INIT_SCRIPT) in text
    assert "http://127.0.0.1:4599" in text
    # idempotent
    hostmode.prepare_filesystem()
    assert sorted(p.name for p in hook.parent.iterdir()) == ["init-aws.sh"]


# ----------------------------------------------------------------------------- venv stamps


def test_lock_closure_follows_includes(tmp_path: Path) -> None:
    (tmp_path / "base.txt").write_text("a==1\n")
    (tmp_path / "c.txt").write_text("b==2\n")
    (tmp_path / "top.txt").write_text("-r base.txt\n-c c.txt\nx==3\n")
    closure = hostmode.lock_closure(tmp_path / "top.txt")
    assert {p.name for p in closure} == {"top.txt", "base.txt", "c.txt"}


def test_stamp_changes_when_an_included_lock_changes(tmp_path: Path) -> None:
    (tmp_path / "base.txt").write_text("a==1\n")
    (tmp_path / "top.txt").write_text("-r base.txt\n")
    before = hostmode.hash_files(hostmode.lock_closure(tmp_path / "top.txt"))
    assert before == hostmode.hash_files(hostmode.lock_closure(tmp_path / "top.txt"))
    (tmp_path / "base.txt").write_text("a==2\n")
    assert before != hostmode.hash_files(hostmode.lock_closure(tmp_path / "top.txt"))


def test_localstack_stamp_covers_all_inputs() -> None:
    names = {p.name for p in hostmode.lock_closure(hostmode.LOCALSTACK_LOCK)}
    assert {"localstack.txt", "localstack-runtime.txt"} <= names
    assert len(hostmode.localstack_stamp()) == 64


def test_up_to_date_venv_is_not_reinstalled(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                            ) -> None:
    lock = tmp_path / "lock.txt"
    lock.write_text("pkg==1\n")
    venv = tmp_path / "venv"
    calls: list[tuple] = []
    monkeypatch.setattr(hostmode, "_venv_python_ok", lambda v: v.exists())
    monkeypatch.setattr(hostmode, "_create_venv", lambda v: v.mkdir(exist_ok=True))
    monkeypatch.setattr(hostmode, "_pip", lambda v, *a: calls.append(a))
    hostmode.ensure_venv(venv, lock)
    assert len(calls) == 1
    hostmode.ensure_venv(venv, lock)
    assert len(calls) == 1, "an up-to-date venv was reinstalled"
    lock.write_text("pkg==2\n")
    hostmode.ensure_venv(venv, lock)
    assert len(calls) == 2, "a changed lock did not trigger a reinstall"


# ----------------------------------------------------------------------------- python finder


def _fake_pythons(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, on_path: dict[str, tuple],
                  pyenv_versions: dict[str, tuple] | None) -> None:
    monkeypatch.delenv("HOSTMODE_PYTHON", raising=False)
    versions: dict[str, tuple] = {}
    paths = {}
    for name, ver in on_path.items():
        paths[name] = f"/usr/bin/{name}"
        versions[f"/usr/bin/{name}"] = ver
    root = tmp_path / "pyenv"
    if pyenv_versions is not None:
        for vname, ver in pyenv_versions.items():
            exe = root / "versions" / vname / "bin" / "python3"
            exe.parent.mkdir(parents=True)
            exe.write_text("")
            versions[str(exe)] = ver
        paths["pyenv"] = "/usr/bin/pyenv"

    monkeypatch.setattr(hostmode.shutil, "which", lambda n: paths.get(n))

    real_run = subprocess.run

    def fake_run(cmd, *a, **kw):
        if cmd[:2] == ["/usr/bin/pyenv", "root"]:
            return subprocess.CompletedProcess(cmd, 0, stdout=f"{root}\n", stderr="")
        return real_run(cmd, *a, **kw)

    monkeypatch.setattr(hostmode.subprocess, "run", fake_run)
    monkeypatch.setattr(hostmode, "_python_version",
                        lambda exe: (versions[exe], exe) if exe in versions else None)


def test_finder_prefers_path(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    _fake_pythons(monkeypatch, tmp_path, {"python3.12": (3, 12), "python3": (3, 11)},
                  {"3.13.0": (3, 13)})
    assert hostmode.find_python() == "/usr/bin/python3.12"


def test_finder_falls_back_to_newest_pyenv_version(monkeypatch: pytest.MonkeyPatch,
                                                   tmp_path: Path) -> None:
    _fake_pythons(monkeypatch, tmp_path, {"python3": (3, 11)},
                  {"3.12.1": (3, 12), "3.13.0": (3, 13), "3.9.18": (3, 9)})
    assert hostmode.find_python().endswith("/versions/3.13.0/bin/python3")


def test_finder_explains_when_nothing_fits(monkeypatch: pytest.MonkeyPatch,
                                           tmp_path: Path) -> None:
    _fake_pythons(monkeypatch, tmp_path, {"python3": (3, 11)}, None)
    with pytest.raises(hostmode.HostmodeError, match="Python >= 3.12"):
        hostmode.find_python()


def test_python_version_of_this_interpreter() -> None:
    version, exe = hostmode._python_version(sys.executable)
    assert version == sys.version_info[:2]
    assert Path(exe).exists()


# ----------------------------------------------------------------------------- /proc


def test_listening_ports_sees_a_listening_socket() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        assert hostmode.port_listening(port)
        assert os.getpid() in hostmode.socket_owners(hostmode.listening_ports()[port])
    assert not hostmode.port_listening(port)


def test_our_processes_finds_marked_processes_only(home: Path) -> None:
    marker_env = dict(os.environ, HOSTMODE_RUN_DIR=str(hostmode.run_dir()))
    code = "import time; time.sleep(30)"
    ours = subprocess.Popen([sys.executable, "-c", code], env=marker_env,
                            start_new_session=True)
    other = subprocess.Popen([sys.executable, "-c", code], start_new_session=True)
    try:
        found = {p.pid for p in hostmode.our_processes(None)}
        assert ours.pid in found
        assert other.pid not in found
    finally:
        for p in (ours, other):
            p.kill()
            p.wait()


def test_stale_pid_file_is_not_alive(home: Path) -> None:
    hostmode.run_dir().mkdir(parents=True)
    # a pid that exists but started at another time is a reused pid, not our LocalStack
    me = hostmode.proc_info(os.getpid())
    assert me is not None
    assert hostmode.leader_alive({"mode": "host", "pid": me.pid, "start": me.start - 1}) is None
    assert hostmode.leader_alive({"mode": "host", "pid": me.pid, "start": me.start}) is not None
    assert hostmode.leader_alive({"mode": "docker", "pid": me.pid, "start": me.start}) is None
    assert hostmode.leader_alive(None) is None


def test_tail_reads_last_lines(tmp_path: Path) -> None:
    f = tmp_path / "log"
    f.write_text("".join(f"line {i}\n" for i in range(100)))
    assert hostmode.tail(f, 3).splitlines() == ["line 97", "line 98", "line 99"]
    assert "no log" in hostmode.tail(tmp_path / "missing", 3)


def test_launcher_parses_as_python_3_9() -> None:
    """The Makefile runs it with whatever python3 the machine has (>= 3.9)."""
    import ast

    source = Path(hostmode.__file__).read_text()
    ast.parse(source, feature_version=(3, 9))
    # runtime-evaluated annotations would need 3.10 for `X | None`; postponed evaluation is on
    assert "from __future__ import annotations" in source


# ----------------------------------------------------------------------------- init script knob


def test_init_script_override(home: Path, tmp_path: Path,
                              monkeypatch: pytest.MonkeyPatch) -> None:
    script = tmp_path / "my-init.sh"
    script.write_text("#!/usr/bin/env bash\necho hi\n")
    monkeypatch.setenv("HOSTMODE_INIT_SCRIPT", str(script))
    hostmode.prepare_filesystem()
    ready_d = hostmode.fs_root() / "etc" / "localstack" / "init" / "ready.d"
    assert sorted(p.name for p in ready_d.iterdir()) == ["my-init.sh"]
    assert str(script) in (ready_d / "my-init.sh").read_text()
    # empty: no init script at all (and the previous one is gone)
    monkeypatch.setenv("HOSTMODE_INIT_SCRIPT", "")
    hostmode.prepare_filesystem()
    assert list(ready_d.iterdir()) == []
    monkeypatch.setenv("HOSTMODE_INIT_SCRIPT", str(tmp_path / "missing.sh"))
    with pytest.raises(hostmode.HostmodeError, match="HOSTMODE_INIT_SCRIPT"):
        hostmode.prepare_filesystem()


# ----------------------------------------------------------------------------- stopping

# A stand-in for LocalStack: starts a marked worker; on SIGTERM stops it itself, then exits.
FAKE_WORKER = r"""
import signal, sys, time
log = sys.argv[1]
def on(sig, _f):
    what = "TERM by launcher" if sig == signal.SIGTERM else "stopped by leader"
    open(log, "a").write("worker got %s\n" % what)
    sys.exit(0)
signal.signal(signal.SIGTERM, on)
signal.signal(signal.SIGUSR1, on)
open(log, "a").write("worker ready\n")
while True:
    time.sleep(0.05)
"""
FAKE_LEADER = r"""
import faulthandler, signal, subprocess, sys, time
log, hang, worker_code = sys.argv[1], sys.argv[2] == "hang", sys.argv[3]
# like our plugin: SIGUSR2 writes every thread's stack to LocalStack's log
faulthandler.register(signal.SIGUSR2, file=open(sys.argv[4], "a"), all_threads=True)
worker = subprocess.Popen([sys.executable, "-c", worker_code, log])
def on_term(_s, _f):
    open(log, "a").write("leader got TERM\n")
    time.sleep(0.3)  # an orderly shutdown takes a moment
    worker.send_signal(signal.SIGUSR1)
    worker.wait()
    sys.exit(0)
signal.signal(signal.SIGTERM, signal.SIG_IGN if hang else on_term)
while True:
    time.sleep(0.05)
"""


@pytest.fixture
def fake_leader(home: Path, tmp_path: Path) -> Iterator[Callable[[bool], tuple[dict, Path]]]:
    """Starts fake LocalStacks (own session each); whatever a failing test leaves is killed."""
    groups: list[int] = []

    def start(hang: bool) -> tuple[dict, Path]:
        info, log = _start_fake_leader(home, tmp_path, hang)
        groups.append(info["pid"])
        return info, log

    yield start
    for group in groups:
        try:
            os.killpg(group, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _start_fake_leader(home: Path, tmp_path: Path, hang: bool) -> tuple[dict, Path]:
    hostmode.run_dir().mkdir(parents=True, exist_ok=True)
    log = tmp_path / "events.log"
    env = dict(os.environ, HOSTMODE_RUN_DIR=str(hostmode.run_dir()))
    proc = subprocess.Popen([sys.executable, "-c", FAKE_LEADER, str(log),
                             "hang" if hang else "ok", FAKE_WORKER, str(hostmode.log_file())],
                            env=env,
                            start_new_session=True)
    deadline = time.monotonic() + 10
    while "worker ready" not in (log.read_text() if log.exists() else ""):
        assert time.monotonic() < deadline, "fake LocalStack did not start"
        time.sleep(0.05)
    me = hostmode.proc_info(proc.pid)
    assert me is not None
    info = {"mode": "host", "pid": proc.pid, "start": me.start}
    hostmode.pid_file().write_text(json.dumps(info))
    proc.returncode = 0  # reaped by the test's interpreter only as a zombie; proc_info skips it
    return info, log


def test_down_lets_localstack_stop_its_own_processes_first(
        fake_leader: Callable[[bool], tuple[dict, Path]],
        capsys: pytest.CaptureFixture[str]) -> None:
    info, log = fake_leader(False)
    assert hostmode.stop_host(info) == 2
    events = log.read_text().splitlines()
    # SIGTERM reached LocalStack alone; it stopped its worker before anything else did
    assert events == ["worker ready", "leader got TERM", "worker got stopped by leader"]
    assert "SIGKILL" not in capsys.readouterr().err
    assert hostmode.our_processes(info) == []
    assert not hostmode.pid_file().exists()


def test_down_kills_what_ignores_sigterm(fake_leader: Callable[[bool], tuple[dict, Path]],
                                         monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(hostmode, "TERM_GRACE_S", 0.5)
    info, _ = fake_leader(True)
    assert hostmode.stop_host(info) == 2
    err = capsys.readouterr().err
    assert "did not exit within 0.5s of SIGTERM; sending SIGKILL" in err
    # AND before the SIGKILL it showed where LocalStack hung: its threads' stacks
    assert "did not exit within 0.5s of SIGTERM; its threads were:" in err
    assert "most recent call first" in err and 'File "<string>"' in err
    assert hostmode.our_processes(info) == []
