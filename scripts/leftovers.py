"""Delete what a LocalStack stack deletion leaves behind.

After a failed update LocalStack 4.14 knows only the resources it reached before the failure
(and none of the failed one's properties), so deleting the stack leaves the others in place; a
function with a fixed FunctionName then blocks the stack's next creation ("Function already
exist"). These deleters remove such leftovers by physical id, for the resource types a stack
recreation would collide with or leave running. IAM roles and Lambda permissions are left:
their generated names do not collide, and a permission goes with its function.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

import stack as st


def _function(physical_id: str) -> None:
    st.client("lambda").delete_function(FunctionName=physical_id)


def _event_source_mapping(physical_id: str) -> None:
    st.client("lambda").delete_event_source_mapping(UUID=physical_id)


def _state_machine(physical_id: str) -> None:
    st.client("stepfunctions").delete_state_machine(stateMachineArn=physical_id)


def _rest_api(physical_id: str) -> None:
    st.client("apigateway").delete_rest_api(restApiId=physical_id)


def _rule(physical_id: str) -> None:
    events = st.client("events")
    name = physical_id.rsplit("/", 1)[-1]
    targets = events.list_targets_by_rule(Rule=name).get("Targets", [])
    if targets:
        events.remove_targets(Rule=name, Ids=[t["Id"] for t in targets])
    events.delete_rule(Name=name)


DELETERS: dict[str, Callable[[str], None]] = {
    "AWS::Lambda::EventSourceMapping": _event_source_mapping,
    "AWS::Lambda::Function": _function,
    "AWS::StepFunctions::StateMachine": _state_machine,
    "AWS::ApiGateway::RestApi": _rest_api,
    "AWS::Events::Rule": _rule,
}


def remove_leftovers(resources: list[dict[str, Any]]) -> None:
    """Delete each resource (a ListStackResources summary) that still exists; one already
    gone, or of a type without a deleter here, is skipped."""
    order = list(DELETERS)  # mappings before their functions
    for r in sorted(resources, key=lambda r: order.index(r["ResourceType"])
                    if r["ResourceType"] in DELETERS else len(order)):
        delete = DELETERS.get(r["ResourceType"])
        if delete and r.get("PhysicalResourceId"):
            try:
                delete(r["PhysicalResourceId"])
            except ClientError:
                pass  # already deleted with the stack
