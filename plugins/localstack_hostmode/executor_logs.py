"""A function's LoggingConfig, applied as AWS Lambda applies it (LocalStack stores it only).

- ``LogFormat: JSON`` sets ``AWS_LAMBDA_LOG_FORMAT=JSON`` and ``AWS_LAMBDA_LOG_LEVEL`` (the
  ApplicationLogLevel) for the runtime, whose ``logging`` handler then writes JSON records
  (runtime/bootstrap.py); Powertools' Logger reads the same level.
- The platform's START/END/REPORT lines become ``platform.start`` and ``platform.report``
  records, written only when SystemLogLevel admits INFO.
- Application log lines that are JSON objects with a ``level`` below ApplicationLogLevel are
  dropped; other lines (``print``) pass.
- ``LogGroup`` is honoured by hooks.py (the log group LocalStack writes to and
  ``AWS_LAMBDA_LOG_GROUP_NAME``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

LEVELS = ("TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL")
_ALIASES = {"WARNING": "WARN", "CRITICAL": "FATAL"}
PLATFORM_EVENT_LEVEL = "INFO"


def _severity(level: object) -> int | None:
    if not isinstance(level, str):
        return None
    name = level.upper()
    name = _ALIASES.get(name, name)
    return LEVELS.index(name) if name in LEVELS else None


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class LogSettings:
    json: bool = False
    application_level: str = "INFO"
    system_level: str = "INFO"

    @classmethod
    def of(cls, logging_config: Mapping | None) -> LogSettings:
        config = logging_config or {}
        if str(config.get("LogFormat") or "Text").upper() != "JSON":
            return cls()
        return cls(
            json=True,
            application_level=str(config.get("ApplicationLogLevel") or "INFO").upper(),
            system_level=str(config.get("SystemLogLevel") or "INFO").upper(),
        )

    def runtime_env(self) -> dict[str, str]:
        if not self.json:
            return {}
        return {"AWS_LAMBDA_LOG_FORMAT": "JSON", "AWS_LAMBDA_LOG_LEVEL": self.application_level}

    def _admits(self, threshold: str, level: object) -> bool:
        severity, minimum = _severity(level), _severity(threshold)
        return severity is None or minimum is None or severity >= minimum

    def application_lines(self, output: str) -> list[str]:
        kept = []
        for line in output.splitlines():
            if line.startswith("{"):
                try:
                    record = json.loads(line)
                except ValueError:
                    record = None
                if isinstance(record, dict) and not self._admits(
                    self.application_level, record.get("level")
                ):
                    continue
            kept.append(line)
        return kept

    def json_invocation_log(
        self,
        request_id: str,
        version: str,
        init_output: bytes,
        output: bytes,
        duration_ms: float,
        memory_mb: int,
        max_rss_kib: int,
        init_duration_ms: float | None,
        status: str,
    ) -> str:
        """``status`` is the REPORT line's: "" (success), "timeout" or "error\\tError Type: X"."""
        platform = self._admits(self.system_level, PLATFORM_EVENT_LEVEL)
        # init output (a cold start's module-level code) precedes the invocation, as on AWS
        lines = self.application_lines(init_output.decode("utf-8", "replace"))
        if platform:
            lines.append(self._platform("platform.start",
                                        {"requestId": request_id, "version": version}))
        lines += self.application_lines(output.decode("utf-8", "replace"))
        if platform:
            metrics: dict[str, float | int] = {
                "durationMs": round(duration_ms, 3),
                "billedDurationMs": max(1, math.ceil(duration_ms)),
                "memorySizeMB": memory_mb,
                "maxMemoryUsedMB": math.ceil(max_rss_kib / 1024),
            }
            if init_duration_ms:
                metrics["initDurationMs"] = round(init_duration_ms, 3)
            record: dict[str, object] = {"requestId": request_id, "metrics": metrics}
            if not status:
                record["status"] = "success"
            elif status.startswith("error"):
                record["status"] = "error"
                record["errorType"] = status.partition("Error Type: ")[2] or "Unknown"
            else:
                record["status"] = status
            lines.append(self._platform("platform.report", record))
        return "".join(line + "\n" for line in lines)

    @staticmethod
    def _platform(event_type: str, record: dict) -> str:
        return json.dumps({"time": _now(), "type": event_type, "record": record})
