"""CloudFormation stack operations for the deploy: one change set per deploy (create or
update), the stack events printed as they appear (within a second), and the recovery of stacks
whose creation failed (deleted and created again).

A failed *update* is different: LocalStack 4.14 reports it as ROLLBACK_COMPLETE (AWS says
UPDATE_ROLLBACK_COMPLETE), although the stack's resources, the previous version's, still exist
and serve. Nothing is deleted when an update fails. LocalStack does not roll the update back:
it keeps the resources changed before the failure as changed, and for the failed resource no
properties at all, so every later change set that includes it fails ("Failed to delete
resource ..."). The next deploy therefore updates such a stack when no resource is in that
state, and otherwise deletes the lost functions and the stack and creates it again.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from botocore.exceptions import ClientError

import stack as st
from artifacts import upload_once
from endpoint import endpoint_url, is_local, region
from launcher.config import contract  # the launcher puts plugins/ on sys.path
from leftovers import remove_leftovers
from polling import wait_until
from stack import DeployError, log

# The stack's status (DescribeStacks, ~10 ms for LocalStack) is polled often, so the deploy ends
# soon after the stack does; its events (DescribeStackEvents, every event of the stack's life:
# ~10x that, on the CPU the engine deploying the stack needs too) once a second, and at the end.
POLL_SECONDS = 0.1
EVENTS_SECONDS = 1.0
# CloudFormation's limit for an inline TemplateBody; larger templates go through S3.
MAX_INLINE_TEMPLATE = 51_200

TERMINAL_OK = {"CREATE_COMPLETE", "UPDATE_COMPLETE", "IMPORT_COMPLETE"}
TERMINAL_BAD = {
    "CREATE_FAILED",
    "ROLLBACK_COMPLETE",
    "ROLLBACK_FAILED",
    "UPDATE_ROLLBACK_COMPLETE",
    "UPDATE_ROLLBACK_FAILED",
    "UPDATE_FAILED",
    "DELETE_FAILED",
    "DELETE_COMPLETE",
}
# A stack in one of these states after a failed *creation* cannot be updated: it is deleted
# and created again. After a failed update (the stack had completed before) it is updated.
RECREATE = {"ROLLBACK_COMPLETE", "ROLLBACK_FAILED", "CREATE_FAILED", "DELETE_FAILED"}
# Stack-level statuses that mean a deployment of the stack succeeded at some point.
DEPLOYED = {"CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_ROLLBACK_COMPLETE", "IMPORT_COMPLETE"}


def stack_status(stack_name: str) -> str | None:
    cfn = st.client("cloudformation")
    try:
        return cfn.describe_stacks(StackName=stack_name)["Stacks"][0]["StackStatus"]
    except ClientError as e:
        if "does not exist" in e.response["Error"].get("Message", ""):
            return None
        raise


def ever_deployed(stack_name: str) -> bool:
    """True when the stack's own events show a completed deployment (its resources exist)."""
    paginator = st.client("cloudformation").get_paginator("describe_stack_events")
    try:
        for page in paginator.paginate(StackName=stack_name):
            for e in page["StackEvents"]:
                if (e.get("ResourceType") == "AWS::CloudFormation::Stack"
                        and e.get("ResourceStatus") in DEPLOYED):  # fmt: skip
                    return True
    except ClientError:
        return False
    return False


Deployment = tuple[str, list[dict[str, str]]]  # template body, parameters


def deployed_template(stack_name: str) -> Deployment | None:
    """The template and parameters the stack runs, or None when they cannot be read."""
    cfn = st.client("cloudformation")
    try:
        current = cfn.get_template(StackName=stack_name, TemplateStage="Original")["TemplateBody"]
        deployed = cfn.describe_stacks(StackName=stack_name)["Stacks"][0].get("Parameters", [])
    except ClientError:
        return None
    if isinstance(current, dict):
        current = json.dumps(current, separators=(",", ":"), sort_keys=True)
    params = [{"ParameterKey": p["ParameterKey"], "ParameterValue": p.get("ParameterValue", "")}
              for p in deployed]
    return current, params


