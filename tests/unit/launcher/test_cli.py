"""scripts/launcher/cli.py: which backend a command uses, and the entry point's Python."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from launcher import cli, config, docker_backend, pidfile, readiness
from launcher.backend import Backend
from launcher.console import HostmodeError
from launcher.docker_backend import DockerBackend
from launcher.host_backend import HostBackend
from launcher.pidfile import PidFile
from localstack_hostmode import contract

SCRIPTS = Path(cli.__file__).resolve().parents[1]

# ----------------------------------------------------------------------------- mode


def test_mode_must_be_known(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOCALSTACK_MODE", "kubernetes")
    with pytest.raises(HostmodeError, match="auto, docker or host"):
        cli.choose_mode()


@pytest.mark.parametrize(("mode", "engine", "chosen"), [
    ("auto", False, "host"),  # auto without Docker is host
    ("auto", True, "docker"),
    ("host", True, "host"),  # forced host ignores Docker
])
def test_mode_follows_the_setting_and_the_engine(monkeypatch: pytest.MonkeyPatch, mode: str,
                                                 engine: bool, chosen: str) -> None:
    monkeypatch.setenv("LOCALSTACK_MODE", mode)
    monkeypatch.setattr(docker_backend, "docker_available", lambda timeout=3.0: engine)
    assert cli.choose_mode() == chosen


def test_forced_docker_without_engine_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOCALSTACK_MODE", "docker")
    monkeypatch.setattr(docker_backend, "docker_available", lambda timeout=3.0: False)
    with pytest.raises(HostmodeError, match="no Docker engine"):
        cli.choose_mode()


def test_the_pid_file_decides_whose_instance_it_is() -> None:
    assert isinstance(cli.recorded_backend(PidFile(mode="docker")), DockerBackend)
    assert isinstance(cli.recorded_backend(PidFile(mode="host", pid=1)), HostBackend)
    # no pid file: only host mode can have left processes behind
    assert isinstance(cli.recorded_backend(None), HostBackend)


# ----------------------------------------------------------------------------- backend chosen once


class FakeBackend(Backend):
    """Records every call; `up` writes a pid file of its mode like the real ones."""

    def __init__(self, mode: str, calls: list[str]) -> None:
        self.mode, self.calls = mode, calls

    def _called(self, what: str) -> None:
        self.calls.append(f"{self.mode}.{what}")

    def already_up(self, info: PidFile | None) -> bool:
        self._called("already_up")
        return False

    def install(self) -> bool:
        self._called("install")
        return False

    def up(self) -> PidFile:
        self._called("up")
        info = PidFile(mode=self.mode, url=config.url())
        info.write()
        return info

    def down(self, info: PidFile | None) -> None:
        self._called("down")

    def running(self, info: PidFile | None, health: dict | None) -> bool:
        self._called("running")
        return False

    def logs(self, lines: int, follow: bool) -> int:
        self._called(f"logs {lines} {follow}")
        return 0

    def init_output(self) -> str:
        self._called("init_output")
        return ""


@pytest.fixture
def fakes(home: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Both backends replaced by fakes; nothing answers on the port. Returns the call log."""
    calls: list[str] = []
    monkeypatch.setattr(cli, "BACKENDS", {m: lambda m=m: FakeBackend(m, calls)
                                          for m in ("host", "docker")})
    monkeypatch.setattr(cli, "port_listening", lambda port: False)
    monkeypatch.setattr(readiness, "health", lambda timeout=2.0: None)
    monkeypatch.setattr(readiness, "init_state", lambda: (True, []))
    monkeypatch.setattr(cli, "OUTPUTS_FILE", home / "build" / "outputs.json")
    monkeypatch.setattr(cli, "STALE_OUTPUTS_FILE", home / "build" / "outputs.stale.json")
    config.run_dir().mkdir(parents=True)
    return calls


@pytest.mark.parametrize("mode", ["host", "docker"])
def test_commands_use_the_recorded_backend_only(fakes: list[str], mode: str) -> None:
    PidFile(mode=mode).write()
    assert cli.main(["status"]) == 1
    assert cli.main(["logs", "-n", "7"]) == 0
    assert cli.main(["down"]) == 0
    assert fakes == [f"{mode}.running", f"{mode}.logs 7 False", f"{mode}.down"]


