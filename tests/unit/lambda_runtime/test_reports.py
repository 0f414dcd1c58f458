"""AWS's wording of an invocation's log, LoggingConfig applied (no LocalStack needed)."""

from __future__ import annotations

import json

from localstack_hostmode.lambda_runtime.reports import (
    SUCCESS,
    TIMEOUT,
    InvocationReport,
    LogSettings,
    Outcome,
)


def records(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def test_text_format_sets_nothing() -> None:
    for config in (None, {}, {"LogFormat": "Text", "LogGroup": "/aws/lambda/fn"}):
        settings = LogSettings.of(config)
        assert not settings.json
        assert settings.runtime_env() == {}


def test_json_format_defaults_to_info_levels() -> None:
    settings = LogSettings.of({"LogFormat": "JSON"})
    assert settings.runtime_env() == {"AWS_LAMBDA_LOG_FORMAT": "JSON",
                                      "AWS_LAMBDA_LOG_LEVEL": "INFO"}


def test_invocation_log_has_platform_records_around_the_output() -> None:
    settings = LogSettings.of({"LogFormat": "JSON", "ApplicationLogLevel": "DEBUG"})

    text = settings.json_invocation_log(InvocationReport(
        "rid-1", "$LATEST", b"module imported\n", b"hello\n", 12.3456, 256, 40 * 1024 + 1, 99.5,
        SUCCESS))

    lines = text.splitlines()
    assert lines[0] == "module imported"  # init output comes before the invocation
    assert lines[2] == "hello"
    start, report = records(text)
    assert start["type"] == "platform.start" and start["time"].endswith("Z")
    assert start["record"] == {"requestId": "rid-1", "version": "$LATEST"}
    assert report["type"] == "platform.report"
    assert report["record"] == {
        "requestId": "rid-1",
        "metrics": {"durationMs": 12.346, "billedDurationMs": 13, "memorySizeMB": 256,
                    "maxMemoryUsedMB": 41, "initDurationMs": 99.5},
        "status": "success",
    }


def test_report_status_of_a_timeout_and_a_platform_error() -> None:
    settings = LogSettings.of({"LogFormat": "JSON"})
    timeout = records(settings.json_invocation_log(
        InvocationReport("r", "1", b"", b"", 1, 128, 0, None, TIMEOUT)))
    error = records(settings.json_invocation_log(InvocationReport(
        "r", "1", b"", b"", 1, 128, 0, None, Outcome.error("Runtime.OutOfMemory"))))
    assert timeout[-1]["record"]["status"] == "timeout"
    assert "initDurationMs" not in timeout[-1]["record"]["metrics"]
    assert error[-1]["record"]["status"] == "error"
    assert error[-1]["record"]["errorType"] == "Runtime.OutOfMemory"


def test_levels_filter_platform_records_and_json_application_lines() -> None:
    settings = LogSettings.of({"LogFormat": "JSON", "ApplicationLogLevel": "WARN",
                               "SystemLogLevel": "ERROR"})
    output = "\n".join([
        json.dumps({"level": "INFO", "message": "dropped"}),
        json.dumps({"level": "WARNING", "message": "python's name for WARN"}),
        json.dumps({"level": "ERROR", "message": "kept"}),
        json.dumps({"message": "no level"}),
        "{not json",
        "plain",
    ]).encode()

    text = settings.json_invocation_log(
        InvocationReport("r", "1", b"", output, 1, 128, 0, None, SUCCESS))

    assert "platform." not in text
    assert "dropped" not in text
    for kept in ("python's name for WARN", '"kept"', "no level", "{not json", "plain"):
        assert kept in text
