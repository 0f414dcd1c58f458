"""Host mode's process tree: which processes belong to this port's instance, and stopping them.

An instance is LocalStack (the "leader", recorded in the pid file by pid and start time), its
process group and session (the moto backend, init scripts), everything carrying the run
directory marker in its environment (services LocalStack starts in sessions of their own, such
as the Kinesis mock; unsandboxed Lambda runtimes), Lambda sandboxes (bwrap) mounting code from
its TMPDIR, and their descendants.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import time
from collections.abc import Iterable

from . import config, pidfile, procfs
from .console import HostmodeError, log
from .pidfile import PidFile
from .procfs import Proc


def leader_alive(info: PidFile | None) -> Proc | None:
    """The LocalStack process recorded in the pid file, if it is still that process."""
    if not info or not info.is_host:
        return None
    p = procfs.proc_info(int(info.pid or 0))
    # pid + start time identify a process (a reused pid starts later); the command line
    # would not: right after the fork it is still this launcher's
    if p is None or p.start != info.start:
        return None
    return p


def _candidates() -> list[Proc]:
    """This user's processes, except this launcher and its ancestors (make, a test runner)."""
    me = os.getpid()
    skip = procfs.ancestors(me) | {me}
    uid = os.getuid()
    return [p for p in procfs.all_procs() if p.uid == uid and p.pid not in skip]


def _in_leader_group(p: Proc, info: PidFile | None) -> bool:
    """In the recorded LocalStack's session or group, and started after it (not a reused id)."""
    if not info or not info.pid:
        return False
    leader = int(info.pid)
    return (p.sid == leader or p.pgid == leader) and p.start >= int(info.start or 0)


def _sandbox_of_this_instance(p: Proc, code_dir: str) -> bool:
    """A Lambda sandbox (bwrap) mounting code from this instance's TMPDIR. Sandboxes carry no
    marker (their init would show it to the function), and are orphaned when LocalStack dies."""
    argv0 = p.cmdline.split(" ", 1)[0]
    return os.path.basename(argv0) == "bwrap" and code_dir in p.cmdline


def our_processes(info: PidFile | None) -> list[Proc]:
    """Every process a host-mode `up` on this port started, alive or orphaned."""
    procs = _candidates()
    marker = config.run_dir_marker()
    code_dir = f" {config.tmp_dir()}/"
    roots = [p for p in procs if _in_leader_group(p, info) or p.carries(marker)
             or _sandbox_of_this_instance(p, code_dir)]
    # descendants too (e.g. workers started with a clean environment)
    return procfs.with_descendants(roots, procs)


def _fd_targets(pid: int) -> list[str]:
    """What a process's open file descriptors point to (``socket:[<inode>]`` for sockets)."""
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return []
    targets = []
    for fd in fds:
        with contextlib.suppress(OSError):  # closed meanwhile
            targets.append(os.readlink(f"/proc/{pid}/fd/{fd}"))
    return targets


def listening_ports_of(pids: Iterable[int]) -> list[int]:
    """The TCP ports these processes listen on."""
    port_of = {inode: port for port, inodes in procfs.listening_ports().items()
               for inode in inodes}
    held = {int(target[8:-1]) for pid in pids for target in _fd_targets(pid)
            if target.startswith("socket:[")}
    return sorted({port_of[inode] for inode in held if inode in port_of})


def backend_ports() -> set[int]:
    """The DynamoDB backend's port, as the plugin recorded it in the run dir."""
    try:
        data = json.loads(config.dynamodb_backend_file().read_text())
        return {int(data["port"])}
    except (OSError, ValueError, KeyError, TypeError):
        return set()


# ----------------------------------------------------------------------------- stopping


def _signal(pids: Iterable[int], sig: int) -> None:
    for pid in pids:
        try:
            os.kill(pid, sig)
        except (ProcessLookupError, PermissionError):
            pass


def _wait_gone(info: PidFile | None, timeout: float) -> list[Proc]:
    deadline = time.monotonic() + timeout
    while True:
        left = our_processes(info)
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.1)


def _wait_leader_gone(leader: Proc, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        p = procfs.proc_info(leader.pid)
        if p is None or p.start != leader.start:
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)


