"""Validate a template before the deploy touches anything: cfn-lint, which also runs the SAM
translation, with its errors printed as `file:line:column: rule message`.

LocalStack accepts what AWS rejects (an unknown resource type only logs a warning there, an
invalid Runtime fails half-way through an update), so the deploy checks first. Warnings and
informational findings do not block a deploy; errors (E*) do. A template that passed is
remembered by content hash under .build/, so an unchanged redeploy skips cfn-lint (~2-5 s).
"""

from __future__ import annotations

import hashlib
from importlib.metadata import version
from pathlib import Path

from stack import BUILD_DIR, DeployError

CACHE_DIR = BUILD_DIR / "template-check"


def _cache_key(path: Path, regions: tuple[str, ...]) -> str:
    h = hashlib.sha256(path.read_bytes())
    h.update(",".join(regions).encode())
    h.update(version("cfn-lint").encode())  # a newer cfn-lint may find more
    return h.hexdigest()


def template_errors(path: Path, region: str = "us-east-1") -> list[str]:
    """cfn-lint's errors for the template, one readable line each (empty: it is valid)."""
    from cfnlint.api import ManualArgs, lint_file

    matches = lint_file(path, config=ManualArgs(regions=[region]))
    shown = path.name
    return [
        f"{shown}:{m.linenumber}:{m.columnnumber}: {m.rule.id} {m.message}"
        for m in matches
        if m.rule.id.startswith("E")
    ]


def check_template(path: Path, region: str = "us-east-1") -> None:
    """Raise DeployError listing the template's errors; a no-op for a template that passed."""
    marker = CACHE_DIR / _cache_key(path, (region,))
    if marker.exists():
        return
    errors = template_errors(path, region)
    if errors:
        raise DeployError(f"template {path} is invalid:\n  " + "\n  ".join(errors))
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    marker.touch()
