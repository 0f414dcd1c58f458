"""The engine's numeric knobs, read from the environment: a bad value is a clear error that
names the variable, never a silent default."""

from __future__ import annotations

from collections.abc import Callable, Mapping


def non_negative(environ: Mapping[str, str], name: str, default: float,
                 kind: Callable[[str], float] = int, what: str = "a whole number") -> float:
    """``environ[name]`` parsed with ``kind`` (blank: ``default``); ``what`` says in an error
    what the value should have been."""
    raw = environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = kind(raw)
    except ValueError:
        raise ValueError(f"{name} must be {what}, got {raw!r}") from None
    if value < 0:
        raise ValueError(f"{name} must be {what}, got {value}")
    return value
