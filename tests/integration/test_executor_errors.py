"""Failures map to AWS's error documents, and the function keeps working after each of them.

Against a real LocalStack over HTTP running the local-process executor (host mode).
"""

from __future__ import annotations

import json
import time

import pytest
from executor_helpers import assert_runtime_exited, invoke

pytestmark = pytest.mark.integration

SIX_MB = 6 * 1024 * 1024


def assert_works_again(lam, name: str, action: str = "info") -> dict:
    """The next invocation after a failure succeeds; returns its payload (``info`` by default;
    ``pid`` where the function's timeout is too short for ``info``'s cold boto3 import)."""
    result = invoke(lam, name, {"action": action})
    assert result.function_error is None, result.raw
    return result.payload


def test_handler_exception_keeps_its_class_name_and_user_frames(lam, probe):
    process_before = assert_works_again(lam, probe)["process"]

    result = invoke(lam, probe, {"action": "fail", "message": "card declined"})

    assert result.function_error == "Unhandled"
    error = result.payload
    assert list(error) == ["errorMessage", "errorType", "requestId", "stackTrace"]
    assert error["errorType"] == "OrderRejected"  # what Step Functions' Catch matches
    assert error["errorMessage"] == "card declined"
    assert error["requestId"] == result.request_id
    # the handler's frames only: nothing of the runtime's bootstrap
    assert error["stackTrace"], error
    assert all('probe.py", line' in frame for frame in error["stackTrace"]), error
    assert "raise OrderRejected" in error["stackTrace"][-1]
    assert "bootstrap" not in json.dumps(error["stackTrace"])
    # AWS's runtime logs it as one CR-joined line
    assert "[ERROR] OrderRejected: card declined\rTraceback (most recent call last):" in result.log
    # a raised exception does not cost the warm process
    assert assert_works_again(lam, probe)["process"] == process_before


def test_import_error_is_runtime_import_module_error(make_function, lam):
    name = make_function(handler="broken_import.handler")

    for _ in range(2):  # init is retried on every invoke, as on AWS, and fails the same way
        result = invoke(lam, name)
        assert result.function_error == "Unhandled"
        assert result.payload == {
            "errorMessage": "Unable to import module 'broken_import': "
            "No module named 'does_not_exist_anywhere'",
            "errorType": "Runtime.ImportModuleError",
            "requestId": "",
            "stackTrace": [],
        }
        assert "[ERROR] Runtime.ImportModuleError: Unable to import module" in result.log
        assert f"END RequestId: {result.request_id}" in result.log

    # once the configuration is fixed, the function works
    lam.update_function_configuration(FunctionName=name, Handler="probe.dispatch")
    lam.get_waiter("function_updated_v2").wait(
        FunctionName=name, WaiterConfig={"Delay": 0.2, "MaxAttempts": 300}
    )
    assert_works_again(lam, name)


def test_missing_handler_is_runtime_handler_not_found(make_function, lam):
    name = make_function(handler="probe.nope")

    result = invoke(lam, name)

    assert result.function_error == "Unhandled"
    assert result.payload["errorType"] == "Runtime.HandlerNotFound"
    assert result.payload["errorMessage"] == "Handler 'nope' missing on module 'probe'"
    # init output still shows up, and the next invoke answers (same error, no hang)
    assert "init: probe module imported" in result.log
    assert invoke(lam, name).payload["errorType"] == "Runtime.HandlerNotFound"


def test_timeout_kills_the_process_and_reports_sandbox_timedout(make_function, lam):
    name = make_function(Timeout=1)
    process_before = assert_works_again(lam, name, "pid")["process"]

    started = time.monotonic()
    result = invoke(lam, name, {"action": "sleep", "seconds": 30})
    elapsed = time.monotonic() - started

    assert result.function_error == "Unhandled"
    assert result.payload == {
        "errorType": "Sandbox.Timedout",
        "errorMessage": f"RequestId: {result.request_id} Error: Task timed out after 1.00 seconds",
    }
    assert elapsed < 10, elapsed  # enforced by the executor, not LocalStack's 905 s guard
    assert "sleeping 30s" in result.log
    assert f"{result.request_id} Task timed out after 1.00 seconds" in result.log
    assert "Status: timeout" in result.log
    # the next invoke gets a fresh process
    assert assert_works_again(lam, name, "pid")["process"] != process_before


@pytest.mark.parametrize(
    ("event", "reason"),
    [
        ({"how": "sys.exit", "code": 1}, "Runtime exited with error: exit status 1"),
        ({"how": "sys.exit", "code": 0}, "Runtime exited without providing a reason"),
        ({"how": "os._exit", "code": 3}, "Runtime exited with error: exit status 3"),
        ({"how": "kill"}, "Runtime exited with error: signal: killed"),
    ],
)
def test_process_death_is_runtime_exit_error(lam, probe, event, reason):
    process_before = assert_works_again(lam, probe)["process"]

    result = invoke(lam, probe, {"action": "exit", **event})

    assert_runtime_exited(result, reason)
    assert f"about to exit via {event['how']}" in result.log
    assert assert_works_again(lam, probe)["process"] != process_before


