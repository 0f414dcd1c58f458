"""scripts/launcher/procfs.py: reading processes and listening sockets from /proc."""

from __future__ import annotations

import os
import socket

from launcher import procfs
from launcher.procfs import Proc


def test_listening_ports_sees_a_listening_socket() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        assert procfs.port_listening(port)
        assert os.getpid() in procfs.socket_owners(procfs.listening_ports()[port])
    assert not procfs.port_listening(port)


def test_proc_info_reads_this_process() -> None:
    me = procfs.proc_info(os.getpid())
    assert me is not None
    assert me.ppid == os.getppid() and me.pgid == os.getpgid(0) and me.sid == os.getsid(0)
    assert me.uid == os.getuid() and me.start > 0
    assert me.ppid in procfs.ancestors(os.getpid())


def _proc(pid: int, ppid: int) -> Proc:
    return Proc(pid, ppid, pgid=pid, sid=pid, start=0, cmdline=f"p{pid}", uid=0)


def test_with_descendants_follows_children_of_children_only() -> None:
    procs = [_proc(10, 1), _proc(11, 10), _proc(12, 11), _proc(20, 1), _proc(21, 20)]
    found = procfs.with_descendants([procs[0]], procs)
    assert sorted(p.pid for p in found) == [10, 11, 12]
    assert procfs.with_descendants([], procs) == []
