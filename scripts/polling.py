"""The one deadline poller the scripts and tests share (standard library only)."""

from __future__ import annotations

import time
from collections.abc import Callable


def wait_until[T](
    probe: Callable[[], T],
    timeout: float = 30.0,
    interval: float = 0.25,
    what: str = "condition",
) -> T:
    """Call `probe` until it returns a truthy value without raising AssertionError.

    The last AssertionError (or a TimeoutError naming `what`) is raised at the deadline, so a
    probe can hold the assertion itself and the failure message says what was last seen.
    """
    deadline = time.monotonic() + timeout
    last: AssertionError | None = None
    while True:
        try:
            result = probe()
            if result:
                return result
            last = None
        except AssertionError as e:
            last = e
        if time.monotonic() >= deadline:
            if last is not None:
                raise last
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)
