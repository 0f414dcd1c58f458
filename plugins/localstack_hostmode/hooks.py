"""Host mode's ``on_runtime_create`` and ``on_infra_start`` hooks (declared in
plugins/pyproject.toml, namespaces ``localstack.hooks.on_runtime_create`` / ``on_infra_start``).

- ``hostmode_early_patches`` (on_runtime_create, before LocalStack imports its request chain)
  applies the patches that must act on those imports (``HostPatch.early``).
- ``hostmode_patches`` applies the patches to LocalStack's code: every one is a ``HostPatch`` of
  the ``patches`` package, applied by its registry (verified versions, opt-outs, one log line).
- ``hostmode_shutdown`` registers what host mode itself does around shutdown, no LocalStack code
  changed: Lambda workers are stopped first (in-flight invocations, e.g. from an event source
  mapping, would otherwise call back into the stopping gateway and hang it), SIGUSR2 dumps every
  thread's stack to the log, and once LocalStack has shut down in order the process exits
  without the interpreter's final garbage collection (seconds after a deploy).

Why the exit hooks into ``threading``: after ``main()`` returns, the interpreter first joins every
non-daemon thread (``threading._shutdown``, where ``concurrent.futures`` also joins its pool
workers) and only then runs ``atexit`` handlers. A pool worker still in a task (LocalStack's
executors are non-daemon: e.g. a Lambda service task or an invocation blocked on a backend that
is gone) held the main thread there until ``down`` sent SIGKILL. Registered with
``threading._register_atexit`` after ``concurrent.futures`` (so it runs before its join), the
exit names the threads it leaves behind in the log, runs the atexit handlers, and leaves.
"""

from __future__ import annotations

import atexit
import faulthandler
import logging
import os
import signal
import sys
import threading

from localstack.runtime import hooks

LOG = logging.getLogger(__name__)

# The worker registry (no LocalStack import); loaded only once a function has run.
WORKER_MODULE = "localstack_hostmode.lambda_runtime.process"


def _stopped_runtime():
    """LocalStack's runtime if it shut down in order, else None (keep Python's exit path)."""
    try:
        from localstack.runtime import current

        runtime = current.get_current_runtime()
    except Exception:
        return None
    if not runtime.stopped.is_set() or hasattr(sys, "last_exc"):
        return None  # not an orderly shutdown, or an unhandled exception
    return runtime


def _exit_before_joining_threads() -> None:
    """threading-atexit: after an orderly shutdown, do not wait for non-daemon threads."""
    if _stopped_runtime() is None:
        return
    left = [t.name for t in threading.enumerate()
            if t is not threading.current_thread() and not t.daemon and t.is_alive()]
    if left:
        LOG.info("exiting without waiting for %d non-daemon thread(s): %s", len(left),
                 ", ".join(sorted(left)))
    atexit._run_exitfuncs()  # ends in _exit_without_final_gc


def _exit_without_final_gc() -> None:
    """After an orderly shutdown, leave without the interpreter's final garbage collection.

    Everything LocalStack owns is stopped by then (services, backends, files flushed); what is
    left is freeing memory, which took 3-4 s of GC here after a deploy. atexit runs handlers
    registered later than this one first; logging's (registered earlier) is called here.
    """
    runtime = _stopped_runtime()
    if runtime is None:
        return
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


@hooks.on_runtime_create(priority=100)
def hostmode_early_patches() -> None:
    from localstack_hostmode.patches import apply_early

    apply_early()


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
        import concurrent.futures.thread  # noqa: F401  (its join must be registered before ours)

        atexit.register(_exit_without_final_gc)
        threading._register_atexit(_exit_before_joining_threads)


@hooks.on_infra_start(priority=100)
def hostmode_lambda_sandbox() -> None:
    """Decide now how Lambda environments run (a bubblewrap probe, once, in the background), so
    `make status` says it before the first function starts."""
    from localstack_hostmode.lambda_runtime import sandbox

    threading.Thread(target=sandbox.decide, name="lambda-sandbox-probe", daemon=True).start()
