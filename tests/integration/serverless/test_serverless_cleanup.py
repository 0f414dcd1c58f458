"""cleanupInactiveUsers: a rate(1 day) rule targets it; invoking the target deletes stale users."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest

import stack as st

from .conftest import SlsStack

pytestmark = pytest.mark.integration


def _iso(days_ago: int) -> str:
    return (datetime.now(UTC) - timedelta(days=days_ago)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _user_item(user_id: str, last_active: str) -> dict:
    strings = {"user_id": user_id, "email": f"{user_id}@example.com", "name": "Cleanup Test"}
    strings |= {"created_at": last_active, "last_active_at": last_active}
    return {key: {"S": value} for key, value in strings.items()}


def _schedule_rule(sls_stack: SlsStack) -> dict:
    fn_arn = st.client("lambda").get_function(FunctionName=sls_stack.function("CleanupInactive"))[
        "Configuration"
    ]["FunctionArn"]
    events = st.client("events")
    names = events.list_rule_names_by_target(TargetArn=fn_arn)["RuleNames"]
    assert len(names) == 1, f"rules targeting the cleanup function: {names}"
    rule = events.describe_rule(Name=names[0])
    targets = events.list_targets_by_rule(Rule=names[0])["Targets"]
    return {**rule, "Targets": targets}


def test_schedule_rule_is_rate_1_day(sls_stack: SlsStack) -> None:
    rule = _schedule_rule(sls_stack)
    assert rule["ScheduleExpression"] == "rate(1 day)"
    assert rule["State"] == "ENABLED"


def test_invoking_the_rule_target_deletes_a_stale_user(sls_stack: SlsStack) -> None:
    # GIVEN a stale user (two years inactive) and an active one in this stack's table
    ddb = st.client("dynamodb")
    stale, active = f"stale-{uuid.uuid4().hex[:12]}", f"active-{uuid.uuid4().hex[:12]}"
    for user_id, days_ago in ((stale, 730), (active, 0)):
        ddb.put_item(TableName=sls_stack.table, Item=_user_item(user_id, _iso(days_ago)))
    try:
        # WHEN the rule's target is invoked with the input EventBridge would send
        target = _schedule_rule(sls_stack)["Targets"][0]
        event = {"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}}
        resp = st.client("lambda").invoke(
            FunctionName=target["Arn"], Payload=target.get("Input") or json.dumps(event)
        )
        summary = json.loads(resp["Payload"].read())
        assert "FunctionError" not in resp, summary
        assert summary["deleted"] >= 1, summary

        # THEN the stale user is gone and the active one stays
        key = {"user_id": {"S": stale}}
        assert "Item" not in ddb.get_item(TableName=sls_stack.table, Key=key)
        key = {"user_id": {"S": active}}
        assert "Item" in ddb.get_item(TableName=sls_stack.table, Key=key)
    finally:
        for user_id in (stale, active):
            ddb.delete_item(TableName=sls_stack.table, Key={"user_id": {"S": user_id}})
