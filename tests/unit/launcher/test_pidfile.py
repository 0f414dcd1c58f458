"""scripts/launcher/pidfile.py: the pid file on disk and back."""

from __future__ import annotations

import json
from pathlib import Path

from launcher import config, pidfile
from launcher.pidfile import PidFile


def test_host_pid_file_round_trip(home: Path) -> None:
    config.run_dir().mkdir(parents=True)
    info = PidFile(mode="host", pid=123, start=456, port=4599, url="http://127.0.0.1:4599",
                   token="tok", started_at=1.5, log="/x/localstack.log")
    info.write()
    assert pidfile.read() == info
    assert json.loads(config.pid_file().read_text()) == {
        "mode": "host", "pid": 123, "start": 456, "port": 4599, "url": "http://127.0.0.1:4599",
        "token": "tok", "started_at": 1.5, "log": "/x/localstack.log"}
    pidfile.remove()
    assert pidfile.read() is None
    pidfile.remove()  # already gone: fine


def test_docker_pid_file_leaves_host_fields_out(tmp_path: Path) -> None:
    path = tmp_path / "localstack.pid"
    PidFile(mode="docker", url="http://127.0.0.1:4599", port=4599, started_at=2.0).write(path)
    assert json.loads(path.read_text()) == {"mode": "docker", "url": "http://127.0.0.1:4599",
                                            "port": 4599, "started_at": 2.0}
    info = pidfile.read(path)
    assert info is not None and info.is_docker and not info.is_host and info.pid is None


def test_unreadable_pid_file_counts_as_none(tmp_path: Path) -> None:
    path = tmp_path / "localstack.pid"
    assert pidfile.read(path) is None  # missing
    for text in ("", "{not json", "{}", "[1, 2]", '"host"'):
        path.write_text(text)
        assert pidfile.read(path) is None, text


def test_pid_file_tolerates_unknown_and_missing_fields(tmp_path: Path) -> None:
    # written by another version of the launcher, or by hand (as the lifecycle tests do)
    path = tmp_path / "localstack.pid"
    path.write_text(json.dumps({"mode": "host", "pid": 7, "start": 1, "future": True}))
    assert pidfile.read(path) == PidFile(mode="host", pid=7, start=1)
