"""Fixtures of the launcher's unit tests (scripts/launcher): no LocalStack, no network."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from launcher import config

LOCALSTACK_CONFIG_NAMES = frozenset({
    "DEBUG", "LS_LOG", "SQS_ENDPOINT_STRATEGY", "LAMBDA_KEEPALIVE_MS",
    "LAMBDA_EVENT_SOURCE_MAPPING_MAX_BACKOFF_ON_EMPTY_POLL_SEC", "PERSISTENCE",
})


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point the launcher's state at a temp dir and a port nothing listens on (a fixed one
    was once the bench's: `down` then waited for a real LocalStack's port)."""
    monkeypatch.setattr(config, "LS_HOME", tmp_path / ".localstack")
    # LocalStack's CONFIG_ENV_VARS as the installed source lists them: a fixed sample here, so
    # the tests also pass on a fresh clone before `make up` has installed LocalStack
    monkeypatch.setattr(config, "localstack_config_names", lambda: LOCALSTACK_CONFIG_NAMES)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        monkeypatch.setenv("LOCALSTACK_PORT", str(probe.getsockname()[1]))
    return tmp_path / ".localstack"