def assert_out_of_memory(result) -> None:
    assert_runtime_exited(result, "Runtime exited with error: signal: killed",
                          "Runtime.OutOfMemory")
    assert "Status: error\tError Type: Runtime.OutOfMemory" in result.log
    report = next(line for line in result.log.splitlines() if line.startswith("REPORT"))
    used_mb = int(report.split("Max Memory Used: ")[1].split(" MB")[0])
    assert used_mb > 128, report


@pytest.mark.parametrize("hold_s", [0, 30], ids=["spike", "held"])
def test_memory_over_memory_size_is_runtime_out_of_memory(make_function, lam, hold_s):
    # GIVEN a function with AWS's smallest memory size, which works within it
    name = make_function(MemorySize=128, Timeout=60)
    within = invoke(lam, name, {"action": "allocate", "mb": 32})
    assert within.function_error is None, within.raw
    assert within.payload["max_rss_mb"] < 128

    # WHEN an invocation holds more than its MemorySize, briefly or until it is stopped
    started = time.monotonic()
    result = invoke(lam, name, {"action": "allocate", "mb": 256, "hold_s": hold_s})
    elapsed = time.monotonic() - started

    # THEN the caller gets AWS's out-of-memory error; memory held is stopped while it is held
    assert_out_of_memory(result)
    if hold_s:
        assert "released" not in result.log
        assert elapsed < hold_s / 2, elapsed
    # AND the next invocation runs in a new process
    again = invoke(lam, name, {"action": "allocate", "mb": 1})
    assert again.function_error is None, again.raw
    assert again.payload["process"] != within.payload["process"]


def test_unserialisable_result_is_runtime_marshal_error(lam, probe):
    process_before = assert_works_again(lam, probe)["process"]

    result = invoke(lam, probe, {"action": "unmarshallable"})

    assert result.function_error == "Unhandled"
    assert result.payload == {
        "errorMessage": "Unable to marshal response: Object of type set is not JSON serializable",
        "errorType": "Runtime.MarshalError",
        "requestId": result.request_id,
        "stackTrace": [],
    }
    assert assert_works_again(lam, probe)["process"] == process_before


def test_response_over_6mb_is_function_response_size_too_large(lam, probe):
    result = invoke(lam, probe, {"action": "big_response", "size": 7 * 1024 * 1024})

    assert result.function_error == "Unhandled"
    assert result.payload == {
        "errorType": "Function.ResponseSizeTooLarge",
        "errorMessage": "Response payload size exceeded maximum allowed payload size "
        "(6291556 bytes).",
    }
    assert "generating bytes" in result.log
    assert_works_again(lam, probe)


def test_response_of_6mb_is_delivered(lam, probe):
    result = invoke(lam, probe, {"action": "big_response", "size": SIX_MB})
    assert result.function_error is None
    assert result.payload == "a" * SIX_MB


def test_request_over_6mb_is_rejected_like_aws(lam, probe):
    too_big = json.dumps({"action": "payload_size", "data": "x" * SIX_MB}).encode()

    with pytest.raises(lam.exceptions.RequestTooLargeException) as exc:
        lam.invoke(FunctionName=probe, Payload=too_big)

    error = exc.value.response
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 413
    assert error["Error"]["Message"] == (
        "Request must be smaller than 6291456 bytes for the InvokeFunction operation"
    )
    assert_works_again(lam, probe)


def test_request_of_5mb_reaches_the_handler(lam, probe):
    event = {"action": "payload_size", "data": "x" * (5 * 1024 * 1024)}

    result = invoke(lam, probe, event)

    assert result.function_error is None, result.raw
    assert result.payload == {"length": len(json.dumps(event))}


def test_exception_during_init_keeps_its_class_name(make_function, lam):
    name = make_function(handler="raise_at_import.handler")

    result = invoke(lam, name)

    assert result.function_error == "Unhandled"
    error = result.payload
    assert error["errorType"] == "RuntimeError"
    assert error["errorMessage"] == "missing TABLE_NAME"
    assert error["requestId"] == ""  # init errors carry no request id on AWS
    assert len(error["stackTrace"]) == 1, error
    assert 'raise_at_import.py", line 1, in <module>' in error["stackTrace"][0]
    assert "[ERROR] RuntimeError: missing TABLE_NAME" in result.log


def test_exit_during_init_is_runtime_exit_error(make_function, lam):
    name = make_function(handler="exit_at_import.handler")

    for _ in range(2):
        result = invoke(lam, name)
        assert_runtime_exited(result, "Runtime exited without providing a reason")
        assert "exiting during init" in result.log


def test_memory_over_memory_size_during_init_is_runtime_out_of_memory(make_function, lam):
    name = make_function(handler="hog_at_import.handler", MemorySize=128, Timeout=60)

    started = time.monotonic()
    result = invoke(lam, name)

    assert_out_of_memory(result)
    assert "allocating during init" in result.log
    assert time.monotonic() - started < 20  # killed, not waiting out the 30 s init
