"""Fixtures of the host-mode lifecycle tests (helpers.py has the plain helpers)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from .helpers import LIGHT_INIT, TEST_PORT, listening, make


@pytest.fixture(scope="module")
def light_init(tmp_path_factory: pytest.TempPathFactory) -> Path:
    script = tmp_path_factory.mktemp("hostmode-init") / "light-init.sh"
    script.write_text(LIGHT_INIT)
    script.chmod(0o755)
    return script


@pytest.fixture
def instance(wait_until: Callable[..., Any]) -> Iterator[None]:
    """Makes sure TEST_PORT is free before and after the test."""
    make("down")
    assert not listening(TEST_PORT), f"port {TEST_PORT} is busy; set HOSTMODE_TEST_PORT"
    yield
    result = make("down")
    assert result.returncode == 0, result.stderr
