"""What `up`, `down`, `status` and `logs` need from a way of running LocalStack.

Two implementations: ``host_backend.HostBackend`` (a local process tree) and
``docker_backend.DockerBackend`` (docker compose). ``cli`` picks one per command.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable

from .pidfile import PidFile


class Backend(ABC):
    mode: str  # what the pid file records: "host" or "docker"

    @abstractmethod
    def already_up(self, info: PidFile | None) -> bool:
        """`up`, before starting: True if the recorded instance runs and answers.

        Otherwise clears whatever is left of it, so a fresh start can follow.
        """

    def install(self) -> bool:
        """Install what `up` needs; True if something was installed (slow: not start-up time)."""
        return False

    @abstractmethod
    def up(self) -> PidFile:
        """Start LocalStack, write the pid file, wait until its health endpoint answers."""

    @abstractmethod
    def down(self, info: PidFile | None) -> None:
        """Stop everything `up` started on this port (and say what was done)."""

    @abstractmethod
    def running(self, info: PidFile | None, health: dict | None) -> bool:
        """Whether the instance `up` started runs (`health` is what the endpoint answered)."""

    @abstractmethod
    def logs(self, lines: int, follow: bool) -> int:
        """Print the last ``lines`` of LocalStack's log (then keep following); an exit code."""

    @abstractmethod
    def init_output(self) -> str:
        """What the init scripts printed, for the message when one failed."""

    def init_script_exited(self) -> Callable[[], bool] | None:
        """A local check that the init script has exited, so waiting for init need not ask
        LocalStack every 0.1 s while it works; None: ask LocalStack (readiness.wait_init)."""
        return None
