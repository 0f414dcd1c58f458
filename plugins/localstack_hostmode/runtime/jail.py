"""A spare sandbox becomes one function's environment (Linux, bubblewrap; see the executor's
lambda_runtime/sandbox.py).

A spare runtime starts in a sandbox before anyone knows which function it will run: the
directory holding every function's code is mounted at a hidden path, and the runtime is root of
its own user namespace with CAP_SYS_ADMIN there. When it is claimed, before any of the
function's code runs, it mounts that function's code read-only at /var/task (and its layer at
/opt), covers the hidden directory with an empty one, sizes /tmp, then enters a nested user
namespace as sbx_user1051 (uid 993) and drops every capability. Stdlib only.
"""

import ctypes
import os

MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_REMOUNT = 32
MS_BIND = 4096
MS_REC = 16384
CLONE_NEWUSER = 0x10000000
PR_CAPBSET_DROP = 24
LAST_CAP = 63  # EINVAL past the kernel's last capability: ignored
_LINUX_CAPABILITY_VERSION_3 = 0x20080522


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                ("inheritable", ctypes.c_uint32)]


def _check(result, what):
    if result != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")


def _write(path, text):
    fd = os.open(path, os.O_WRONLY)
    try:
        os.write(fd, text.encode())
    finally:
        os.close(fd)


def enter(spec):
    """Become the function's sandbox. spec: {"root": the hidden code directory, "mounts":
    [[path under root, mount point], ...], "tmp_bytes": /tmp's size, "uid", "gid"}."""
    libc = ctypes.CDLL(None, use_errno=True)
    root = spec["root"]
    for source, target in spec["mounts"]:
        path = os.path.join(root, source)
        _check(libc.mount(path.encode(), target.encode(), None, MS_BIND | MS_REC, None),
               f"mount {target}")
        flags = MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV
        _check(libc.mount(None, target.encode(), None, flags, None), f"read-only {target}")
    # covered by an empty read-only tmpfs, which nobody can unmount once the capabilities are
    # gone (umount itself can wait for an RCU grace period: milliseconds on a busy machine)
    _check(libc.mount(b"none", root.encode(), b"tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV,
                      b"size=4096"), f"cover {root}")
    size = f"size={int(spec['tmp_bytes'])}".encode()
    _check(libc.mount(None, b"/tmp", None, MS_REMOUNT | MS_NOSUID | MS_NODEV, size), "size /tmp")
    # the final user: a nested namespace mapping it to the sandbox's root (the host's user)
    _check(libc.unshare(CLONE_NEWUSER), "user namespace")
    _write("/proc/self/setgroups", "deny")
    _write("/proc/self/uid_map", f"{spec['uid']} 0 1")
    _write("/proc/self/gid_map", f"{spec['gid']} 0 1")
    for cap in range(LAST_CAP + 1):  # none can come back (bwrap also sets no_new_privs)
        libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0)
    data = (_CapData * 2)()
    _check(libc.capset(ctypes.byref(_CapHeader(_LINUX_CAPABILITY_VERSION_3, 0)), data),
           "drop capabilities")
    if os.getuid() != spec["uid"]:
        raise OSError(f"still uid {os.getuid()} after the user namespace")
