"""The in-process notice of a Lambda version's state change that CloudFormation's wait for a new
function wakes on (no LocalStack)."""

from __future__ import annotations

import threading
import time

from localstack_hostmode.patches import lambda_version_state_events as events
from localstack_hostmode.patches import registry


def test_a_waiter_wakes_on_its_function_s_change() -> None:
    changes = events.VersionStateChanges()
    changes.enabled = True
    looked = changes.mark()
    threading.Timer(0.05, changes.changed, args=("app-get-user",)).start()

    # True only if the change woke it; the long timeout keeps a starved timer thread (a loaded
    # machine) from ending the wait first
    assert changes.wait("app-get-user", looked, delay=0.01, timeout=30)


def test_a_change_before_the_wait_but_after_the_look_is_not_missed() -> None:
    changes = events.VersionStateChanges()
    changes.enabled = True
    looked = changes.mark()
    changes.changed("app-get-user")  # Active between GetFunction's answer and the wait

    assert changes.wait("app-get-user", looked, delay=0.01)


def test_another_function_s_change_does_not_count() -> None:
    changes = events.VersionStateChanges()
    changes.enabled = True
    looked = changes.mark()
    changes.changed("app-list-users")

    started = time.monotonic()
    assert not changes.wait("app-get-user", looked, delay=0.01)  # the fallback: look anyway
    assert time.monotonic() - started >= events.FALLBACK_S * 0.9


def test_without_the_patch_the_wait_is_the_old_sleep() -> None:
    changes = events.VersionStateChanges()
    changes.changed("app-get-user")

    started = time.monotonic()
    assert not changes.wait("app-get-user", 0, delay=0.02, timeout=30)
    assert 0.015 <= time.monotonic() - started < 15  # the sleep, not the (long) timeout


def test_registered_with_an_opt_out() -> None:
    (patch,) = registry.load_patches(["lambda_version_state_events"])

    assert patch.opt_out == "HOSTMODE_LAMBDA_STATE_EVENTS"
    assert patch.verified_on == ("4.14.0",)
