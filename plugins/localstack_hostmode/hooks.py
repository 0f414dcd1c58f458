"""Host mode's ``on_infra_start`` hooks (declared in plugins/pyproject.toml, namespace
``localstack.hooks.on_infra_start``).

- ``hostmode_patches`` applies the patches to LocalStack's code: every one is a ``HostPatch`` of
  the ``patches`` package, applied by its registry (verified versions, opt-outs, one log line).
- ``hostmode_shutdown`` registers what host mode itself does around shutdown, no LocalStack code
  changed: Lambda workers are stopped first (in-flight invocations, e.g. from an event source
  mapping, would otherwise call back into the stopping gateway and hang it), SIGUSR2 dumps every
  thread's stack to the log, and once LocalStack has shut down in order the process exits
  without the interpreter's final garbage collection (seconds after a deploy).
"""

from __future__ import annotations

import atexit
import faulthandler
import logging
import os
import signal
import sys

from localstack.runtime import hooks

LOG = logging.getLogger(__name__)

# The worker registry (no LocalStack import); loaded only once a function has run.
WORKER_MODULE = "localstack_hostmode.lambda_runtime.process"


def _exit_without_final_gc() -> None:
    """After an orderly shutdown, leave without the interpreter's final garbage collection.

    Everything LocalStack owns is stopped by then (services, backends, files flushed); what is
    left is freeing memory, which took 3-4 s of GC here after a deploy. atexit runs handlers
    registered later than this one first; logging's (registered earlier) is called here.
    """
    try:
        from localstack.runtime import current

        runtime = current.get_current_runtime()
    except Exception:
        return
    if not runtime.stopped.is_set() or hasattr(sys, "last_exc"):
        return  # not an orderly shutdown, or an unhandled exception: keep Python's exit path
    code = runtime.exit_code
    try:
        logging.shutdown()
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:
                pass
        os._exit(code if isinstance(code, int) else 0)


def _stop_lambda_workers() -> None:
    module = sys.modules.get(WORKER_MODULE)
    if module is not None:  # else no function ever ran
        module.stop_all_workers()


@hooks.on_infra_start(priority=100)
def hostmode_patches() -> None:
    """Host mode only (these plugins are installed in host mode's venv only)."""
    from localstack_hostmode.patches import apply_all

    apply_all()


@hooks.on_infra_start(priority=100)
def hostmode_shutdown() -> None:
    from localstack.runtime.shutdown import SHUTDOWN_HANDLERS

    # first thing at shutdown, before the services stop (an in-flight invoke blocked it for 5 s+)
    SHUTDOWN_HANDLERS.register(_stop_lambda_workers)
    # `down` sends SIGUSR2 before SIGKILL: every thread's stack lands in the log, to show what hung
    faulthandler.register(signal.SIGUSR2, file=sys.__stderr__, all_threads=True)
    if os.environ.get("HOSTMODE_FAST_EXIT", "1") != "0":
        atexit.register(_exit_without_final_gc)
