"""The results as a table (terminal and Markdown) and as bench/results/latest.json."""

from __future__ import annotations

import json
from pathlib import Path

from .targets import Row, fmt

SCHEMA = "make-bench/1"
COLUMNS = ("metric", "measured", "floor (same run)", "target", "status", "issue's Now")


def cells(row: Row) -> tuple[str, ...]:
    unit = row.floor_unit or row.unit
    floor = f"{fmt(row.floor, unit)} ({row.floor_label})" if row.floor_label else ""
    return (row.label, fmt(row.value, row.unit), floor, row.target, row.status, row.before)


def table(rows: list[Row]) -> str:
    body = [COLUMNS, *(cells(r) for r in rows)]
    widths = [max(len(line[i]) for line in body) for i in range(len(COLUMNS))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip()
             for line in body]
    lines.insert(1, "  ".join("-" * w for w in widths))
    met = sum(r.status == "met" for r in rows)
    missed = [r.id for r in rows if r.status == "missed"]
    lines.append(f"\ntargets met: {met}/{met + len(missed)}"
                 + (f"; missed: {', '.join(missed)}" if missed else ""))
    return "\n".join(lines)


def markdown(rows: list[Row]) -> str:
    def esc(text: str) -> str:
        return text.replace("|", "\\|")

    out = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    out += ["| " + " | ".join(esc(c) for c in cells(r)) + " |" for r in rows]
    return "\n".join(out)


def document(rows: list[Row], raw: dict, meta: dict) -> dict:
    """The JSON document: schema id, when and where, the rows as evaluated, the raw samples."""
    return {"schema": SCHEMA, **meta, "rows": [r.as_dict() for r in rows], "raw": raw}


def write(doc: dict, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(doc, indent=1, sort_keys=False, default=str) + "\n")
    tmp.replace(path)


def rows_of(doc: dict) -> list[Row]:
    """The rows of a written document, as Row objects again (status is recomputed)."""
    fields = set(Row.__dataclass_fields__)
    return [Row(**{k: v for k, v in row.items() if k in fields}) for row in doc["rows"]]


def validate(doc: dict) -> list[str]:
    """What is wrong with a results document (empty when it is well formed)."""
    problems = []
    for key in ("schema", "started_at", "machine", "settings", "rows", "raw"):
        if key not in doc:
            problems.append(f"missing {key}")
    if doc.get("schema") != SCHEMA:
        problems.append(f"schema {doc.get('schema')!r} is not {SCHEMA!r}")
    ids = set()
    for row in doc.get("rows", []):
        for key in ("id", "label", "value", "unit", "target", "status"):
            if key not in row:
                problems.append(f"row {row.get('id')!r} has no {key}")
        if row.get("id") in ids:
            problems.append(f"row {row['id']!r} twice")
        ids.add(row.get("id"))
        if row.get("status") not in ("met", "missed", "not measured", "info"):
            problems.append(f"row {row.get('id')!r}: status {row.get('status')!r}")
    return problems
