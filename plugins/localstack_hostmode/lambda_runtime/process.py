"""The process engine of the local-process executor: runtime processes and their pipes.

No LocalStack import (unit-tested against a fake runtime child, tests/unit/lambda_runtime/).
- ChildProcess: one spawned runtime process, its request, response and log pipes, and the pump
  that writes a request and collects logs until the child answers with a frame (frames.py).
- SparePool (spares.py): one idle runtime process per kind, started ahead of need.
- The worker registry: every live process, killed at exit or by stop_all_workers().

Sealing (runtime/sealing.py): killing a runtime kills its whole descendant tree (the runtime is
their subreaper, so a new session or a double fork does not escape), and the runtime's exit is
seen through a pidfd, not only as EOF on a pipe that a forked child may hold open.

The child's stdout and stderr share one pipe (fd level, so C extensions and subprocesses are
captured too); everything written before a frame is in that pipe when the frame arrives, which
keeps the logs of an invocation complete and in order.

Over ~400 lines on purpose: the pump and the pipes' state it drives are one engine; split,
each part would reach into the other's internals.
"""

from __future__ import annotations

import atexit
import enum
import errno
import fcntl
import json
import logging
import math
import os
import select
import signal
import subprocess
import threading
import time
import weakref

from localstack_hostmode.lambda_runtime import reports, sandbox
from localstack_hostmode.runtime import frames, sealing

LOG = logging.getLogger(__name__)

LOG_TAIL_BYTES = 64 * 1024
MAX_LOG_BYTES_PER_INVOKE = 16 * 1024 * 1024
READ_CHUNK = 1 << 20
PIPE_SIZE = 1 << 20
F_SETPIPE_SZ = 1031

DEFAULT_LANG = "en_US.UTF-8"
SPARE_PATH = "/usr/local/bin:/usr/bin:/bin"

# AWS kills a sandbox whose memory use exceeds MemorySize. Here the runtime process's RSS is
# sampled this often while it runs init or an invocation (a handler's own subprocesses are
# not counted), so a spike shorter than this can slip through.
MEMORY_CHECK_S = 0.05
ENFORCE_MEMORY = os.environ.get("HOSTMODE_LAMBDA_MEMORY_LIMIT", "1") != "0"

_live_children: weakref.WeakSet[ChildProcess] = weakref.WeakSet()
_live_lock = threading.Lock()
_shutting_down = threading.Event()


def _kill_all_children() -> None:
    with _live_lock:
        children = list(_live_children)
    for child in children:
        child.kill()


def stop_all_workers() -> None:
    """LocalStack is shutting down: its gateway takes no new requests, so an invocation whose
    handler calls back into it could only hang (and hold up the shutdown) until the SDK times
    out. Every runtime process is killed now, and no new one starts."""
    _shutting_down.set()
    _kill_all_children()


atexit.register(_kill_all_children)


_PAGE_KIB = os.sysconf("SC_PAGE_SIZE") // 1024 if hasattr(os, "sysconf") else 4


def resident_kib(pid: int) -> int | None:
    """A process's resident set size in KiB (Linux /proc), None when unknown."""
    try:
        with open(f"/proc/{pid}/statm", "rb") as f:
            return int(f.read().split()[1]) * _PAGE_KIB
    except (OSError, ValueError, IndexError):
        return None


class Frame:
    __slots__ = ("kind", "body")

    def __init__(self, kind: bytes, body: bytes):
        self.kind = kind
        self.body = body


class PumpEnd(enum.Enum):
    """How a pump ended without a frame."""

    EOF = "eof"  # the child closed its response pipe: it died (or was killed over memory)
    TIMEOUT = "timeout"  # the deadline passed


