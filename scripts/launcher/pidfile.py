"""The pid file `up` writes (``.localstack/run/<port>/localstack.pid``): which mode runs, and how
to recognise the host-mode LocalStack process again.

JSON on disk, so `make status`, the tests and a later launcher (or an older one) can read it.
Fields that do not apply to a mode are left out of the file.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from . import config


@dataclass
class PidFile:
    # "host" or "docker" ("unknown" only in memory: something `up` did not start)
    mode: str = ""
    url: str = ""
    port: int | None = None
    started_at: float | None = None  # time.time() of the start
    # host mode only
    pid: int | None = None
    # the process's start time in clock ticks since boot: pid + start identify a process
    # (a reused pid starts later)
    start: int | None = None
    token: str | None = None  # HOSTMODE_INSTANCE of that start
    log: str | None = None

    @property
    def is_docker(self) -> bool:
        return self.mode == "docker"

    @property
    def is_host(self) -> bool:
        return self.mode == "host"

    def to_json(self) -> str:
        return json.dumps({k: v for k, v in asdict(self).items() if v is not None}) + "\n"

    @classmethod
    def from_json(cls, text: str) -> PidFile | None:
        """The pid file's content, or None if it is not one (then it is as good as absent)."""
        try:
            data = json.loads(text)
            if not data:  # `{}` says nothing about any instance
                return None
            known = {f.name for f in fields(cls)}
            return cls(**{k: v for k, v in data.items() if k in known})
        except (ValueError, TypeError, AttributeError):
            return None

    def write(self, path: Path | None = None) -> None:
        (path or config.pid_file()).write_text(self.to_json())


def read(path: Path | None = None) -> PidFile | None:
    try:
        text = (path or config.pid_file()).read_text()
    except OSError:
        return None
    return PidFile.from_json(text)


def remove(path: Path | None = None) -> None:
    (path or config.pid_file()).unlink(missing_ok=True)
