"""Step Functions executions that share one cached program stay independent.

plugins/localstack_hostmode/patches/sfn_program_cache.py hands every execution of a definition
the same program (component tree) instead of parsing the definition per execution. These tests
check what sharing could break: executions running at the same time and one after another each
get their own retry attempts (kept per execution, keyed by the shared components) and their own
input and output, and an updated definition runs as updated. They pass with
``HOSTMODE_SFN_PROGRAM_CACHE=0`` too (the cache has no behaviour of its own to observe over the
API); they are the safety net for the sharing. Timings are not asserted; `make bench` measures.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

pytestmark = pytest.mark.integration

RETRIES = 2
DEADLINE_S = 60.0


def definition(marker: str) -> str:
    """A Parallel state whose branch always fails, retried RETRIES times (1 s apart), then
    caught; a Pass state answers the marker and the execution's own input."""
    return json.dumps({
        "StartAt": "Try",
        "States": {
            "Try": {
                "Type": "Parallel",
                "Branches": [{
                    "StartAt": "Boom",
                    "States": {"Boom": {"Type": "Fail", "Error": "Boom", "Cause": "always"}},
                }],
                "Retry": [{"ErrorEquals": ["Boom"], "IntervalSeconds": 1,
                           "MaxAttempts": RETRIES, "BackoffRate": 1}],
                "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error",
                           "Next": "Done"}],
                "Next": "Done",
            },
            "Done": {
                "Type": "Pass",
                "Parameters": {"marker": marker, "n.$": "$.n", "error.$": "$.error.Error"},
                "End": True,
            },
        },
    })


@pytest.fixture
def sfn(aws_client: Callable[..., Any]) -> Any:
    return aws_client("stepfunctions")


@pytest.fixture
def machine(sfn: Any, aws_client: Callable[..., Any]) -> Iterator[str]:
    account = aws_client("sts").get_caller_identity()["Account"]
    arn = sfn.create_state_machine(
        name=f"program-cache-{uuid.uuid4().hex[:8]}",
        definition=definition("first"),
        roleArn=f"arn:aws:iam::{account}:role/program-cache-test",
    )["stateMachineArn"]
    yield arn
    sfn.delete_state_machine(stateMachineArn=arn)


def finished(sfn: Any, arns: list[str]) -> list[dict]:
    """describe_execution of each, once none is RUNNING (polled against a deadline)."""
    deadline = time.monotonic() + DEADLINE_S
    while True:
        described = [sfn.describe_execution(executionArn=arn) for arn in arns]
        if all(d["status"] != "RUNNING" for d in described):
            return described
        assert time.monotonic() < deadline, [d["status"] for d in described]
        time.sleep(0.1)


def attempts(sfn: Any, arn: str) -> int:
    """How many times the Parallel state ran its branches in this execution."""
    events = sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]
    return sum(e["type"] == "ParallelStateStarted" for e in events)


def run(sfn: Any, machine: str, inputs: list[int]) -> list[dict]:
    arns = [sfn.start_execution(stateMachineArn=machine, input=json.dumps({"n": n}))
            ["executionArn"] for n in inputs]
    return finished(sfn, arns)


def test_concurrent_and_later_executions_keep_their_own_retries_and_data(
    sfn: Any, machine: str
) -> None:
    for inputs in ([1, 2, 3], [4]):  # three at once, then one after them
        for n, described in zip(inputs, run(sfn, machine, inputs), strict=True):
            assert described["status"] == "SUCCEEDED", described
            assert json.loads(described["output"]) == {"marker": "first", "n": n,
                                                       "error": "Boom"}
            assert attempts(sfn, described["executionArn"]) == 1 + RETRIES


def test_an_updated_definition_runs_as_updated(sfn: Any, machine: str) -> None:
    assert json.loads(run(sfn, machine, [1])[0]["output"])["marker"] == "first"
    sfn.update_state_machine(stateMachineArn=machine, definition=definition("second"))
    assert json.loads(run(sfn, machine, [2])[0]["output"]) == {"marker": "second", "n": 2,
                                                               "error": "Boom"}
    sfn.update_state_machine(stateMachineArn=machine, definition=definition("first"))
    assert json.loads(run(sfn, machine, [3])[0]["output"])["marker"] == "first"