def _same_deployment(deployed: Deployment | None, body: str, params: list[dict[str, str]]
                     ) -> bool:
    """True when the stack already runs exactly this template with these parameters."""
    if deployed is None:
        return False
    current, deployed_params = deployed
    try:
        same_body = json.loads(current) == json.loads(body)
    except (TypeError, ValueError):
        same_body = current == body
    have = {p["ParameterKey"]: p.get("ParameterValue") for p in deployed_params}
    want = {p["ParameterKey"]: p["ParameterValue"] for p in params}
    return same_body and all(have.get(k) == v for k, v in want.items())


class RestoredError(DeployError):
    """The update failed and the previous deployment was deployed again (maybe recreated)."""


class EventPrinter:
    """Prints stack events once each, oldest first, as they appear."""

    def __init__(self, stack_name: str, since: float) -> None:
        self.stack_name = stack_name
        self.since = since
        self.seen: set[str] = set()
        self.failures: list[dict[str, Any]] = []

    def poll(self) -> None:
        cfn = st.client("cloudformation")
        try:
            events = cfn.describe_stack_events(StackName=self.stack_name)["StackEvents"]
        except ClientError:
            return
        fresh = [
            e
            for e in events
            if e["EventId"] not in self.seen and e["Timestamp"].timestamp() >= self.since - 1
        ]
        for e in sorted(fresh, key=lambda e: e["Timestamp"]):
            self.seen.add(e["EventId"])
            status = e.get("ResourceStatus", "")
            reason = e.get("ResourceStatusReason") or ""
            line = f"  {status:<28} {e.get('ResourceType', ''):<36} {e['LogicalResourceId']}"
            if "FAILED" in status:
                self.failures.append(e)
                line += f"  -- {reason}"
            log(line)


# LocalStack's event for a failed resource update says only "Failed to delete resource with
# id X of type T"; the service's own error is in its log (host mode: the run directory).
_LOG_CAUSE = re.compile(
    r"^(\S+) .*Unexpected error processing resource type (\S+): Exception: (.*?)(?: - \{|$)")


def localstack_log_causes(since: float) -> dict[str, str]:
    """Resource type -> the first error LocalStack logged for it since `since` (epoch s): the
    cause; LocalStack's rollback of the failed update logs later ones about the same resource
    (e.g. `'FunctionName'` while it deletes the function the update could not change)."""
    port = urlsplit(endpoint_url()).port
    if not is_local() or port is None:
        return {}
    log_file = contract.run_dir_for(port) / "localstack.log"
    causes: dict[str, str] = {}
    try:
        with log_file.open(errors="replace") as f:
            f.seek(max(0, log_file.stat().st_size - 2_000_000))
            for line in f:
                if m := _LOG_CAUSE.match(line):
                    stamp = datetime.fromisoformat(m[1]).timestamp()
                    if stamp >= since - 1:
                        causes.setdefault(m[2], m[3])
    except (OSError, ValueError):
        return {}
    return causes


def describe_failure(event: dict[str, Any], causes: dict[str, str]) -> str:
    reason = event.get("ResourceStatusReason") or "no reason given"
    cause = causes.get(event.get("ResourceType", ""))
    if cause and reason.startswith("Failed to "):
        reason = cause if len(cause) <= 400 else cause[:400] + " ..."
    return f"{event['LogicalResourceId']} ({event.get('ResourceType')}): {reason}"


def failure_message(stack_name: str, status: str, causes: list[str], update: bool) -> str:
    """What failed, and for an update that the previous version is still what runs."""
    head = f"stack {stack_name} ended {status}"
    if update:
        head = f"update of stack {stack_name} failed ({status})"
    return head + ":\n  " + "\n  ".join(causes)


def wait_stack(stack_name: str, since: float, timeout: float = 600, update: bool = False) -> str:
    """Print the stack's events until it settles; its final status, or DeployError."""
    printer = EventPrinter(stack_name, since)
    cfn = st.client("cloudformation")
    events_due = time.monotonic() + EVENTS_SECONDS

    def settled() -> str:
        nonlocal events_due
        stack = cfn.describe_stacks(StackName=stack_name)["Stacks"][0]
        status = stack["StackStatus"]
        if time.monotonic() >= events_due:
            printer.poll()
            events_due = time.monotonic() + EVENTS_SECONDS
        assert status in TERMINAL_OK or status in TERMINAL_BAD, (
            f"stack {stack_name} still {status} after {timeout:.0f}s")
        printer.poll()
        if status in TERMINAL_BAD:
            causes = localstack_log_causes(since)
            failed = [e for e in printer.failures if e["LogicalResourceId"] != stack_name]
            # resources LocalStack marks failed only because another one failed carry no reason
            failed = [e for e in failed if e.get("ResourceStatusReason")] or failed
            why = [describe_failure(e, causes) for e in failed] or [
                stack.get("StackStatusReason") or "no reason given"]
            raise DeployError(failure_message(stack_name, status, why, update))
        return status

    try:
        return wait_until(settled, timeout=timeout, interval=POLL_SECONDS)
    except AssertionError as e:
        raise DeployError(str(e)) from None


