"""One consumer per data-layer event source: a deploy refuses to add a second.

    .venv/bin/python scripts/consumers.py [--stack-name NAME]   # e.g. before `sam deploy`

The data layer (init-aws.sh) outlives stacks, so two stacks of the same template (say the kit's
`sam-app` and a `sam deploy --stack-name other`) would both map their functions to the users
stream, orders-queue and events-stream: SQS messages would go to whichever stack polls first
and stream records would be processed twice (two welcome mails). Before a deploy whose template
has event sources, every mapping on those sources must belong to a function of the stack being
deployed; a mapping of any other function is named, with its stack when the function carries
CloudFormation's `aws:cloudformation:stack-name` tag. `ALLOW_SHARED_SOURCES=1` only warns.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

import data_layer
import stack as st
from polling import wait_until
from stack import DeployError, log

STACK_TAG = "aws:cloudformation:stack-name"
EVENT_TYPES = {"SQS", "Kinesis", "DynamoDB"}  # SAM event types that create a mapping
# a deleted SQS mapping goes once its long poll in flight returns (esm_sqs_long_polling: <= 5 s)
DELETING_TIMEOUT = 30.0


@dataclass(frozen=True)
class Consumer:
    """A mapping on a shared source whose function is not in the stack being deployed."""

    source: str  # e.g. "orders-queue"
    function: str
    owner: str | None  # the function's stack, when tagged
    uuid: str

    def describe(self) -> str:
        owner = f"stack {self.owner}" if self.owner else "no stack we know of"
        return f"{self.source} -> function {self.function} ({owner}; mapping {self.uuid})"


def has_event_sources(template: dict[str, Any]) -> bool:
    """Whether the template maps a function to a queue or stream."""
    for resource in template.get("Resources", {}).values():
        if resource.get("Type") == "AWS::Lambda::EventSourceMapping":
            return True
        events = (resource.get("Properties") or {}).get("Events") or {}
        if any((e or {}).get("Type") in EVENT_TYPES for e in events.values()):
            return True
    return False


def shared_sources(client: Callable[[str], Any]) -> dict[str, str]:
    """ARN -> name of the data layer's event sources that exist now."""
    names = data_layer.names()
    found: dict[str, str] = {}
    lookups = [
        (names.get("USERS_TABLE"), lambda n: client("dynamodb").describe_table(TableName=n)[
            "Table"].get("LatestStreamArn")),
        (names.get("ORDERS_QUEUE"), lambda n: client("sqs").get_queue_attributes(
            QueueUrl=client("sqs").get_queue_url(QueueName=n)["QueueUrl"],
            AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]),
        (names.get("EVENTS_STREAM"), lambda n: client("kinesis").describe_stream_summary(
            StreamName=n)["StreamDescriptionSummary"]["StreamARN"]),
    ]
    for name, arn_of in lookups:
        if not name:
            continue
        try:
            arn = arn_of(name)
        except ClientError:  # not created (yet): nobody consumes it
            continue
        if arn:
            found[arn] = f"{name} stream" if ":dynamodb:" in arn else name
    return found


def foreign_consumers(mappings: Iterable[dict[str, Any]], sources: dict[str, str],
                      own_functions: set[str], owner_of: Callable[[str], str | None]
                      ) -> list[Consumer]:
    """The mappings on ``sources`` whose function is not one of ``own_functions``."""
    found = []
    for mapping in mappings:
        if mapping.get("State") == "Deleting":  # a deleted stack's mapping that is stopping
            continue
        source = sources.get(mapping.get("EventSourceArn", ""))
        function_arn = mapping.get("FunctionArn", "")
        function = function_arn.split(":function:", 1)[-1].split(":", 1)[0]
        if source and function not in own_functions:
            found.append(Consumer(source, function, owner_of(function_arn), mapping["UUID"]))
    return found


def _owner(lam: Any, function_arn: str, stacks: Callable[[], dict[str, str]]) -> str | None:
    """The function's stack: its CloudFormation tag (AWS), else a lookup (LocalStack does not
    tag the functions it creates, nor find a stack by physical id)."""
    try:
        tagged = lam.list_tags(Resource=function_arn).get("Tags", {}).get(STACK_TAG)
    except ClientError:
        tagged = None
    return tagged or stacks().get(function_arn.split(":function:", 1)[-1].split(":", 1)[0])


