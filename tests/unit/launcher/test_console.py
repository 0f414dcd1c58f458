"""scripts/launcher/console.py."""

from __future__ import annotations

from pathlib import Path

from launcher.console import tail


def test_tail_reads_last_lines(tmp_path: Path) -> None:
    f = tmp_path / "log"
    f.write_text("".join(f"line {i}\n" for i in range(100)))
    assert tail(f, 3).splitlines() == ["line 97", "line 98", "line 99"]
    assert "no log" in tail(tmp_path / "missing", 3)