def delete_stack(stack_name: str, attempts: int = 2) -> None:
    """Delete the stack and wait; a DELETE_FAILED is retried once (LocalStack sometimes fails
    to delete a resource a failed update left half-replaced, and succeeds the second time)."""
    cfn = st.client("cloudformation")
    for attempt in range(1, attempts + 1):
        cfn.delete_stack(StackName=stack_name)
        status = wait_deleted(stack_name)
        if status in (None, "DELETE_COMPLETE"):
            return
        if attempt == attempts:
            raise DeployError(f"could not delete stack {stack_name}: {status}")
        log(f"stack {stack_name} is {status}: deleting it again")


def wait_deleted(stack_name: str, timeout: float = 300) -> str | None:
    """The status a deletion ends in. LocalStack shows DELETE_FAILED while it goes on deleting
    the other resources, so that status counts only once it has held for a while."""
    started = time.monotonic()
    failed_since: float | None = None
    while (status := stack_status(stack_name)) not in (None, "DELETE_COMPLETE"):
        now = time.monotonic()
        failed_since = (failed_since or now) if status == "DELETE_FAILED" else None
        if (failed_since and now - failed_since > 3) or now - started > timeout:
            break
        time.sleep(POLL_SECONDS)
    return status


def lost_resources(stack_name: str) -> list[dict[str, Any]]:
    """Resources whose last operation failed. After a failed update LocalStack 4.14 keeps no
    properties for them, so every later change set that includes them fails too."""
    summaries = st.client("cloudformation").list_stack_resources(StackName=stack_name)
    return [r for r in summaries["StackResourceSummaries"]
            if r["ResourceStatus"].endswith("_FAILED")]


def all_resources(stack_name: str) -> list[dict[str, Any]]:
    paginator = st.client("cloudformation").get_paginator("list_stack_resources")
    return [r for page in paginator.paginate(StackName=stack_name)
            for r in page["StackResourceSummaries"]]


def recreate_from_scratch(stack_name: str) -> None:
    """Delete the stack, then whatever LocalStack's deletion left of its resources."""
    resources = all_resources(stack_name)
    delete_stack(stack_name)
    remove_leftovers(resources)


def _after_failed_update(stack_name: str, status: str) -> str | None:
    """A stack whose update failed: updated in place when LocalStack can, else recreated."""
    lost = lost_resources(stack_name)
    if not lost:
        log(f"stack {stack_name} is {status} after a failed update: updating it")
        return status
    names = ", ".join(r["LogicalResourceId"] for r in lost)
    log(f"stack {stack_name} is {status} after a failed update, and LocalStack can no longer "
        f"update {names}: recreating the stack (its resources are replaced)")
    recreate_from_scratch(stack_name)
    return None


def _settled_status(stack_name: str) -> str | None:
    """The stack's status once it can take a change set: a stack whose creation failed is
    deleted (None), one in progress is waited for, one whose update failed is kept."""
    status = stack_status(stack_name)
    if status in RECREATE and ever_deployed(stack_name):
        return _after_failed_update(stack_name, status)
    if status in RECREATE:
        log(f"stack {stack_name} is {status} (its creation failed): "
            "deleting it before creating it again")
        recreate_from_scratch(stack_name)
        return None
    if status and status.endswith("_IN_PROGRESS") and status != "REVIEW_IN_PROGRESS":
        log(f"stack {stack_name} is {status}: waiting for it to settle")
        try:
            wait_stack(stack_name, time.time())
        except DeployError as e:
            log(str(e))
        return _settled_status(stack_name)
    return status