def _function_stacks(client: Callable[[str], Any]) -> dict[str, str]:
    """Function name -> stack, over every live stack."""
    cfn = client("cloudformation")
    found: dict[str, str] = {}
    for page in cfn.get_paginator("list_stacks").paginate():
        for summary in page["StackSummaries"]:
            if summary["StackStatus"] == "DELETE_COMPLETE":
                continue
            for name in st.stack_functions(summary["StackName"]).values():
                found[name] = summary["StackName"]
    return found


def _own_functions(stack_name: str) -> set[str]:
    try:
        return set(st.stack_functions(stack_name).values())
    except ClientError:  # the stack does not exist yet
        return set()


def _mappings(lam: Any) -> list[dict[str, Any]]:
    return [m for page in lam.get_paginator("list_event_source_mappings").paginate()
            for m in page["EventSourceMappings"]]


def settle_deleting(lam: Any, mappings: list[dict[str, Any]], sources: dict[str, str],
                    timeout: float = DELETING_TIMEOUT) -> list[dict[str, Any]]:
    """The mappings once those on ``sources`` that are being deleted are gone (or ``timeout``).

    LocalStack deletes a mapping in the background after DeleteEventSourceMapping (and so after
    its stack's deletion completed) and refuses a new mapping of the same function and source
    until then (ResourceConflictException): a stack deleted and deployed again within a second
    or so failed its CREATE."""
    def deleting(found: list[dict[str, Any]]) -> list[str]:
        return [m["UUID"] for m in found
                if m.get("State") == "Deleting" and m.get("EventSourceArn") in sources]

    if not deleting(mappings):
        return mappings
    def gone() -> list[list[dict[str, Any]]]:
        found = _mappings(lam)
        return [] if deleting(found) else [found]

    log("waiting for the event source mappings being deleted to be gone")
    try:
        return wait_until(gone, timeout=timeout, interval=0.1)[0]
    except TimeoutError:
        return _mappings(lam)  # CloudFormation reports the conflict, if there is one


def find(stack_name: str, client: Callable[[str], Any] = st.client) -> list[Consumer]:
    sources = shared_sources(client)
    if not sources:
        return []
    lam = client("lambda")
    mappings = settle_deleting(lam, _mappings(lam), sources)
    stacks: dict[str, str] | None = None

    def function_stacks() -> dict[str, str]:
        nonlocal stacks
        if stacks is None:
            stacks = _function_stacks(client)
        return stacks

    return foreign_consumers(mappings, sources, _own_functions(stack_name),
                             lambda arn: _owner(lam, arn, function_stacks))


def message(stack_name: str, consumers: list[Consumer]) -> str:
    lines = "\n".join(f"  - {c.describe()}" for c in consumers)
    return (f"stack {stack_name} would be a second consumer of the data layer's event sources, "
            f"already consumed by:\n{lines}\n"
            "Two consumers split an SQS queue's messages and process each stream record twice. "
            "Delete the other stack (or its mappings), deploy with its name (STACK_NAME), or set "
            "ALLOW_SHARED_SOURCES=1 to deploy anyway.")


def check(stack_name: str, template: dict[str, Any],
          client: Callable[[str], Any] = st.client) -> list[Consumer]:
    """Refuse (DeployError) when another stack consumes a source this template would too."""
    if not has_event_sources(template):
        return []
    consumers = find(stack_name, client)
    if consumers:
        if os.environ.get("ALLOW_SHARED_SOURCES", "0") not in ("", "0"):
            log("warning: " + message(stack_name, consumers))
        else:
            raise DeployError(message(stack_name, consumers))
    return consumers


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stack-name", default=None)
    args = parser.parse_args(argv)
    stack_name = args.stack_name or st.stack_name()
    consumers = find(stack_name)
    if consumers:
        log(message(stack_name, consumers))
        return 1
    log(f"no other stack consumes the data layer's event sources (stack {stack_name})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
