"""LocalStack's environment is minimal: a handler reads it through /proc/<ppid>/environ."""

from __future__ import annotations

from pathlib import Path

import pytest

from launcher import config


@pytest.fixture
def caller_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in {
        "MY_SECRET_TOKEN": "hunter2", "GITHUB_TOKEN": "ghp_x", "AWS_SECRET_ACCESS_KEY": "real",
        "AWS_ACCESS_KEY_ID": "AKIAREAL", "AWS_PROFILE": "prod", "DEBUG": "1",
        "HOSTMODE_LAMBDA_MEMORY_LIMIT": "0", "LOCALSTACK_VOLUME_DIR": "/v",
        "PYENV_ROOT": "/home/u/.pyenv", "LC_ALL": "C.UTF-8", "HOME": "/home/u",
        "AWS_DEFAULT_REGION": "eu-west-1", "ORDERS_QUEUE": "my-orders",
    }.items():
        monkeypatch.setenv(key, value)


def test_the_callers_other_variables_stay_out(caller_env) -> None:
    env = config.localstack_env("token")

    for key in ("MY_SECRET_TOKEN", "GITHUB_TOKEN", "AWS_SECRET_ACCESS_KEY", "AWS_ACCESS_KEY_ID",
                "AWS_PROFILE"):
        assert key not in env


def test_what_localstack_and_interpreters_need_passes(caller_env) -> None:
    env = config.localstack_env("token")

    assert env["HOSTMODE_LAMBDA_MEMORY_LIMIT"] == "0"
    assert env["LOCALSTACK_VOLUME_DIR"] == "/v"
    assert env["PYENV_ROOT"] == "/home/u/.pyenv"
    assert env["LC_ALL"] == "C.UTF-8"
    assert env["HOME"] == "/home/u"
    assert env["AWS_DEFAULT_REGION"] == "eu-west-1"
    assert env["LAMBDA_RUNTIME_EXECUTOR"] == "local-process"
    assert env["ORDERS_QUEUE"] == "my-orders"  # init-aws.sh creates the queue by that name


def test_localstacks_own_config_names_pass(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # the list is read from the installed source (tests/integration/test_launcher_config.py
    # reads the real one); here a config.py of LocalStack's shape
    source = tmp_path / "lib" / "python3.13" / "site-packages" / "localstack" / "config.py"
    source.parent.mkdir(parents=True)
    source.write_text('DEBUG = 0\nCONFIG_ENV_VARS = [\n    "DEBUG",\n    "GATEWAY_LISTEN",\n]\n')
    monkeypatch.setattr(config, "LS_VENV", tmp_path)
    names = config.localstack_config_names()
    assert names == {"DEBUG", "GATEWAY_LISTEN"}
    assert config.passed_env({"DEBUG": "1", "OTHER": "x"}, names) == {"DEBUG": "1"}