def _template_argument(body: str, bucket: str) -> dict[str, str]:
    """TemplateBody, or a TemplateURL in the artifacts bucket for a template over the limit."""
    if len(body.encode()) <= MAX_INLINE_TEMPLATE:
        return {"TemplateBody": body}
    key = f"templates/{hashlib.sha256(body.encode()).hexdigest()[:16]}.json"  # like sam
    upload_once(bucket, key, body.encode)
    if is_local():
        return {"TemplateURL": f"{endpoint_url()}/{bucket}/{key}"}
    return {"TemplateURL": f"https://{bucket}.s3.{region()}.amazonaws.com/{key}"}


def _wait_change_set(stack_name: str, name: str) -> dict[str, Any] | None:
    """The created change set, or None when it holds no changes (it is deleted then)."""
    cfn = st.client("cloudformation")
    deadline = time.monotonic() + 120
    while True:
        cs = cfn.describe_change_set(StackName=stack_name, ChangeSetName=name)
        if cs["Status"] == "CREATE_COMPLETE":
            return cs
        if cs["Status"] == "FAILED":
            reason = cs.get("StatusReason") or ""
            if "didn't contain changes" in reason or "No updates" in reason:
                cfn.delete_change_set(StackName=stack_name, ChangeSetName=name)
                return None
            raise DeployError(f"change set failed: {reason}")
        if time.monotonic() > deadline:
            raise DeployError(f"change set still {cs['Status']} after 120s")
        time.sleep(POLL_SECONDS)


def _run_change_set(stack_name: str, change_type: str, body: str,
                    params: list[dict[str, str]], bucket: str, clean: bool) -> str:
    """Create, execute and follow one change set; "unchanged" when it holds no changes."""
    cfn = st.client("cloudformation")
    name = f"deploy-{int(time.time() * 1000)}"
    since = time.time()
    cfn.create_change_set(
        StackName=stack_name,
        ChangeSetName=name,
        ChangeSetType=change_type,
        Parameters=params,
        Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"],
        **_template_argument(body, bucket),
    )
    cs = _wait_change_set(stack_name, name)
    if cs is None:
        return "unchanged"
    # (after a failed update LocalStack lists no Changes for a change set that has some)
    if clean and not cs.get("Changes"):
        cfn.delete_change_set(StackName=stack_name, ChangeSetName=name)
        return "unchanged"
    log(f"{'creating' if change_type == 'CREATE' else 'updating'} stack {stack_name} ...")
    cfn.execute_change_set(StackName=stack_name, ChangeSetName=name)
    return wait_stack(stack_name, since, update=change_type == "UPDATE")


def restore_previous(stack_name: str, previous: Deployment, bucket: str) -> str:
    """Roll a failed update back as AWS does, which LocalStack 4.14 does not: deploy the
    previous template again, by recreating the stack if LocalStack lost a resource."""
    body, params = previous
    change_type = "UPDATE"
    if lost_resources(stack_name):
        recreate_from_scratch(stack_name)
        change_type = "CREATE"
    return _run_change_set(stack_name, change_type, body, params, bucket, clean=False)


def deploy_stack(stack_name: str, body: str, params: list[dict[str, str]], bucket: str,
                 before_change: Callable[[], object] | None = None) -> str:
    """Create or update the stack through one change set; returns what happened.
    `before_change` runs only when there is something to deploy (it may refuse: raise)."""
    status = _settled_status(stack_name)
    # Only a cleanly deployed stack can be "unchanged" or restored (after a failed update,
    # the template CloudFormation reports may be the one that failed).
    clean = status in ("CREATE_COMPLETE", "UPDATE_COMPLETE")
    previous = deployed_template(stack_name) if clean else None
    if _same_deployment(previous, body, params):
        return "unchanged"
    if before_change is not None:
        before_change()
    change_type = "UPDATE" if status and status != "REVIEW_IN_PROGRESS" else "CREATE"
    try:
        return _run_change_set(stack_name, change_type, body, params, bucket, clean)
    except DeployError as failure:
        # AWS ends a failed update in UPDATE_ROLLBACK_COMPLETE, rolled back; LocalStack says
        # ROLLBACK_COMPLETE and leaves what it changed before the failure changed.
        if previous is None or stack_status(stack_name) != "ROLLBACK_COMPLETE":
            raise
        log("LocalStack does not roll a failed update back: restoring the previous deployment")
        try:
            restore_previous(stack_name, previous, bucket)
        except DeployError as e:
            raise DeployError(f"{failure}\nrestoring the previous deployment failed too: {e}"
                              ) from None
        raise RestoredError(f"{failure}\nthe previous deployment was restored") from None