def _thread_dump(leader: Proc) -> str:
    """Ask a hung LocalStack for every thread's stack (our plugin registers SIGUSR2 with
    faulthandler) and return what it wrote to its log."""
    path = config.log_file()
    try:
        offset = path.stat().st_size
    except OSError:
        return "(no log)"
    if procfs.is_stopped(leader.pid):
        return "(none: the process is stopped, e.g. by SIGSTOP or a debugger)"
    _signal([leader.pid], signal.SIGUSR2)
    deadline = time.monotonic() + 2.0
    dump, previous = "", None
    while time.monotonic() < deadline:
        time.sleep(0.2)
        with path.open("rb") as f:
            f.seek(offset)
            dump = f.read().decode(errors="replace")
        if dump and dump == previous:  # stopped growing
            break
        previous = dump
    return dump.strip() or "(no thread dump)"


def _terminate_leader(leader: Proc) -> bool:
    """SIGTERM to LocalStack alone; True if it exited within the grace period."""
    _signal([leader.pid], signal.SIGTERM)
    return _wait_leader_gone(leader, config.TERM_GRACE_S)


def _terminate_rest(info: PidFile | None, leader_was_alive: bool) -> list[Proc]:
    """SIGTERM to what is left; returns what is still there after the grace period."""
    left = our_processes(info)
    if left:
        _signal([p.pid for p in left], signal.SIGTERM)
        grace = config.LEFTOVER_GRACE_S if leader_was_alive else config.TERM_GRACE_S
        left = _wait_gone(info, grace)
    return left


def _kill(info: PidFile | None, left: list[Proc], hung_leader: Proc | None) -> list[Proc]:
    """SIGKILL (a whole group where one leads it); returns what survived even that."""
    why = (f"LocalStack did not exit within {config.TERM_GRACE_S:g}s of SIGTERM" if hung_leader
           else f"{len(left)} process(es) ignored SIGTERM")
    if hung_leader:
        log(f"{why}; its threads were:\n{_thread_dump(hung_leader)}")
    log(f"{why}; sending SIGKILL: " + "; ".join(f"{p.pid} {p.cmdline[:60]}" for p in left))
    for p in left:
        if p.pgid == p.pid:
            try:
                os.killpg(p.pgid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
    _signal([p.pid for p in left], signal.SIGKILL)
    return _wait_gone(info, 3.0)


def _stop_processes(info: PidFile | None, count: int) -> None:
    """LocalStack first (it stops its own children in order), then the rest, then SIGKILL."""
    leader = leader_alive(info)
    what = f"LocalStack pid {leader.pid}" if leader else "orphans of a dead LocalStack"
    log(f"stopping {count} process(es) ({what})")
    leader_hung = leader is not None and not _terminate_leader(leader)
    left = our_processes(info) if leader_hung else _terminate_rest(info, leader is not None)
    if left:
        left = _kill(info, left, leader if leader_hung else None)
    if left:
        raise HostmodeError("could not stop: " + ", ".join(f"{p.pid} {p.cmdline[:80]}"
                                                          for p in left))


def _wait_ports_free(ports: set[int]) -> None:
    """Verify nothing of ours listens any more."""
    deadline = time.monotonic() + 3.0
    while True:
        listening = procfs.listening_ports()
        busy = sorted(p for p in ports if p in listening)
        if not busy:
            return
        if time.monotonic() > deadline:
            owners = procfs.socket_owners(set().union(*(listening[p] for p in busy)))
            raise HostmodeError(f"port(s) {busy} still listening (pids {sorted(owners) or '?'}; "
                                "not started by this launcher?)")
        time.sleep(0.1)


def stop_host(info: PidFile | None) -> int:
    """Stop LocalStack and everything it started; KILL what does not stop.

    SIGTERM goes to LocalStack alone first: its shutdown stops the DynamoDB backend, the Kinesis
    mock and the Lambda workers in order (signalled at the same time, a backend died under a
    still-running LocalStack, which restarted it). What is left after it exited (or everything,
    if it was already dead) gets SIGTERM, then SIGKILL. Returns how many processes were stopped.
    """
    procs = our_processes(info)
    ports = {config.port()} | backend_ports()
    if procs:
        _stop_processes(info, len(procs))
    _wait_ports_free(ports)
    # unzipped Lambda code and layers: tens of MB per deploy, useless once LocalStack is gone
    shutil.rmtree(config.tmp_dir(), ignore_errors=True)
    pidfile.remove()
    return len(procs)
