"""Docker mode: LocalStack's image through ``docker compose`` and ``docker-compose.yml``."""

from __future__ import annotations

import os
import shutil
import subprocess
import time

from . import config, pidfile, readiness
from .backend import Backend
from .console import HostmodeError, log
from .pidfile import PidFile


def docker_cli() -> str | None:
    return shutil.which("docker")


def docker_available(timeout: float = 3.0) -> bool:
    """Whether a Docker engine answers `docker info`."""
    cli = docker_cli()
    if not cli:
        return False
    try:
        return subprocess.run([cli, "info"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              timeout=timeout).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


def compose_cmd() -> list[str]:
    cli = docker_cli()
    if cli and subprocess.run([cli, "compose", "version"], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL).returncode == 0:
        return [cli, "compose", "-f", str(config.COMPOSE_FILE)]
    legacy = shutil.which("docker-compose")
    if legacy:
        return [legacy, "-f", str(config.COMPOSE_FILE)]
    raise HostmodeError("Docker mode needs `docker compose` (or docker-compose)")


class DockerBackend(Backend):
    mode = "docker"

    def already_up(self, info: PidFile | None) -> bool:
        # nothing to clean up: compose replaces a stopped container
        return readiness.health() is not None

    def up(self) -> PidFile:
        config.run_dir().mkdir(parents=True, exist_ok=True)
        log(f"starting LocalStack in Docker ({config.COMPOSE_FILE.name})")
        env = dict(os.environ, LOCALSTACK_PORT=str(config.port()))
        subprocess.run(compose_cmd() + ["up", "-d"], check=True, env=env, cwd=str(config.ROOT))
        info = PidFile(mode=self.mode, url=config.url(), port=config.port(),
                       started_at=time.time())
        info.write()
        readiness.wait_ready(config.HEALTH_TIMEOUT_S * 2)
        return info

    def down(self, info: PidFile | None) -> None:
        log("stopping LocalStack (docker compose down)")
        subprocess.run(compose_cmd() + ["down"], check=True, cwd=str(config.ROOT))
        pidfile.remove()

    def running(self, info: PidFile | None, health: dict | None) -> bool:
        return health is not None

    def logs(self, lines: int, follow: bool) -> int:
        return subprocess.call(compose_cmd() + ["logs", "--tail", str(lines)]
                               + (["-f"] if follow else []), cwd=str(config.ROOT))

    def init_output(self) -> str:
        """The container's log (init-aws.sh's output is part of it)."""
        try:
            return subprocess.run(compose_cmd() + ["logs", "--tail", "60"], capture_output=True,
                                  text=True, cwd=str(config.ROOT), timeout=30).stdout
        except (OSError, subprocess.SubprocessError, HostmodeError) as e:
            return f"(could not read the container log: {e})"
