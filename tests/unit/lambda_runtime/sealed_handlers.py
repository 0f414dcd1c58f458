"""Handlers that try to escape their Lambda environment, for test_sealed_processes.py and
tests/integration/test_executor_sealed.py (which deploys this file as the function's code)."""

import os
import subprocess
import sys
import time

SLEEP = [sys.executable, "-c", "import time; time.sleep(300)"]


def double_fork():
    """A grandchild in a session of its own whose parent is gone (a daemon); returns its pid."""
    read_end, write_end = os.pipe()
    if os.fork() == 0:
        os.setsid()
        pid = os.fork()
        if pid == 0:
            time.sleep(300)
            os._exit(0)
        os.write(write_end, str(pid).encode())
        os._exit(0)
    os.wait()
    return int(os.read(read_end, 32))


def escape(event, context):
    session = subprocess.Popen(SLEEP, start_new_session=True, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    return {"pids": [session.pid, double_fork()]}


def fork_and_exit(event, context):
    pid = os.fork()
    if pid == 0:  # holds every pipe of the runtime
        time.sleep(300)
        os._exit(0)
    print(f"CHILD={pid}", flush=True)
    os._exit(3)


def parent_environ(event, context):
    """The names in the parent's (LocalStack's) environment."""
    with open(f"/proc/{os.getppid()}/environ", "rb") as f:
        entries = f.read().split(b"\0")
    return sorted({e.split(b"=", 1)[0].decode() for e in entries if b"=" in e})


def environment(event, context):
    return {"env": dict(os.environ)}
