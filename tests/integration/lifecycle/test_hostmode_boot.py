"""The boot patches against a real LocalStack of its own (TEST_PORT): openapi_core stays out of
LocalStack's process while its OpenAPI validation is off, and is upstream's when it is on."""

from __future__ import annotations

import re
import urllib.request
from pathlib import Path

import pytest

from .helpers import RUN_DIR, URL, client, leader_pid, make

pytestmark = [pytest.mark.integration, pytest.mark.slow]

BOOT_PATCHES = ("openapi_validation_lazy", "runtime_ready_poll", "botocore_shared_models")


def applied_patches() -> set[str]:
    log = (RUN_DIR / "localstack.log").read_text(errors="replace")
    summary = re.findall(r"host-mode patches on localstack-core \S+: applied: ([^;\n]+)", log)
    assert summary, "no patch summary in LocalStack's log"
    return {name.strip() for name in summary[-1].split(",")}


def jsonschema_loaded(pid: int) -> bool:
    """jsonschema (which openapi_core imports) brings rpds-py's native module along."""
    return "rpds" in Path(f"/proc/{pid}/maps").read_text()


def test_openapi_core_is_imported_only_with_validation_on(instance: None,
                                                           light_init: Path) -> None:
    # GIVEN `make up` with LocalStack's OpenAPI validation off (its default)
    up = make("up", HOSTMODE_INIT_SCRIPT=str(light_init))
    assert up.returncode == 0, up.stderr
    # THEN the boot patches applied, the init ran, and openapi_core was never imported
    assert set(BOOT_PATCHES) <= applied_patches()
    assert "users" in client("dynamodb").list_tables()["TableNames"]
    with urllib.request.urlopen(f"{URL}/_localstack/health", timeout=10) as resp:
        assert resp.status == 200
    assert not jsonschema_loaded(leader_pid())

    # WHEN it starts with request validation on THEN upstream's validator runs (and imports it)
    assert make("down").returncode == 0
    up = make("up", HOSTMODE_INIT_SCRIPT=str(light_init), OPENAPI_VALIDATE_REQUEST="1")
    assert up.returncode == 0, up.stderr
    assert "openapi_validation_lazy" in applied_patches()  # applied, and stayed out of the way
    assert jsonschema_loaded(leader_pid())
