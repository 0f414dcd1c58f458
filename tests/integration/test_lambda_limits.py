"""Past Lambda's limits: an invocation's log output beyond what is kept, request bodies beyond
what API Gateway and Lambda accept. What AWS says there, the kit says too.
"""

from __future__ import annotations

from typing import Any

import pytest
from executor_helpers import RUNTIME, invoke, zip_files

pytestmark = pytest.mark.integration

# prints `mb` MiB in 1 KiB lines, more than the 16 MiB the executor keeps of one invocation
LOUD_HANDLER = """
import sys

def handler(event, context):
    line = "x" * 1023 + "\\n"
    for _ in range(event["mb"] * 1024):
        sys.stdout.write(line)
    sys.stdout.flush()
    return {"printed_mb": event["mb"]}
"""


def latest_stream_tail(logs_client: Any, group: str) -> list[str]:
    """The last events of the group's newest stream (raises until it has a REPORT line)."""
    streams = logs_client.describe_log_streams(
        logGroupName=group, orderBy="LastEventTime", descending=True
    )["logStreams"]
    assert streams, "no log stream yet"
    events = logs_client.get_log_events(
        logGroupName=group, logStreamName=streams[0]["logStreamName"], startFromHead=False,
        limit=20,
    )["events"]
    messages = [e["message"] for e in events]
    assert any(m.startswith("REPORT RequestId") for m in messages), "no REPORT line yet"
    return messages


def test_output_past_the_log_limit_is_marked_and_report_still_arrives(
    probe: str, make_function: Any, lam: Any, aws_client: Any, wait_until: Any
) -> None:
    name = make_function(
        handler="loud.handler", runtime=RUNTIME, Timeout=120, MemorySize=256,
        code={"ZipFile": zip_files({"loud.py": LOUD_HANDLER})},
    )

    result = invoke(lam, name, {"mb": 18})

    assert result.function_error is None, result.raw
    assert "Log output truncated" in result.log
    assert f"REPORT RequestId: {result.request_id}" in result.log
    logs_client = aws_client("logs")
    messages = wait_until(lambda: latest_stream_tail(logs_client, f"/aws/lambda/{name}"),
                          timeout=60, message="the REPORT line in CloudWatch")
    marker = [i for i, m in enumerate(messages) if "Log output truncated" in m]
    end = [i for i, m in enumerate(messages) if m.startswith(f"END RequestId: {result.request_id}")]
    assert marker and end and marker[0] < end[0], messages
