"""cleanup_inactive_users (schedule) and the users stream consumer (welcome email)."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta

from fnhelpers import event


def _iso(days_ago: int) -> str:
    return (datetime.now(UTC) - timedelta(days=days_ago)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _user(user_id: str, **fields: str) -> dict[str, str]:
    return {"user_id": user_id, "email": f"{user_id}@example.com", "name": "U", **fields}


def test_cleanup_deletes_only_inactive_users(load, context, aws):
    # GIVEN users active long ago, recently, and one without last_active_at (created_at counts)
    aws.users.put_item(Item=_user("stale", created_at=_iso(400), last_active_at=_iso(31)))
    aws.users.put_item(Item=_user("fresh", created_at=_iso(400), last_active_at=_iso(1)))
    aws.users.put_item(Item=_user("old-no-activity", created_at=_iso(60)))
    aws.users.put_item(Item=_user("new-no-activity", created_at=_iso(2)))
    # WHEN the schedule fires (INACTIVE_AFTER_DAYS=30)
    result = load("users.cleanup_inactive").handler(event("scheduled_cleanup.json"), context)
    # THEN the two inactive users are gone and the others stay
    assert result["deleted"] == 2 and result["finished"] is True
    remaining = {i["user_id"] for i in aws.users.scan()["Items"]}
    assert remaining == {"fresh", "new-no-activity"}


def test_cleanup_keeps_user_who_became_active_meanwhile(load, aws):
    module = load("users.cleanup_inactive")
    repository = load("users.repository")
    aws.users.put_item(Item=_user("u1", created_at=_iso(400), last_active_at=_iso(100)))
    cutoff = _iso(30)
    # the user logs in between the scan and the delete
    aws.users.update_item(
        Key={"user_id": "u1"},
        UpdateExpression="SET last_active_at = :now",
        ExpressionAttributeValues={":now": _iso(0)},
    )
    assert repository.delete_if_inactive(aws.users, "u1", cutoff) is False
    assert "Item" in aws.users.get_item(Key={"user_id": "u1"})
    assert module.cleanup(aws.users, 30)["deleted"] == 0


def test_cleanup_stops_before_the_timeout(load, aws):
    for i in range(3):
        aws.users.put_item(Item=_user(f"s{i}", created_at=_iso(400)))
    module = load("users.cleanup_inactive")
    result = module.cleanup(aws.users, 30, time_left_ms=lambda: 1_000)
    assert result == {**result, "deleted": 0, "finished": False}
    assert aws.users.scan()["Count"] == 3


def test_welcome_email_for_insert_only_and_once(load, context, aws):
    module = load("users.on_user_created")
    ev = event("ddb_stream_user_insert.json")  # one INSERT, one MODIFY
    # WHEN the batch arrives
    assert module.handler(ev, context) == {"batchItemFailures": []}
    # THEN one email went out (the MODIFY is ignored)
    assert aws.emails_sent() == 1
    # WHEN the same batch is delivered again (stream retry)
    assert module.handler(copy.deepcopy(ev), context) == {"batchItemFailures": []}
    # THEN nobody gets a second welcome
    assert aws.emails_sent() == 1


def test_welcome_partial_failure_reports_only_the_bad_record(load, context, aws):
    module = load("users.on_user_created")
    ev = event("ddb_stream_user_insert.json")
    bad = copy.deepcopy(ev["Records"][0])
    bad["eventID"] = "bad-record"
    bad["dynamodb"]["SequenceNumber"] = "999"
    del bad["dynamodb"]["NewImage"]["email"]
    ev["Records"].insert(0, bad)
    result = module.handler(ev, context)
    assert result == {"batchItemFailures": [{"itemIdentifier": "999"}]}
    assert aws.emails_sent() == 1


def test_welcome_ses_failure_fails_the_record(load, context, aws):
    # GIVEN the sender identity is not verified: SES refuses
    aws.ses.delete_identity(Identity="orders@example.com")
    module = load("users.on_user_created")
    result = module.handler(event("ddb_stream_user_insert.json"), context)
    assert result == {"batchItemFailures": [{"itemIdentifier": "111"}]}
