"""The local-process executor's logs as AWS Lambda's: the tail and CloudWatch Logs with
START/END/REPORT, LoggingConfig's JSON format, levels and log group, asynchronous invocations
(host mode, a real LocalStack over HTTP)."""

from __future__ import annotations

import json
import uuid

import pytest
from executor_helpers import invoke

pytestmark = pytest.mark.integration

def log_group_text(logs_client, group: str) -> str:
    """Every message in a log group so far ("" until LocalStack's log writer created it)."""
    try:
        events = logs_client.filter_log_events(logGroupName=group)["events"]
    except logs_client.exceptions.ResourceNotFoundException:
        return ""
    return "".join(e["message"] for e in events)


def test_logs_reach_tail_and_cloudwatch_with_start_end_report(
    make_function, lam, aws_client, wait_until
):
    name = make_function()

    first = invoke(lam, name, {"action": "logs"})
    second = invoke(lam, name, {"action": "logs"})

    assert first.function_error is None, first.raw
    rid = first.request_id
    log = first.log
    # init output comes before START; the invocation's output in order between START and END
    expected_order = [
        "init: probe module imported",
        f"START RequestId: {rid} Version: $LATEST",
        "line from print",
        "line from stderr",
        "line from fd 1",
        "line from a subprocess",
        f"\t{rid}\tline from logging",
        f"\t{rid}\terror from a named logger",
        f"END RequestId: {rid}",
        f"REPORT RequestId: {rid}\tDuration: ",
    ]
    positions = [log.find(marker) for marker in expected_order]
    assert all(p >= 0 for p in positions), (positions, log)
    assert positions == sorted(positions), log
    assert "[WARNING]\t" in log and "[ERROR]\t" in log
    report = log[log.find("REPORT RequestId") :]
    for part in (
        "Billed Duration: ",
        "Memory Size: 128 MB",
        "Max Memory Used: ",
        "Init Duration: ",
    ):
        assert part in report, report
    # warm invocation: no init output, no Init Duration
    assert "Init Duration" not in second.log and "init: probe module" not in second.log

    # AND the same lines land in CloudWatch Logs
    logs_client = aws_client("logs")

    def cloudwatch_has_everything() -> bool:
        messages = log_group_text(logs_client, f"/aws/lambda/{name}")
        for marker in expected_order + [f"START RequestId: {second.request_id}"]:
            assert marker in messages, f"{marker!r} not yet in CloudWatch"
        return True

    wait_until(cloudwatch_has_everything, timeout=15, message="logs in CloudWatch")


@pytest.fixture
def custom_log_group() -> str:
    return f"/custom/exec-{uuid.uuid4().hex[:10]}"  # make_function deletes it


def json_lines(log: str) -> list[dict]:
    return [json.loads(line) for line in log.splitlines() if line.startswith("{")]


def test_logging_config_json_format_levels_and_log_group(
    make_function, lam, aws_client, wait_until, custom_log_group
):
    # GIVEN a function with LoggingConfig JSON, application level ERROR, its own log group
    name = make_function(LoggingConfig={
        "LogFormat": "JSON", "ApplicationLogLevel": "ERROR", "SystemLogLevel": "INFO",
        "LogGroup": custom_log_group,
    })

    # WHEN it logs through print and `logging` at WARNING and ERROR
    result = invoke(lam, name, {"action": "logs"})

    # THEN platform records and the runtime's JSON records replace START/END/REPORT and text
    assert result.function_error is None, result.raw
    rid = result.request_id
    records = json_lines(result.log)
    assert [r["type"] for r in records if "type" in r] == ["platform.start", "platform.report"]
    start, report = (r for r in records if "type" in r)
    assert start["record"] == {"requestId": rid, "version": "$LATEST"}
    assert report["record"]["requestId"] == rid and report["record"]["status"] == "success"
    metrics = report["record"]["metrics"]
    assert metrics["memorySizeMB"] == 128 and metrics["maxMemoryUsedMB"] > 0
    assert metrics["durationMs"] > 0 and "initDurationMs" in metrics
    app = [r for r in records if "level" in r]
    assert app == [{"timestamp": app[0]["timestamp"], "level": "ERROR",
                    "message": "error from a named logger", "logger": "app", "requestId": rid}]
    assert app[0]["timestamp"].endswith("Z")
    assert "line from print" in result.log  # print is not filtered
    # a cold start's init output precedes the invocation's platform.start
    assert result.log.index("init: probe module imported") < result.log.index("platform.start")
    assert "START RequestId" not in result.log and "REPORT RequestId" not in result.log
    # AND the runtime's environment says so
    env = invoke(lam, name, {"action": "info"}).payload["env"]
    assert env["AWS_LAMBDA_LOG_FORMAT"] == "JSON" and env["AWS_LAMBDA_LOG_LEVEL"] == "ERROR"
    assert env["AWS_LAMBDA_LOG_GROUP_NAME"] == custom_log_group
    # AND an unhandled error is one JSON record
    failed = invoke(lam, name, {"action": "fail", "message": "card declined"})
    error = next(r for r in json_lines(failed.log) if r.get("errorType") == "OrderRejected")
    assert error["level"] == "ERROR" and error["errorMessage"] == "card declined"
    assert error["requestId"] == failed.request_id and error["stackTrace"]

    # AND the logs land in the function's own log group
    logs_client = aws_client("logs")

    def in_custom_group() -> bool:
        messages = log_group_text(logs_client, custom_log_group)
        assert f'"requestId": "{rid}"' in messages, "not yet in CloudWatch"
        return True

    wait_until(in_custom_group, timeout=15, message="logs in the custom log group")


def test_system_log_level_warn_drops_platform_records_and_quiet_json_lines(make_function, lam):
    name = make_function(LoggingConfig={
        "LogFormat": "JSON", "ApplicationLogLevel": "WARN", "SystemLogLevel": "WARN",
    })
    lines = [json.dumps({"level": "DEBUG", "message": "quiet"}),
             json.dumps({"level": "WARN", "message": "loud"}),
             "plain text"]

    result = invoke(lam, name, {"action": "print_lines", "lines": lines})

    assert result.function_error is None, result.raw
    assert "platform." not in result.log
    assert "quiet" not in result.log
    assert '"loud"' in result.log and "plain text" in result.log


def test_asynchronous_invocations_run_and_log(make_function, lam, aws_client, wait_until):
    name = make_function()

    response = lam.invoke(
        FunctionName=name,
        InvocationType="Event",
        Payload=json.dumps({"action": "sleep", "seconds": 0}).encode(),
    )

    assert response["StatusCode"] == 202
    logs_client = aws_client("logs")

    def logged() -> bool:
        messages = log_group_text(logs_client, f"/aws/lambda/{name}")
        return "sleeping 0s" in messages and "REPORT RequestId" in messages

    wait_until(logged, timeout=20, message="the asynchronous invocation's logs")