def test_up_asks_docker_once_and_starts_with_what_it_chose(
        fakes: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[float] = []
    monkeypatch.setenv("LOCALSTACK_MODE", "auto")
    monkeypatch.setattr(docker_backend, "docker_available",
                        lambda timeout=3.0: asked.append(timeout) or True)
    assert cli.main(["up"]) == 0
    assert len(asked) == 1
    # no pid file: host mode looked for leftovers of an earlier run; then docker started
    assert fakes == ["host.already_up", "docker.install", "docker.up"]
    assert pidfile.read() == PidFile(mode="docker", url=config.url())


def test_up_with_a_running_instance_starts_nothing(fakes: list[str],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(FakeBackend, "already_up",
                        lambda self, info: self._called("already_up") or True)
    monkeypatch.setattr(docker_backend, "docker_available",
                        lambda timeout=3.0: pytest.fail("asked for a Docker engine"))
    PidFile(mode="docker").write()
    assert cli.main(["up"]) == 0
    assert fakes == ["docker.already_up"]


def _write_outputs(port: int) -> None:
    cli.OUTPUTS_FILE.parent.mkdir(parents=True, exist_ok=True)
    cli.OUTPUTS_FILE.write_text(json.dumps({
        "_stack": "serverless-app", "_endpoint": f"http://127.0.0.1:{port}",
        "ApiUrl": f"http://127.0.0.1:{port}/restapis/gone/local/_user_request_/"}))


def test_a_fresh_up_says_this_ports_stack_is_gone(
        fakes: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    _write_outputs(config.port())

    assert cli.main(["up"]) == 0

    assert not cli.OUTPUTS_FILE.exists()  # no stale ApiUrl for the tests and scripts
    assert json.loads(cli.STALE_OUTPUTS_FILE.read_text())["_stack"] == "serverless-app"
    assert "is gone (LocalStack started fresh): run `make deploy-local`" in capsys.readouterr().err


def test_a_fresh_up_leaves_another_ports_outputs(fakes: list[str],
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    _write_outputs(config.port() + 1)

    assert cli.main(["up"]) == 0

    assert cli.OUTPUTS_FILE.exists()
    assert "deploy-local" not in capsys.readouterr().err


LISTENER = ("import socket, sys, time; s = socket.socket(); s.bind(('127.0.0.1', 0)); "
            "s.listen(); print(s.getsockname()[1], flush=True); time.sleep(60)")


def test_status_reports_what_a_dead_localstack_left_running(
        home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(readiness, "health", lambda timeout=2.0: None)
    config.run_dir().mkdir(parents=True)
    # like the Kinesis mock after kill -9 of LocalStack: marked, orphaned, still listening
    env = dict(os.environ, **{contract.RUN_DIR_ENV: str(config.run_dir())})
    orphan = subprocess.Popen([sys.executable, "-c", LISTENER], env=env, text=True,
                              stdout=subprocess.PIPE, start_new_session=True)
    try:
        assert orphan.stdout is not None
        port = int(orphan.stdout.readline())

        assert cli.main(["status"]) == 1

        out = capsys.readouterr().out
        assert "LocalStack is not running" in out
        assert f"leftovers of an earlier run: 1 process(es), listening on port(s) {port}" in out
        assert f"pid {orphan.pid}: " in out
        assert "`make down` stops them" in out
    finally:
        orphan.kill()
        orphan.wait()


# ----------------------------------------------------------------------------- entry point


def test_launcher_parses_as_python_3_9() -> None:
    """The Makefile runs it with whatever python3 the machine has (>= 3.9)."""
    sources = [SCRIPTS / "hostmode.py", *sorted((SCRIPTS / "launcher").glob("*.py")),
               Path(contract.__file__)]
    for path in sources:
        source = path.read_text()
        ast.parse(source, feature_version=(3, 9))
        # runtime-evaluated annotations would need 3.10 for `X | None`; postponed evaluation is on
        if "def " in source:
            assert "from __future__ import annotations" in source, path


def test_describe_says_mode_pid_and_uptime(home: Path) -> None:
    assert cli.describe(PidFile(mode="docker")) == f"mode=docker, url=http://127.0.0.1:{config.port()}"
    text = cli.describe(PidFile(mode="host", pid=42, url="u", started_at=1.0))
    assert text.startswith("mode=host, url=u, pid=42, uptime=")
    assert cli.fmt_duration(59) == "59s" and cli.fmt_duration(61) == "1m01s"
    assert cli.fmt_duration(3600 * 2 + 60) == "2h01m"
