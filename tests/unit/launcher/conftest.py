"""Fixtures of the launcher's unit tests (scripts/launcher): no LocalStack, no network."""

from __future__ import annotations

from pathlib import Path

import pytest

from launcher import config


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point the launcher's state at a temp dir and an unusual port."""
    monkeypatch.setattr(config, "LS_HOME", tmp_path / ".localstack")
    monkeypatch.setenv("LOCALSTACK_PORT", "4599")
    return tmp_path / ".localstack"
