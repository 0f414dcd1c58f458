"""scripts/launcher/config.py: the port's paths and LocalStack's environment."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from launcher import config
from launcher.console import HostmodeError
from localstack_hostmode import contract


@pytest.mark.parametrize("raw", ["abc", "0", "70000"])
def test_bad_port_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, raw: str) -> None:
    monkeypatch.setenv("LOCALSTACK_PORT", raw)
    with pytest.raises(HostmodeError, match="LOCALSTACK_PORT"):
        config.port()


def test_per_port_paths(home: Path) -> None:
    assert config.run_dir() == home / "run" / str(config.port())
    assert config.fs_root() == home / "run" / str(config.port()) / "fs"
    assert config.url() == f"http://127.0.0.1:{config.port()}"


def test_run_dir_is_the_one_the_plugins_read(home: Path) -> None:
    assert config.run_dir() == contract.run_dir_for(config.port(), home)
    assert config.dynamodb_backend_file().parent == config.run_dir()
    assert config.run_dir_marker() == f"{contract.RUN_DIR_ENV}={config.run_dir()}".encode()


def test_localstack_env_binds_loopback_and_forces_host_mode(
        home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEBUG", "1")
    monkeypatch.setenv("LAMBDA_KEEPALIVE_MS", "1234")
    monkeypatch.setenv("PYTHONPATH", "/somewhere/else")
    monkeypatch.setenv("GATEWAY_LISTEN", "0.0.0.0:4566")  # must not leak onto the network
    monkeypatch.delenv("LOCALSTACK_HOST", raising=False)
    env = config.localstack_env("tok")
    forced = {
        "GATEWAY_LISTEN": f"127.0.0.1:{config.port()}",
        "GATEWAY_SERVER": "hypercorn",
        "OVERRIDE_IN_DOCKER": "0",
        "FILESYSTEM_ROOT": str(home / "run" / str(config.port()) / "fs"),
        "DNS_ADDRESS": "0",
        "SKIP_SSL_CERT_DOWNLOAD": "1",
        "DISABLE_EVENTS": "1",
        "LAMBDA_RUNTIME_EXECUTOR": "local-process",
        "PROVIDER_OVERRIDE_DYNAMODB": "moto",
        contract.RUN_DIR_ENV: str(home / "run" / str(config.port())),
        "HOSTMODE_INSTANCE": "tok",
    }
    assert {key: env.get(key) for key in forced} == forced
    assert Path(env[contract.RUNTIME_LIB_ENV]).is_absolute()
    assert env["PATH"].split(os.pathsep)[0] == str(config.LS_VENV / "bin")
    assert int(env["LAMBDA_EVENT_SOURCE_MAPPING_MAX_BACKOFF_ON_EMPTY_POLL_SEC"]) <= 1
    # user knobs pass through, the caller's Python setup does not
    assert env["DEBUG"] == "1"
    assert env["LAMBDA_KEEPALIVE_MS"] == "1234"
    assert "PYTHONPATH" not in env
    # LocalStack's standard names (function URLs need them); queue URLs follow the caller
    assert env["LOCALSTACK_HOST"] == f"localhost.localstack.cloud:{config.port()}"
    assert env["SQS_ENDPOINT_STRATEGY"] == "dynamic"


def test_user_can_override_defaults(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAMBDA_EVENT_SOURCE_MAPPING_MAX_BACKOFF_ON_EMPTY_POLL_SEC", "5")
    monkeypatch.setenv("SQS_ENDPOINT_STRATEGY", "standard")
    env = config.localstack_env("tok")
    assert env["LAMBDA_EVENT_SOURCE_MAPPING_MAX_BACKOFF_ON_EMPTY_POLL_SEC"] == "5"
    assert env["SQS_ENDPOINT_STRATEGY"] == "standard"


def test_the_kinesis_mock_starts_at_boot_for_the_data_layer_init(
        home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HOSTMODE_INIT_SCRIPT", raising=False)
    monkeypatch.delenv("HOSTMODE_KINESIS_PRESTART", raising=False)
    assert config.init_needs_kinesis()  # the spec has events-stream and the users stream
    assert config.localstack_env("t")["HOSTMODE_KINESIS_PRESTART"] == "1"
    monkeypatch.setenv("HOSTMODE_KINESIS_PRESTART", "0")  # the user's opt-out wins
    assert config.localstack_env("t")["HOSTMODE_KINESIS_PRESTART"] == "0"


def test_no_early_kinesis_mock_without_the_data_layer_init(
        home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HOSTMODE_KINESIS_PRESTART", raising=False)
    monkeypatch.setenv("HOSTMODE_INIT_SCRIPT", "")
    assert not config.init_needs_kinesis()
    assert "HOSTMODE_KINESIS_PRESTART" not in config.localstack_env("t")
