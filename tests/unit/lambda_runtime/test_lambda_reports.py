"""AWS's wording of an invocation's log, LoggingConfig applied (no LocalStack needed)."""

from __future__ import annotations

import json

from localstack_hostmode.lambda_runtime import reports
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


def test_text_log_has_start_end_and_report_with_the_outcome() -> None:
    report = InvocationReport("r-1", "$LATEST", b"imported", b"hello", 1.5, 128, 2048, 80.25,
                              Outcome.error("Runtime.ExitError"))

    text = LogSettings().invocation_log(report)

    assert text.splitlines()[:4] == [
        "imported", "START RequestId: r-1 Version: $LATEST", "hello", "END RequestId: r-1"]
    assert text.endswith(
        "REPORT RequestId: r-1\tDuration: 1.50 ms\tBilled Duration: 2 ms\tMemory Size: 128 MB\t"
        "Max Memory Used: 2 MB\tInit Duration: 80.25 ms\t"
        "Status: error\tError Type: Runtime.ExitError\t\n")
    assert "Status" not in LogSettings().invocation_log(
        InvocationReport("r", "1", b"", b"", 1, 128, 0, None, SUCCESS))


def test_platform_errors_use_aws_wording() -> None:
    timed_out = reports.timed_out("r-1", 3)
    assert json.loads(timed_out.payload) == {
        "errorType": "Sandbox.Timedout",
        "errorMessage": "RequestId: r-1 Error: Task timed out after 3.00 seconds"}
    assert timed_out.log.endswith(b"Z r-1 Task timed out after 3.00 seconds\n")
    assert timed_out.outcome == TIMEOUT

    killed = reports.runtime_exited("r-2", -9, out_of_memory=True)
    assert json.loads(killed.payload) == {
        "errorType": "Runtime.OutOfMemory",
        "errorMessage": "RequestId: r-2 Error: Runtime exited with error: signal: killed"}
    assert killed.log == (b"RequestId: r-2 Error: Runtime exited with error: signal: killed\n"
                          b"Runtime.OutOfMemory\n")
    assert killed.outcome == Outcome.error("Runtime.OutOfMemory")
    assert reports.runtime_exited("r", 2, False).outcome == Outcome.error("Runtime.ExitError")
    assert reports.init_error_outcome(b'{"errorType": "Runtime.ImportModuleError"}') == (
        Outcome.error("Runtime.ImportModuleError"))
