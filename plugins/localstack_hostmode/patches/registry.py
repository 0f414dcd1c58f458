"""Minimal stand-in for helper h3's patch registry (the lead keeps h3's version on merge)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class HostPatch:
    name: str
    changes: str
    why: str
    verified_on: tuple[str, ...]
    opt_out: str | None
    apply: Callable[[], None]
