"""Content hashes of what the deploy packages: the files of a code directory (without caches and
bytecode), a file, the layer's requirements. The packaging keys its uploads by them
(artifacts.py), and a redeploy compares them to its receipt (deploy_receipt.py). Standard
library only: the no-change redeploy imports it before anything else.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REQUIREMENTS = ROOT / "requirements" / "functions.txt"
LAYER_RUNTIME = "python3.13"
# Lambda's python3.13 runs on Amazon Linux 2023 (glibc 2.34): manylinux2014 wheels and the
# newer manylinux_2_28 ones (Pillow >= 12 ships only those) both load there.
LAYER_PLATFORMS = ("manylinux2014_x86_64", "manylinux_2_28_x86_64", "manylinux_2_34_x86_64")
# Files never shipped with the function code.
EXCLUDE_DIRS = {"__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache"}
EXCLUDE_SUFFIXES = (".pyc", ".pyo")


def sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def iter_files(src: Path) -> list[Path]:
    files = []
    for dirpath, dirnames, filenames in os.walk(src):
        dirnames[:] = sorted(
            d for d in dirnames if d not in EXCLUDE_DIRS and not d.endswith(".egg-info")
        )
        for name in sorted(filenames):
            if not name.endswith(EXCLUDE_SUFFIXES):
                files.append(Path(dirpath) / name)
    return files


def tree_hash(src: Path) -> str:
    h = hashlib.sha256()
    for f in iter_files(src):
        h.update(f.relative_to(src).as_posix().encode() + b"\0")
        h.update(hashlib.sha256(f.read_bytes()).digest())
    return h.hexdigest()


def requirements_hash(requirements: Path = REQUIREMENTS) -> str:
    h = hashlib.sha256(requirements.read_bytes())
    h.update(f"{LAYER_RUNTIME}/{','.join(LAYER_PLATFORMS)}".encode())
    return h.hexdigest()
