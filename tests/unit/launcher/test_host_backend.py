"""scripts/launcher/host_backend.py: LocalStack's filesystem root and init hook."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from launcher import config, host_backend
from launcher.console import HostmodeError


def test_prepare_filesystem_installs_init_hook(home: Path) -> None:
    # init-aws.sh's hook is a .py script: LocalStack exec()s it in its own interpreter
    host_backend.prepare_filesystem()
    hook = config.fs_root() / "etc" / "localstack" / "init" / "ready.d" / "init-aws.sh.py"
    assert hook.exists()
    text = hook.read_text()
    assert str(config.ROOT / "scripts" / "data_layer.py") in text
    assert str(config.DATA_LAYER_SPEC) in text
    assert f"http://127.0.0.1:{config.port()}" in text
    compile(text, str(hook), "exec")
    # idempotent
    host_backend.prepare_filesystem()
    assert sorted(p.name for p in hook.parent.iterdir()) == ["init-aws.sh.py"]


@pytest.mark.parametrize("env", [{"HOSTMODE_INIT_IN_PROCESS": "0"},
                                 {"DATA_LAYER_PYTHON": "/usr/bin/python3"}])
def test_init_hook_runs_init_aws_sh_itself_when_opted_out(
    home: Path, monkeypatch: pytest.MonkeyPatch, env: dict[str, str]
) -> None:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    host_backend.prepare_filesystem()
    hook = config.fs_root() / "etc" / "localstack" / "init" / "ready.d" / "init-aws.sh"
    assert hook.exists() and os.access(hook, os.X_OK)
    text = hook.read_text()
    assert str(config.INIT_SCRIPT) in text
    assert f"http://127.0.0.1:{config.port()}" in text
    assert sorted(p.name for p in hook.parent.iterdir()) == ["init-aws.sh"]


def test_the_in_process_hook_does_what_the_shipped_init_aws_sh_does() -> None:
    # init-aws.sh changed: make INIT_WRAPPER_PY do what it now does, then update the digest
    assert host_backend.init_commands_digest(config.INIT_SCRIPT) \
        == host_backend.SHIPPED_INIT_COMMANDS_SHA256


def test_an_edited_init_aws_sh_runs_as_a_script(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    edited = tmp_path / "init-aws.sh"
    edited.write_text("# a comment of the user's\n" + config.INIT_SCRIPT.read_text())
    monkeypatch.setattr(config, "INIT_SCRIPT", edited)
    assert host_backend.init_in_process(edited)  # comments alone change nothing
    edited.write_text(config.INIT_SCRIPT.read_text() + "awslocal sns create-topic --name t\n")
    assert not host_backend.init_in_process(edited)
    host_backend.prepare_filesystem()
    ready_d = config.fs_root() / "etc" / "localstack" / "init" / "ready.d"
    assert sorted(p.name for p in ready_d.iterdir()) == ["init-aws.sh"]
    assert str(edited) in (ready_d / "init-aws.sh").read_text()


def test_the_in_process_init_hook_records_a_failure_for_the_launcher(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN the in-process hook, and a data-layer spec that cannot be read
    monkeypatch.setattr(config, "DATA_LAYER_SPEC", home / "missing.json")
    config.run_dir().mkdir(parents=True)
    config.init_done_file().write_text("0\n")  # a previous run's
    host_backend.prepare_filesystem()
    exited = host_backend.HostBackend().init_script_exited()
    assert exited is not None and not exited()
    hook = config.fs_root() / "etc" / "localstack" / "init" / "ready.d" / "init-aws.sh.py"

    # WHEN LocalStack runs it (its PythonScriptRunner: exec with fresh globals)
    path_before = list(sys.path)
    with pytest.raises(RuntimeError, match="init-aws.sh"):
        exec(hook.read_bytes(), {})

    # THEN LocalStack sees an error, the launcher's file the status, the log the reason
    assert exited() and config.init_done_file().read_text().strip() == "1"
    assert "missing.json" in config.init_log_file().read_text()
    assert sys.path == path_before


def test_init_script_override(home: Path, tmp_path: Path,
                              monkeypatch: pytest.MonkeyPatch) -> None:
    script = tmp_path / "my-init.sh"
    script.write_text("#!/usr/bin/env bash\necho hi\n")
    monkeypatch.setenv("HOSTMODE_INIT_SCRIPT", str(script))
    host_backend.prepare_filesystem()
    ready_d = config.fs_root() / "etc" / "localstack" / "init" / "ready.d"
    assert sorted(p.name for p in ready_d.iterdir()) == ["my-init.sh"]
    assert str(script) in (ready_d / "my-init.sh").read_text()
    # empty: no init script at all (and the previous one is gone)
    monkeypatch.setenv("HOSTMODE_INIT_SCRIPT", "")
    host_backend.prepare_filesystem()
    assert list(ready_d.iterdir()) == []
    monkeypatch.setenv("HOSTMODE_INIT_SCRIPT", str(tmp_path / "missing.sh"))
    with pytest.raises(HostmodeError, match="HOSTMODE_INIT_SCRIPT"):
        host_backend.prepare_filesystem()


def test_prepare_filesystem_forgets_the_previous_dynamodb_backend(home: Path) -> None:
    config.run_dir().mkdir(parents=True)
    config.dynamodb_backend_file().write_text('{"port": 1}')
    host_backend.prepare_filesystem()
    assert not config.dynamodb_backend_file().exists()


def test_localstack_unzips_into_a_private_tmp_dir_of_its_run_dir(home: Path) -> None:
    # LocalStack unzips Lambda code and layers under tempfile.gettempdir(), i.e. TMPDIR
    stale = config.tmp_dir() / "lambda" / "old-code"
    stale.mkdir(parents=True)
    host_backend.prepare_filesystem()
    env = config.localstack_env("token")
    assert Path(env["TMPDIR"]) == config.tmp_dir()
    assert config.tmp_dir().parent == config.run_dir()
    assert config.tmp_dir().stat().st_mode & 0o777 == 0o700
    assert not stale.exists()


def test_the_init_wrapper_records_the_script_exit_for_the_launcher(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN an init script that fails, behind the wrapper `up` installs
    script = tmp_path / "my-init.sh"
    script.write_text("#!/usr/bin/env bash\necho working\nexit 3\n")
    script.chmod(0o755)
    monkeypatch.setenv("HOSTMODE_INIT_SCRIPT", str(script))
    config.run_dir().mkdir(parents=True)
    config.init_done_file().write_text("0\n")  # a previous run's
    host_backend.prepare_filesystem()
    exited = host_backend.HostBackend().init_script_exited()
    assert exited is not None and not exited()  # the stale file is gone
    wrapper = config.fs_root() / "etc" / "localstack" / "init" / "ready.d" / "my-init.sh"

    # WHEN LocalStack runs it
    proc = subprocess.run([str(wrapper)], capture_output=True, text=True, timeout=30)

    # THEN its exit status is LocalStack's and the launcher's file's; its output is kept
    assert proc.returncode == 3
    assert exited() and config.init_done_file().read_text().strip() == "3"
    assert "working" in config.init_log_file().read_text()


def test_no_init_script_no_exit_file_to_wait_for(home: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOSTMODE_INIT_SCRIPT", "")
    assert host_backend.HostBackend().init_script_exited() is None