class ChildProcess:
    """One spawned runtime process and its three pipes.

    Started as ``<command> <request fd> <response fd> <config JSON>``, where the command is the
    interpreter and entrypoint (behind AWS_LAMBDA_EXEC_WRAPPER, if set).
    """

    def __init__(self, command: list[str], child_config: dict, env: dict[str, str], cwd: str):
        self.popen: subprocess.Popen | None = None
        # init failed: the runtime's init error frame, or how the init ended without one
        self.init_error: Frame | PumpEnd | None = None
        self.init_duration_ms: float | None = None
        self.init_logs = b""
        self.max_rss_kib = 0
        self.memory_limit_kib: int | None = None  # set per function; None: not enforced
        self.out_of_memory = False
        self.dead = False
        self.returncode: int | None = None
        self.tail = bytearray()
        self._rbuf = bytearray()
        self._logs = bytearray()
        self._dropped_log_bytes = 0  # output past MAX_LOG_BYTES_PER_INVOKE, since take_logs
        self._out = memoryview(b"")
        self._resp_eof = False
        self._log_eof = False
        self.pidfd = -1  # readable once the runtime process exits (Linux 5.3+)
        self._killed = threading.Event()
        self._io_lock = threading.Lock()
        self.invoked = False
        # sandboxed (sandbox.py), the runtime is bwrap's child: its pid is looked up once
        self.sandboxed = sandbox.wraps(command)
        self._runtime_pid: int | None = None
        self.preloaded: dict | None = None  # a spare's preload report (spares.py)
        self._spawn(command, child_config, env, cwd)

    # -- lifecycle ---------------------------------------------------------------------------

    def _spawn(self, command: list[str], child_config: dict, env: dict[str, str], cwd: str) -> None:
        if _shutting_down.is_set():
            raise RuntimeError("LocalStack is shutting down: no new Lambda runtime starts")
        # os.pipe() fds are close-on-exec: no other runtime process inherits them
        req_r, self.req_w = os.pipe()
        self.resp_r, resp_w = os.pipe()
        self.log_r, log_w = os.pipe()
        for fd in (self.req_w, self.resp_r):
            try:
                fcntl.fcntl(fd, F_SETPIPE_SZ, PIPE_SIZE)
            except OSError:
                pass  # larger pipes only save syscalls
        env, child_config = sandbox.with_owner_mark(command, env, child_config)
        argv = [*command, str(req_r), str(resp_w), json.dumps(child_config)]
        self.started = time.perf_counter()
        try:
            self.popen = subprocess.Popen(
                argv,
                env=env,
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                stdout=log_w,
                stderr=log_w,
                pass_fds=(req_r, resp_w),
                start_new_session=True,  # own process group: stop() kills handler subprocesses too
            )
        except BaseException:
            for fd in (req_r, resp_w, log_w, self.req_w, self.resp_r, self.log_r):
                os.close(fd)
            raise
        finally:
            if self.popen is not None:
                for fd in (req_r, resp_w, log_w):
                    os.close(fd)
        for fd in (self.req_w, self.resp_r, self.log_r):
            os.set_blocking(fd, False)
        self.pidfd = sealing.open_pidfd(self.popen.pid)
        with _live_lock:
            _live_children.add(self)

    def claim(self, env: dict[str, str], cwd: str, child_config: dict) -> None:
        """Hand a spare process its function; the init starts now (await it with pump)."""
        self.started = time.perf_counter()
        self.send(frames.encode_claim(env, cwd, child_config))

    def alive(self) -> bool:
        """Running; an exited runtime is not reaped here, so kill() can still signal its
        process group under a pid that cannot have been reused."""
        if self.dead or self.popen is None or self.popen.returncode is not None:
            return False
        if self.pidfd >= 0:
            return not select.select([self.pidfd], [], [], 0)[0]
        return self.popen.poll() is None

    @property
    def pid(self) -> int | None:
        return self.popen.pid if self.popen else None

    def runtime_pid(self) -> int | None:
        """The runtime process's pid (whose memory counts): in a sandbox, bwrap's child."""
        if not self.sandboxed or self.popen is None:
            return self.pid
        if self._runtime_pid is None:
            self._runtime_pid = sandbox.runtime_pid(self.popen.pid)
        return self._runtime_pid

    def kill(self) -> None:
        """SIGKILL everything the runtime started and the runtime itself, reap it.

        The runtime is stopped first (it starts nothing more), then its descendants are killed:
        it is their subreaper, so those in a session of their own are among them; then its
        process group (what is left of it after the runtime exited by itself)."""
        if self._killed.is_set() or self.popen is None:
            return
        self._killed.set()
        pid = self.popen.pid
        # not reaped yet, the pid is still the runtime's (os.kill: one that left its group)
        unreaped = self.popen.returncode is None
        if unreaped:
            sealing.signal_quietly(os.kill, pid, signal.SIGSTOP)
            sealing.kill_descendants(pid)
        sealing.signal_quietly(os.killpg, pid, signal.SIGKILL)
        if unreaped:
            sealing.signal_quietly(os.kill, pid, signal.SIGKILL)
        try:
            self.returncode = self.popen.wait(timeout=5)
            if self.sandboxed:  # bwrap's exit status says how the runtime ended
                self.returncode = sandbox.exit_status(self.returncode)
        except subprocess.TimeoutExpired:
            LOG.warning("Lambda runtime process %s did not exit after SIGKILL", self.popen.pid)
        self.dead = True

    def close(self) -> None:
        """Kill, then close our pipe ends once no thread is reading them (an invoke or the
        init wait returns promptly: the kill ends the child's side of the pipes)."""
        self.kill()
        if self._io_lock.acquire(timeout=10):
            try:
                for name in ("req_w", "resp_r", "log_r", "pidfd"):
                    fd = getattr(self, name, -1)
                    if fd >= 0:
                        try:
                            os.close(fd)
                        except OSError:
                            pass
                        setattr(self, name, -1)
            finally:
                self._io_lock.release()
        with _live_lock:
            _live_children.discard(self)

    def reap(self) -> int | None:
        """After the pump's EOF: the exit status (the process is gone or going). What it left
        behind in its process group (a forked child holding a pipe) is killed."""
        if self.popen is None:
            return None
        if self.pidfd >= 0:
            # wait for the exit without reaping: kill() then signals the group while the
            # zombie still holds the pid (reaped first, the pid could already be another's)
            select.select([self.pidfd], [], [], 2)
        else:
            try:
                self.returncode = self.popen.wait(timeout=2)
            except subprocess.TimeoutExpired:
                pass
        # one that closed its pipe but lingers (e.g. a handler closing fds) is killed here
        self.kill()
        self.dead = True
        return self.returncode

    # -- I/O ---------------------------------------------------------------------------------

    def take_logs(self) -> bytes:
        with self._io_lock:
            self._drain_logs()
            logs = bytes(self._logs)
            self._logs.clear()
            dropped, self._dropped_log_bytes = self._dropped_log_bytes, 0
        if dropped:
            # the cut is said in the log itself, before the END and REPORT lines
            logs += reports.log_truncated(dropped, MAX_LOG_BYTES_PER_INVOKE, logs)
        return logs

    def _add_logs(self, data: bytes) -> None:
        room = max(0, MAX_LOG_BYTES_PER_INVOKE - len(self._logs))
        self._logs += data[:room]
        self._dropped_log_bytes += max(0, len(data) - room)
        self.tail += data
        if len(self.tail) > LOG_TAIL_BYTES:
            del self.tail[: len(self.tail) - LOG_TAIL_BYTES]

    def _drain_logs(self) -> None:
        """Read what is in the log pipe now (everything the child wrote before its last frame)."""
        while not self._log_eof and self.log_r >= 0:
            try:
                data = os.read(self.log_r, READ_CHUNK)
            except BlockingIOError:
                return
            except OSError:
                self._log_eof = True
                return
            if not data:
                self._log_eof = True
                return
            self._add_logs(data)

    def _next_frame(self) -> Frame | None:
        buf = self._rbuf
        if len(buf) < frames.FRAME_HEADER_SIZE:
            return None
        end = frames.FRAME_HEADER_SIZE + frames.body_length(buf)
        if len(buf) < end:
            return None
        frame = Frame(bytes(buf[0:1]), bytes(buf[frames.FRAME_HEADER_SIZE : end]))
        del buf[:end]
        return frame

    def send(self, data: bytes) -> None:
        self._out = memoryview(data)

    def pump(self, deadline: float | None) -> Frame | PumpEnd:
        """Write pending request bytes and collect logs until the child sends a frame.

        Returns the frame, PumpEnd.EOF when the child closed its response pipe (it died, or was
        killed over its memory limit), or PumpEnd.TIMEOUT when `deadline` (perf_counter
        seconds) passed.
        """
        with self._io_lock:
            end = self._pump(deadline)
            self._drain_logs()
            return end

    def _pump(self, deadline: float | None) -> Frame | PumpEnd:
        if self.resp_r < 0:
            return PumpEnd.EOF
        poller = self._poller()
        checking_memory = bool(self.enforced_limit_kib)
        next_memory_check = time.perf_counter() + MEMORY_CHECK_S
        while True:
            frame = self._next_frame()
            if frame is not None:
                return frame
            if self._resp_eof:
                return PumpEnd.EOF
            now = time.perf_counter()
            if checking_memory and now >= next_memory_check:
                next_memory_check = now + MEMORY_CHECK_S
                pid = self.runtime_pid()
                if self._kill_if_over(resident_kib(pid) if pid else None):
                    return PumpEnd.EOF
            if deadline is not None and deadline - now <= 0:
                return PumpEnd.TIMEOUT
            wake_at = next_memory_check if checking_memory else None
            for fd, _events in poller.poll(_poll_timeout_ms(now, deadline, wake_at)):
                self._on_ready(fd, poller)

    def _poller(self) -> select.poll:
        """A poll over the response pipe, the log pipe (until EOF), the request (if pending)."""
        poller = select.poll()
        poller.register(self.resp_r, select.POLLIN)
        if self.pidfd >= 0:
            poller.register(self.pidfd, select.POLLIN)
        if not self._log_eof:
            poller.register(self.log_r, select.POLLIN)
        if self._out:
            poller.register(self.req_w, select.POLLOUT)
        return poller

    def _on_ready(self, fd: int, poller: select.poll) -> None:
        """One ready pipe: read a response or log chunk, or write more of the request."""
        if fd == self.req_w:
            if not self._out or self._write_request():
                poller.unregister(fd)
            return
        if fd == self.pidfd:
            # the runtime exited: a process it forked may hold the response pipe open, so do
            # not wait for EOF; what the runtime wrote before it exited is in the pipe now
            poller.unregister(fd)
            self._read_remaining_response()
            self._resp_eof = True
            return
        try:
            data = os.read(fd, READ_CHUNK)
        except BlockingIOError:
            return
        if fd == self.resp_r:
            if data:
                self._rbuf += data
            else:
                self._resp_eof = True
        elif fd == self.log_r:
            if data:
                self._add_logs(data)
            else:
                self._log_eof = True
                poller.unregister(fd)

    def _read_remaining_response(self) -> None:
        while True:
            try:
                data = os.read(self.resp_r, READ_CHUNK)
            except (BlockingIOError, OSError):
                return
            if not data:
                return
            self._rbuf += data

    def _write_request(self) -> bool:
        """Write what the pipe takes now; True once the request is written (or cannot be)."""
        try:
            written = os.write(self.req_w, self._out)
            self._out = self._out[written:]
        except BlockingIOError:
            return False
        except OSError as e:  # EPIPE: the child is gone, the EOF will tell
            if e.errno != errno.EPIPE:
                raise
            self._out = memoryview(b"")
        return not self._out

    @property
    def enforced_limit_kib(self) -> int | None:
        return self.memory_limit_kib if ENFORCE_MEMORY else None

    def over_memory_peak(self) -> bool:
        """After a result: kill the process if its reported peak RSS exceeded the limit."""
        return self._kill_if_over(self.max_rss_kib)

    def _kill_if_over(self, rss_kib: int | None) -> bool:
        """Kill the process if `rss_kib` is above the limit (AWS: Runtime.OutOfMemory)."""
        limit_kib = self.enforced_limit_kib
        if not limit_kib or rss_kib is None or rss_kib <= limit_kib:
            return False
        self.max_rss_kib = max(self.max_rss_kib, rss_kib)
        self.out_of_memory = True
        self.kill()
        return True


def _poll_timeout_ms(now: float, deadline: float | None, wake_at: float | None) -> int | None:
    """poll()'s timeout: until the deadline or the next memory check, whichever comes first."""
    remaining = None if deadline is None else deadline - now
    if wake_at is not None:
        until_check = max(0.0, wake_at - now)
        remaining = until_check if remaining is None else min(remaining, until_check)
    return None if remaining is None else max(1, math.ceil(remaining * 1000))
