"""Everything a Lambda function starts ends with its environment (Linux).

The runtime process makes itself a child subreaper: a process its handler starts in a new
session (start_new_session=True) or through a double fork is re-parented to the runtime instead
of to init, so it stays in the runtime's descendant tree, where kill_descendants finds it. Both
sides use this module: the runtime (when the executor is gone) and the executor's engine (when
it stops or replaces an environment). Stdlib only; elsewhere than Linux it does nothing.
"""

import os
import signal

PR_SET_CHILD_SUBREAPER = 36
MAX_KILL_ROUNDS = 50


def become_subreaper():
    """Adopt this process's orphaned descendants; False where the kernel does not offer it."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except (ImportError, OSError, AttributeError):  # e.g. a Python built without _ctypes
        return False


def _parent_of(pid_dir):
    try:
        with open(f"/proc/{pid_dir}/stat", "rb") as f:
            stat = f.read()
        return int(stat.rsplit(b")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return None


def _children_map():
    """parent pid -> child pids, from /proc/<pid>/stat (task/*/children is not on every kernel)."""
    children = {}
    try:
        entries = os.listdir("/proc")
    except OSError:
        return children
    for entry in entries:
        if entry.isdigit():
            parent = _parent_of(entry)
            if parent is not None:
                children.setdefault(parent, []).append(int(entry))
    return children


def descendants(pid):
    """The pids below `pid` in the process tree (zombies included), parents before children."""
    children = _children_map()
    found = []
    pending = list(children.get(pid, ()))
    while pending:
        child = pending.pop()
        found.append(child)
        pending.extend(children.get(child, ()))
    return found


def kill_descendants(pid):
    """SIGKILL every descendant of `pid`, again until a walk finds none new (a process forked
    between two walks, or re-parented to `pid` when its own parent died, is caught next time).
    Returns how many were signalled."""
    signalled = set()
    for _round in range(MAX_KILL_ROUNDS):
        new = [p for p in descendants(pid) if p not in signalled]
        if not new:
            break
        for child in new:
            signalled.add(child)
            try:
                os.kill(child, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
    return len(signalled)


def signal_quietly(send, pid, signum):
    """send(pid, signum), ignoring a process that is gone or not ours."""
    try:
        send(pid, signum)
    except (ProcessLookupError, PermissionError):
        pass


def open_pidfd(pid):
    """A pidfd for `pid` (close-on-exec), or -1 where the OS has none: then the runtime's exit
    is seen as EOF on its response pipe, once every process holding that pipe is gone."""
    try:
        return os.pidfd_open(pid)
    except (AttributeError, OSError):
        return -1
