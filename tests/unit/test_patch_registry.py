"""The registry of host mode's LocalStack patches (no LocalStack needed: versions are mocked,
and a patch's ``apply`` only runs when the tests give it a fake one)."""

from __future__ import annotations

import dataclasses
import importlib
import logging
from pathlib import Path

import pytest

from localstack_hostmode.patches import registry
from localstack_hostmode.patches.registry import (
    APPLIED,
    SKIPPED_OPT_OUT,
    SKIPPED_VERSION,
    HostPatch,
    PatchRegistry,
)

VERIFIED = "4.14.0"
PATCHES_DIR = Path(registry.__file__).parent


def fake_patch(name: str, calls: list[str], opt_out: str | None = None) -> HostPatch:
    return HostPatch(
        name=name,
        changes="changes something",
        why="because",
        verified_on=(VERIFIED,),
        opt_out=opt_out,
        apply=lambda: calls.append(name),
    )


def recording(patches: tuple[HostPatch, ...], calls: list[str]) -> list[HostPatch]:
    """The registered patches with an apply that records instead of touching LocalStack."""
    return [dataclasses.replace(p, apply=lambda name=p.name: calls.append(name)) for p in patches]


def test_unsupported_version_skips_every_registered_patch_with_a_warning(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(registry, "localstack_version", lambda: "9.9.9")
    monkeypatch.setattr(registry, "REGISTRY", None)
    caplog.set_level(logging.INFO, logger=registry.__name__)

    outcomes = registry.apply_all()  # the real patches: none of them may run on 9.9.9

    names = [p.name for p in registry.load_patches()]
    assert list(outcomes) == names
    assert set(outcomes.values()) == {SKIPPED_VERSION}
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    for name in names:
        assert any(name in w and "9.9.9" in w and VERIFIED in w for w in warnings), name


def test_missing_localstack_core_skips_too(caplog: pytest.LogCaptureFixture) -> None:
    calls: list[str] = []
    outcomes = PatchRegistry([fake_patch("a", calls)]).apply_all(None)

    assert outcomes == {"a": SKIPPED_VERSION}
    assert calls == []
    assert any(r.levelno == logging.WARNING and "a" in r.getMessage() for r in caplog.records)


def test_verified_version_applies_in_order_and_logs_one_summary(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger=registry.__name__)
    calls: list[str] = []
    patches = recording(registry.load_patches(), calls)

    outcomes = PatchRegistry(patches).apply_all(VERIFIED)

    assert calls == [p.name for p in patches]
    assert set(outcomes.values()) == {APPLIED}
    summaries = [r.getMessage() for r in caplog.records if r.levelno == logging.INFO]
    assert len(summaries) == 1
    assert VERIFIED in summaries[0] and all(p.name in summaries[0] for p in patches)


def test_opt_out_zero_skips_only_that_patch(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=registry.__name__)
    monkeypatch.setenv("HOSTMODE_TEST_PATCH_A", "0")
    monkeypatch.setenv("HOSTMODE_TEST_PATCH_B", "1")
    calls: list[str] = []
    patches = [
        fake_patch("a", calls, opt_out="HOSTMODE_TEST_PATCH_A"),
        fake_patch("b", calls, opt_out="HOSTMODE_TEST_PATCH_B"),
        fake_patch("c", calls, opt_out="HOSTMODE_TEST_PATCH_C"),  # unset: applied
    ]

    outcomes = PatchRegistry(patches).apply_all(VERIFIED)

    assert outcomes == {"a": SKIPPED_OPT_OUT, "b": APPLIED, "c": APPLIED}
    assert calls == ["b", "c"]
    assert any("HOSTMODE_TEST_PATCH_A=0" in r.getMessage() for r in caplog.records)
    assert not any(r.levelno >= logging.WARNING for r in caplog.records)


def test_cloudformation_waits_keep_their_opt_out(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOSTMODE_CFN_FAST_WAITS", "0")
    calls: list[str] = []
    patches = recording(registry.load_patches(), calls)

    outcomes = PatchRegistry(patches).apply_all(VERIFIED)

    assert outcomes["cloudformation_lambda_waits"] == SKIPPED_OPT_OUT
    assert "cloudformation_lambda_waits" not in calls


def test_apply_all_is_idempotent(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger=registry.__name__)
    calls: list[str] = []
    reg = PatchRegistry([fake_patch("a", calls), fake_patch("b", calls)])

    first = reg.apply_all(VERIFIED)
    caplog.clear()
    second = reg.apply_all(VERIFIED)

    assert first == second == {"a": APPLIED, "b": APPLIED}
    assert calls == ["a", "b"]
    assert caplog.records == []


def test_module_level_apply_all_is_idempotent(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    monkeypatch.setattr(registry, "localstack_version", lambda: VERIFIED)
    monkeypatch.setattr(registry, "REGISTRY", PatchRegistry([fake_patch("a", calls)]))

    assert registry.apply_all() == registry.apply_all() == {"a": APPLIED}
    assert calls == ["a"]


def test_every_registered_patch_declares_what_why_where_verified() -> None:
    patches = registry.load_patches()

    assert [p.name for p in patches] == list(registry.PATCH_MODULES)
    for patch in patches:
        assert patch.changes.strip(), patch.name
        assert patch.why.strip(), patch.name
        assert patch.verified_on and all(v.strip() for v in patch.verified_on), patch.name
        assert patch.opt_out is None or patch.opt_out.startswith("HOSTMODE_"), patch.name
        assert callable(patch.apply), patch.name
        doc = importlib.import_module(f"{registry.__package__}.{patch.name}").__doc__ or ""
        assert "Verified on" in doc, patch.name


def test_every_patch_module_is_registered() -> None:
    modules = {p.stem for p in PATCHES_DIR.glob("*.py")} - {"__init__", "registry"}

    assert modules == set(registry.PATCH_MODULES)


def test_early_patches_apply_first_and_the_rest_at_apply_all(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger=registry.__name__)
    calls: list[str] = []
    reg = PatchRegistry([fake_patch("a", calls),
                         dataclasses.replace(fake_patch("b", calls), early=True)])

    assert reg.apply_all(VERIFIED, early_only=True) == {"b": APPLIED}
    assert calls == ["b"]
    assert not [r for r in caplog.records if r.levelno == logging.INFO]  # the summary waits

    assert reg.apply_all(VERIFIED) == {"b": APPLIED, "a": APPLIED}
    assert calls == ["b", "a"]
    summaries = [r.getMessage() for r in caplog.records if r.levelno == logging.INFO]
    assert len(summaries) == 1 and "a" in summaries[0] and "b" in summaries[0]


def test_the_openapi_stand_in_is_an_early_patch() -> None:
    early = [p.name for p in registry.load_patches() if p.early]

    assert early == ["openapi_validation_lazy"]
