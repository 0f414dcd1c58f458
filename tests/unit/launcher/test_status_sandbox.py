"""`make status` says how host mode runs Lambda environments, from the file the plugin writes
in the run directory (plugins/localstack_hostmode/lambda_runtime/sandbox.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from launcher import cli, config
from localstack_hostmode import contract


def _state(state: object) -> None:
    config.run_dir().mkdir(parents=True, exist_ok=True)
    (config.run_dir() / contract.LAMBDA_SANDBOX_STATE).write_text(json.dumps(state))


def test_the_sandbox_is_named(home: Path) -> None:
    _state({"mode": "bwrap", "reason": "bubblewrap sandbox (/usr/bin/bwrap)"})

    assert cli.lambda_sandbox_line() == (
        "  Lambda environments: sandboxed (bubblewrap: /var/task, private /tmp, no host files)")


@pytest.mark.parametrize(("mode", "words"), [
    ("process", "local processes, not sandboxed (why)"),
    ("unavailable", "cannot start (why)"),
])
def test_the_fallback_says_why(home: Path, mode: str, words: str) -> None:
    _state({"mode": mode, "reason": "why"})

    assert cli.lambda_sandbox_line() == f"  Lambda environments: {words}"


@pytest.mark.parametrize("content", [None, "not json", "[1]"])
def test_no_or_a_bad_file_says_nothing(home: Path, content: str | None) -> None:
    if content is not None:
        config.run_dir().mkdir(parents=True)
        (config.run_dir() / contract.LAMBDA_SANDBOX_STATE).write_text(content)

    assert cli.lambda_sandbox_line() is None
