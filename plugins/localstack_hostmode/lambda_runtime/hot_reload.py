"""Change detection for hot-reload code (S3Bucket=hot-reload, S3Key=<folder>).

The executor asks `watcher_for(root).generation()` before every invoke and restarts the function's
process when the number moved since that process was started, so a saved file shows on the very
next invocation. On Linux an inotify descriptor is drained without blocking (a few microseconds,
no thread, no race with a save done just before the invoke); elsewhere, or when inotify is not
usable, the tree's mtimes are scanned instead.
"""

from __future__ import annotations

import ctypes
import errno
import logging
import os
import struct
import sys
import threading

LOG = logging.getLogger(__name__)

# Directories whose changes never matter to the handler's code
SKIP_DIRS = frozenset(
    {
        "__pycache__",
        "node_modules",
        ".git",
        ".hg",
        ".svn",
        ".venv",
        "venv",
        ".tox",
        ".mypy_cache",
        ".pytest_cache",
        ".ruff_cache",
        ".idea",
        ".vscode",
    }
)
# Editor and bytecode droppings
SKIP_SUFFIXES = (".pyc", ".pyo", ".swp", ".swx", ".swo", "~", ".tmp")

IN_MODIFY = 0x00000002
IN_ATTRIB = 0x00000004
IN_CLOSE_WRITE = 0x00000008
IN_MOVED_FROM = 0x00000040
IN_MOVED_TO = 0x00000080
IN_CREATE = 0x00000100
IN_DELETE = 0x00000200
IN_DELETE_SELF = 0x00000400
IN_MOVE_SELF = 0x00000800
IN_Q_OVERFLOW = 0x00004000
IN_IGNORED = 0x00008000
IN_ISDIR = 0x40000000
IN_ONLYDIR = 0x01000000
IN_NONBLOCK = os.O_NONBLOCK
IN_CLOEXEC = 0o2000000
WATCH_MASK = (
    IN_MODIFY
    | IN_ATTRIB
    | IN_CLOSE_WRITE
    | IN_MOVED_FROM
    | IN_MOVED_TO
    | IN_CREATE
    | IN_DELETE
    | IN_DELETE_SELF
    | IN_MOVE_SELF
    | IN_ONLYDIR
)
_EVENT = struct.Struct("iIII")


def relevant_name(name: str) -> bool:
    return not (name.endswith(SKIP_SUFFIXES) or name.startswith(".#") or name in SKIP_DIRS)


def _walk_dirs(root: str):
    for dirpath, dirnames, _ in os.walk(root):
        dirnames[:] = [d for d in dirnames if d not in SKIP_DIRS and not d.startswith(".")]
        yield dirpath


def tree_fingerprint(root: str) -> tuple:
    """(file count, newest mtime_ns, total size) of the relevant files under root."""
    count = newest = total = 0
    for dirpath in _walk_dirs(root):
        try:
            entries = list(os.scandir(dirpath))
        except OSError:
            continue
        for entry in entries:
            if not relevant_name(entry.name):
                continue
            try:
                if entry.is_dir():
                    continue  # a directory's mtime moves with every droppings file
                st = entry.stat(follow_symlinks=True)
            except OSError:
                continue
            count += 1
            newest = max(newest, st.st_mtime_ns)
            total += st.st_size
    return count, newest, total


class ScanWatcher:
    def __init__(self, root: str):
        self.root = root
        self._lock = threading.Lock()
        self._generation = 0
        self._fingerprint = tree_fingerprint(root)

    def generation(self) -> int:
        with self._lock:
            fingerprint = tree_fingerprint(self.root)
            if fingerprint != self._fingerprint:
                self._fingerprint = fingerprint
                self._generation += 1
            return self._generation

    def close(self) -> None:
        pass


class InotifyWatcher:
    def __init__(self, root: str, libc):
        self.root = root
        self._libc = libc
        self._lock = threading.Lock()
        self._generation = 0
        self._wds: dict[int, str] = {}
        self._fd = libc.inotify_init1(IN_NONBLOCK | IN_CLOEXEC)
        if self._fd < 0:
            raise OSError(ctypes.get_errno(), "inotify_init1 failed")
        try:
            for dirpath in _walk_dirs(root):
                self._add_watch(dirpath)
        except OSError:
            os.close(self._fd)
            raise

    def _add_watch(self, path: str) -> None:
        wd = self._libc.inotify_add_watch(self._fd, os.fsencode(path), WATCH_MASK)
        if wd < 0:
            err = ctypes.get_errno()
            if err in (errno.ENOENT, errno.ENOTDIR):
                return  # vanished meanwhile
            raise OSError(err, f"inotify_add_watch({path}) failed")
        self._wds[wd] = path

    def _drain(self) -> bool:
        changed = False
        while True:
            try:
                data = os.read(self._fd, 65536)
            except BlockingIOError:
                return changed
            offset = 0
            while offset + _EVENT.size <= len(data):
                wd, mask, _cookie, length = _EVENT.unpack_from(data, offset)
                name = data[offset + _EVENT.size : offset + _EVENT.size + length].rstrip(b"\0")
                offset += _EVENT.size + length
                name = os.fsdecode(name)
                if mask & IN_Q_OVERFLOW:
                    changed = True
                    continue
                if mask & IN_IGNORED:
                    self._wds.pop(wd, None)
                    continue
                if name and not relevant_name(name):
                    continue
                if name.startswith(".") and mask & IN_ISDIR:
                    continue
                changed = True
                if mask & IN_ISDIR and mask & (IN_CREATE | IN_MOVED_TO) and wd in self._wds:
                    for dirpath in _walk_dirs(os.path.join(self._wds[wd], name)):
                        try:
                            self._add_watch(dirpath)
                        except OSError as e:
                            LOG.debug("hot reload: cannot watch %s: %s", dirpath, e)

    def generation(self) -> int:
        with self._lock:
            if self._drain():
                self._generation += 1
            return self._generation

    def close(self) -> None:
        with self._lock:
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1


_watchers: dict[str, InotifyWatcher | ScanWatcher] = {}
_watchers_lock = threading.Lock()


def _libc_with_inotify():
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.inotify_init1.argtypes = [ctypes.c_int]
        libc.inotify_add_watch.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_uint32]
        return libc
    except (OSError, AttributeError):
        return None


def watcher_for(root: str) -> InotifyWatcher | ScanWatcher:
    """The shared watcher of one hot-reload folder (created on first use)."""
    root = os.path.realpath(root)
    with _watchers_lock:
        watcher = _watchers.get(root)
        if watcher is None:
            libc = _libc_with_inotify()
            watcher = None
            if libc is not None:
                try:
                    watcher = InotifyWatcher(root, libc)
                except OSError as e:
                    LOG.info("hot reload: inotify unusable for %s (%s), scanning mtimes", root, e)
            if watcher is None:
                watcher = ScanWatcher(root)
            _watchers[root] = watcher
        return watcher
