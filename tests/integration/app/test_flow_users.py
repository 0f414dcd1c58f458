"""Users REST API through API Gateway, the users stream -> welcome email, and the cleanup job."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from polling import wait_until
from stack import mails_to

from .helpers import App, unique

pytestmark = pytest.mark.integration


@pytest.fixture
def new_user(app: App, cleanup):
    """Factory: POST /users with a unique email; deletes the user afterwards."""
    users = app.client("dynamodb")

    def create(**overrides: Any) -> tuple[int, Any, str]:
        email = overrides.pop("email", f"{unique('user')}@example.com")
        body = {"email": email, "name": "Ada Lovelace", **overrides}
        status, payload = app.http("POST", "/users", body)
        if status == 201:
            user_id = payload["user_id"]
            cleanup(
                lambda: users.delete_item(
                    TableName=app.name("USERS_TABLE"), Key={"user_id": {"S": user_id}}
                )
            )
        return status, payload, email

    return create


def test_create_get_and_duplicate_user(app: App, new_user) -> None:
    # WHEN a user is created
    status, user, email = new_user(name="  Grace Hopper ")
    # THEN the API answers 201 with the stored item
    assert status == 201, user
    assert user["email"] == email
    assert user["name"] == "Grace Hopper"
    assert user["user_id"] and user["created_at"]

    # AND it can be read back
    status, got = app.http("GET", f"/users/{user['user_id']}")
    assert status == 200, got
    assert got == user

    # AND the same email (any case) cannot register twice, and the first item is kept
    status, dup, _ = new_user(email=email.upper(), name="Someone Else")
    assert status == 409, dup
    assert dup["message"]
    status, got = app.http("GET", f"/users/{user['user_id']}")
    assert got["name"] == "Grace Hopper"


def test_welcome_email_sent_once_for_new_user(app: App, new_user) -> None:
    # GIVEN a new user (the users table stream triggers the welcome email)
    status, user, email = new_user()
    assert status == 201, user

    # THEN exactly one welcome email reaches that address
    def welcomed():
        mails = mails_to(email)
        assert len(mails) == 1, f"{len(mails)} mails to {email}"
        return mails[0]

    mail = wait_until(welcomed, timeout=30, what="welcome email")
    assert mail["Source"] == app.name("SES_SENDER")
    assert "Welcome" in mail["Subject"]


def test_get_unknown_user_is_404(app: App) -> None:
    status, body = app.http("GET", f"/users/{unique('nobody')}")
    assert status == 404, body
    assert body["message"]
    for odd in ("x" * 300, "%E2%9C%93", "a%2Fb", "%00"):
        status, body = app.http("GET", f"/users/{odd}")
        assert status == 404, (odd, body)


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        (b'{"email": "a@example.com", "name": ', "malformed JSON"),
        (b"[1, 2, 3]", "not an object"),
        (b'"abc"', "a JSON string"),
        (b"null", "JSON null"),
        (b"\xff\xfe{}", "not UTF-8"),
        (b"", "empty body"),
        (b'{"name": "No Email"}', "missing email"),
        (b'{"email": "nobody@example.com"}', "missing name"),
        (b'{"email": "not-an-email", "name": "X"}', "bad email"),
        (b'{"email": "a@@example.com", "name": "X"}', "bad email"),
        (b'{"email": "a@example.com", "name": ""}', "empty name"),
        (b'{"email": 42, "name": "X"}', "wrong type"),
        (b'{"email": "a@example.com", "name": "X", "admin": true}', "unknown field"),
        (b'{"email": "a@example.com", "name": "' + b"x" * 20_000 + b'"}', "too large"),
    ],
)
def test_bad_user_input_is_400_never_500(app: App, raw: bytes, why: str) -> None:
    status, body = app.http("POST", "/users", raw=raw)
    assert status == 400, f"{why}: {status} {body}"
    assert isinstance(body, dict) and body.get("message"), f"{why}: {body!r}"


def test_list_users_pages_with_limit_and_next(app: App, new_user) -> None:
    # GIVEN three users of our own
    mine = set()
    for _ in range(3):
        status, user, _ = new_user()
        assert status == 201, user
        mine.add(user["user_id"])

    # WHEN all pages are read: limit=2 for the first pages, then 100 (the table may be big)
    seen: list[str] = []
    token = None
    for page_no in range(10_000):  # a bound, not a sleep
        limit = 2 if page_no < 3 else 100
        query = f"?limit={limit}" + (f"&next={token}" if token else "")
        status, page = app.http("GET", f"/users{query}")
        assert status == 200, page
        assert len(page["users"]) <= limit
        assert page["count"] == len(page["users"])
        seen.extend(u["user_id"] for u in page["users"])
        token = page.get("next")
        if not token:
            break
    # THEN every user appears exactly once and ours are among them
    assert len(seen) == len(set(seen))
    assert mine <= set(seen)


@pytest.mark.parametrize(
    "query", ["?limit=0", "?limit=101", "?limit=abc", "?limit=%C2%B2", "?next=%%%garbage"]
)
def test_list_users_bad_query_is_400(app: App, query: str) -> None:
    status, body = app.http("GET", f"/users{query}")
    assert status == 400, body
    assert body["message"]


def test_cleanup_deletes_only_stale_users(app: App, cleanup) -> None:
    # GIVEN a stale user (inactive for two years) and an active one, written straight to the table
    table = app.client("dynamodb")
    name = app.name("USERS_TABLE")
    old = (datetime.now(UTC) - timedelta(days=730)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    fresh = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    stale_id, active_id = unique("stale"), unique("active")
    for user_id, ts in ((stale_id, old), (active_id, fresh)):
        table.put_item(
            TableName=name,
            Item={
                "user_id": {"S": user_id},
                "email": {"S": f"{user_id}@example.com"},
                "name": {"S": "Cleanup Test"},
                "created_at": {"S": ts},
                "last_active_at": {"S": ts},
            },
        )
        cleanup(lambda uid=user_id: table.delete_item(TableName=name, Key={"user_id": {"S": uid}}))

    # WHEN the scheduled cleanup runs (on demand, with a scheduled-event payload)
    resp = app.client("lambda").invoke(
        FunctionName=app.function("CleanupInactive"),
        Payload=b'{"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}}',
    )
    summary = resp["Payload"].read()
    assert "FunctionError" not in resp, summary

    # THEN the stale user is gone and the active one stays
    assert "Item" not in table.get_item(TableName=name, Key={"user_id": {"S": stale_id}})
    assert "Item" in table.get_item(TableName=name, Key={"user_id": {"S": active_id}})


def test_cleanup_is_scheduled(app: App) -> None:
    # The schedule itself: an enabled EventBridge rule targets the cleanup function.
    events = app.client("events")
    fn_arn = app.client("lambda").get_function(FunctionName=app.function("CleanupInactive"))[
        "Configuration"
    ]["FunctionArn"]
    rules = events.list_rule_names_by_target(TargetArn=fn_arn)["RuleNames"]
    assert rules, "no EventBridge rule targets the cleanup function"
    rule = events.describe_rule(Name=rules[0])
    assert rule["State"] == "ENABLED"
    assert rule.get("ScheduleExpression", "").startswith(("rate(", "cron("))
