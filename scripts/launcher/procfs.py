"""Reading /proc: processes (who, whose child, which group and session, since when) and
listening TCP sockets (which port, which owner). Linux only; nothing here changes anything."""

from __future__ import annotations

import os
from collections.abc import Iterable


def _read(path: str) -> bytes | None:
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        return None


class Proc:
    __slots__ = ("pid", "ppid", "pgid", "sid", "start", "cmdline", "uid")

    def __init__(self, pid: int, ppid: int, pgid: int, sid: int, start: int, cmdline: str,
                 uid: int) -> None:
        self.pid, self.ppid, self.pgid, self.sid = pid, ppid, pgid, sid
        self.start, self.cmdline, self.uid = start, cmdline, uid

    def carries(self, environ_entry: bytes) -> bool:
        """Whether ``KEY=value`` is in the environment the process started with."""
        raw = _read(f"/proc/{self.pid}/environ") or b""
        return environ_entry in raw.split(b"\0")


def stat_fields(pid: int) -> list[str]:
    """/proc/<pid>/stat after the command name: state, ppid, pgrp, session, ... ([] if gone)."""
    stat = _read(f"/proc/{pid}/stat")
    if not stat:
        return []
    text = stat.decode(errors="replace")
    # comm may contain spaces and parens: split after the last ')'
    return text[text.rfind(")") + 2:].split()


def is_stopped(pid: int) -> bool:
    """Stopped by a signal (SIGSTOP) or by a debugger: it cannot react to anything."""
    return stat_fields(pid)[:1] in (["T"], ["t"])


def proc_info(pid: int) -> Proc | None:
    rest = stat_fields(pid)
    if not rest or rest[0] == "Z":  # gone, or a zombie only waiting to be reaped
        return None
    cmdline = (_read(f"/proc/{pid}/cmdline") or b"").replace(b"\0", b" ").decode(
        errors="replace").strip()
    try:
        uid = os.stat(f"/proc/{pid}").st_uid
    except OSError:
        return None
    return Proc(pid, int(rest[1]), int(rest[2]), int(rest[3]), int(rest[19]), cmdline, uid)


def all_procs() -> list[Proc]:
    procs = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            p = proc_info(int(entry))
            if p:
                procs.append(p)
    return procs


def ancestors(pid: int) -> set[int]:
    """The parent, grandparent, ... of ``pid`` (init excluded)."""
    found = set()
    p = proc_info(pid)
    while p and p.ppid > 1:
        found.add(p.ppid)
        p = proc_info(p.ppid)
    return found


def with_descendants(roots: Iterable[Proc], procs: Iterable[Proc]) -> list[Proc]:
    """``roots`` and, among ``procs``, their children, grandchildren, ..."""
    by_parent: dict[int, list[Proc]] = {}
    for p in procs:
        by_parent.setdefault(p.ppid, []).append(p)
    found = {p.pid: p for p in roots}
    todo = list(found)
    while todo:
        for child in by_parent.get(todo.pop(), []):
            if child.pid not in found:
                found[child.pid] = child
                todo.append(child.pid)
    return list(found.values())


def listening_ports() -> dict[int, set[int]]:
    """port -> socket inodes of TCP sockets in LISTEN state (IPv4 and IPv6)."""
    result: dict[int, set[int]] = {}
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        data = _read(name)
        if not data:
            continue
        for line in data.decode().splitlines()[1:]:
            fields = line.split()
            if len(fields) > 9 and fields[3] == "0A":
                p = int(fields[1].rsplit(":", 1)[1], 16)
                result.setdefault(p, set()).add(int(fields[9]))
    return result


def _holds_any(pid: str, targets: set[str]) -> bool:
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return False
    for fd in fds:
        try:
            if os.readlink(f"/proc/{pid}/fd/{fd}") in targets:
                return True
        except OSError:
            continue
    return False


def socket_owners(inodes: set[int]) -> set[int]:
    """Pids holding any of these socket inodes open."""
    targets = {f"socket:[{i}]" for i in inodes}
    return {int(entry) for entry in os.listdir("/proc")
            if entry.isdigit() and _holds_any(entry, targets)}


def port_listening(p: int) -> bool:
    return p in listening_ports()
