"""What the launcher tells the user: progress lines on stderr, errors meant for them, log tails."""

from __future__ import annotations

import os
import sys
from pathlib import Path


def log(msg: str) -> None:
    print(f"[hostmode] {msg}", file=sys.stderr, flush=True)


class HostmodeError(Exception):
    """A failure with a message meant for the user."""


def tail(path: Path, lines: int = 50) -> str:
    """The last ``lines`` lines of a (possibly large) log file."""
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - 64 * 1024))
            data = f.read().decode(errors="replace")
    except OSError:
        return f"(no log at {path})"
    return "\n".join(data.splitlines()[-lines:])
