"""scripts/launcher/host_processes.py: finding and stopping a host-mode instance's processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from launcher import config, host_processes, pidfile, procfs
from launcher.pidfile import PidFile
from localstack_hostmode import contract


def test_our_processes_finds_marked_processes_only(home: Path) -> None:
    marker_env = dict(os.environ, **{contract.RUN_DIR_ENV: str(config.run_dir())})
    code = "import time; time.sleep(30)"
    ours = subprocess.Popen([sys.executable, "-c", code], env=marker_env,
                            start_new_session=True)
    other = subprocess.Popen([sys.executable, "-c", code], start_new_session=True)
    try:
        found = {p.pid for p in host_processes.our_processes(None)}
        assert ours.pid in found
        assert other.pid not in found
    finally:
        for p in (ours, other):
            p.kill()
            p.wait()


def test_our_processes_finds_sandboxes_mounting_this_instances_code(home: Path) -> None:
    code = "import time; time.sleep(30)"
    mounts = ["--ro-bind", f"{config.tmp_dir()}/lambda/fn/code", "/var/task"]
    elsewhere = ["--ro-bind", "/tmp/lambda/fn/code", "/var/task"]
    # bwrap's argv (argv[0] "bwrap"), with an unmarked environment as the executor gives it
    ours = subprocess.Popen(["bwrap", "-c", code, *mounts], executable=sys.executable,
                            env={}, start_new_session=True)
    other = subprocess.Popen(["bwrap", "-c", code, *elsewhere], executable=sys.executable,
                             env={}, start_new_session=True)
    not_bwrap = subprocess.Popen([sys.executable, "-c", code, *mounts], env={},
                                 start_new_session=True)
    try:
        found = {p.pid for p in host_processes.our_processes(None)}
        assert ours.pid in found
        assert other.pid not in found and not_bwrap.pid not in found
    finally:
        for p in (ours, other, not_bwrap):
            p.kill()
            p.wait()


def test_stale_pid_file_is_not_alive(home: Path) -> None:
    config.run_dir().mkdir(parents=True)
    # a pid that exists but started at another time is a reused pid, not our LocalStack
    me = procfs.proc_info(os.getpid())
    assert me is not None
    alive = host_processes.leader_alive
    assert alive(PidFile(mode="host", pid=me.pid, start=me.start - 1)) is None
    assert alive(PidFile(mode="host", pid=me.pid, start=me.start)) is not None
    assert alive(PidFile(mode="docker", pid=me.pid, start=me.start)) is None
    assert alive(None) is None


def test_backend_ports_reads_what_the_plugin_recorded(home: Path) -> None:
    assert host_processes.backend_ports() == set()
    config.run_dir().mkdir(parents=True)
    config.dynamodb_backend_file().write_text('{"pid": 1, "port": 45123, "url": "x"}')
    assert host_processes.backend_ports() == {45123}
    config.dynamodb_backend_file().write_text("not json")
    assert host_processes.backend_ports() == set()


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
def fake_leader(home: Path, tmp_path: Path) -> Iterator[Callable[[bool], tuple[PidFile, Path]]]:
    """Starts fake LocalStacks (own session each); whatever a failing test leaves is killed."""
    groups: list[int] = []

    def start(hang: bool) -> tuple[PidFile, Path]:
        info, log = _start_fake_leader(tmp_path, hang)
        assert info.pid is not None
        groups.append(info.pid)
        return info, log

    yield start
    for group in groups:
        try:
            os.killpg(group, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _start_fake_leader(tmp_path: Path, hang: bool) -> tuple[PidFile, Path]:
    config.run_dir().mkdir(parents=True, exist_ok=True)
    log = tmp_path / "events.log"
    env = dict(os.environ, **{contract.RUN_DIR_ENV: str(config.run_dir())})
    proc = subprocess.Popen([sys.executable, "-c", FAKE_LEADER, str(log),
                             "hang" if hang else "ok", FAKE_WORKER, str(config.log_file())],
                            env=env,
                            start_new_session=True)
    deadline = time.monotonic() + 10
    while "worker ready" not in (log.read_text() if log.exists() else ""):
        assert time.monotonic() < deadline, "fake LocalStack did not start"
        time.sleep(0.05)
    me = procfs.proc_info(proc.pid)
    assert me is not None
    info = PidFile(mode="host", pid=proc.pid, start=me.start)
    info.write()
    proc.returncode = 0  # reaped by the test's interpreter only as a zombie; proc_info skips it
    return info, log


def test_down_lets_localstack_stop_its_own_processes_first(
        fake_leader: Callable[[bool], tuple[PidFile, Path]],
        capsys: pytest.CaptureFixture[str]) -> None:
    info, log = fake_leader(False)
    assert host_processes.stop_host(info) == 2
    events = log.read_text().splitlines()
    # SIGTERM reached LocalStack alone; it stopped its worker before anything else did
    assert events == ["worker ready", "leader got TERM", "worker got stopped by leader"]
    assert "SIGKILL" not in capsys.readouterr().err
    assert host_processes.our_processes(info) == []
    assert not config.pid_file().exists()


def test_down_kills_what_ignores_sigterm(fake_leader: Callable[[bool], tuple[PidFile, Path]],
                                         monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(config, "TERM_GRACE_S", 0.5)
    info, _ = fake_leader(True)
    assert host_processes.stop_host(info) == 2
    err = capsys.readouterr().err
    assert "did not exit within 0.5s of SIGTERM; sending SIGKILL" in err
    # AND before the SIGKILL it showed where LocalStack hung: its threads' stacks
    assert "did not exit within 0.5s of SIGTERM; its threads were:" in err
    assert "most recent call first" in err and 'File "<string>"' in err
    assert host_processes.our_processes(info) == []
    assert pidfile.read() is None


def test_down_removes_the_unzipped_lambda_code(home: Path) -> None:
    code = config.tmp_dir() / "lambda" / "awslambda-us-east-1-tasks" / "abc" / "code"
    code.mkdir(parents=True)
    (code / "handler.py").write_text("def handler(event, context): return 1\n")
    host_processes.stop_host(None)
    assert not config.tmp_dir().exists()
    assert config.run_dir().is_dir()
