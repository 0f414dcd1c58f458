"""The users API deployed by the Serverless Framework answers like the SAM-deployed one."""

from __future__ import annotations

import uuid

import pytest

import endpoint
import stack as st

from .conftest import SlsStack

pytestmark = pytest.mark.integration


def test_api_url_is_the_dns_free_localstack_form(sls_stack: SlsStack) -> None:
    api_id = sls_stack.outputs["RestApiId"]
    assert sls_stack.api == (
        f"{endpoint.endpoint_url()}/restapis/{api_id}/{sls_stack.stage}/_user_request_"
    )


def test_create_duplicate_and_get(sls_stack: SlsStack, new_user) -> None:
    # WHEN a user is created through the Serverless-deployed API
    email = f"sls-{uuid.uuid4().hex[:12]}@example.com"
    status, user = new_user(email=email, name="  Grace Hopper ")
    # THEN it is 201 with the stored user, in this stack's own table (users-<stage>)
    assert status == 201, user
    assert user["email"] == email and user["name"] == "Grace Hopper"
    assert sls_stack.table == f"users-{sls_stack.stage}"
    item = st.client("dynamodb").get_item(
        TableName=sls_stack.table, Key={"user_id": {"S": user["user_id"]}}
    )
    assert item["Item"]["email"]["S"] == email

    # AND the same email again is 409
    status, dup = new_user(email=email.upper(), name="Someone Else")
    assert status == 409, dup
    assert dup["message"]

    # AND GET /users/{id} reads it back; an unknown id is 404
    status, got = sls_stack.http("GET", f"/users/{user['user_id']}")
    assert status == 200, got
    assert got == user
    status, missing = sls_stack.http("GET", f"/users/{uuid.uuid4()}")
    assert status == 404, missing
    assert missing["message"]


def test_sam_users_table_is_untouched(sls_stack: SlsStack, new_user) -> None:
    status, user = new_user()
    assert status == 201, user
    sam_table = st.client("dynamodb").get_item(
        TableName="users", Key={"user_id": {"S": user["user_id"]}}
    )
    assert "Item" not in sam_table


def _pages(sls_stack: SlsStack, limit: int):
    """Every page of GET /users, following `next` (bounded, no sleeps)."""
    token = None
    for _ in range(1000):
        query = f"?limit={limit}" + (f"&next={token}" if token else "")
        status, page = sls_stack.http("GET", f"/users{query}")
        assert status == 200, page
        yield page
        token = page.get("next")
        if not token:
            return


def test_list_pages_with_limit_and_next(sls_stack: SlsStack, new_user) -> None:
    # GIVEN three users of our own (the stage's table holds only this package's users)
    mine = set()
    for _ in range(3):
        status, user = new_user()
        assert status == 201, user
        mine.add(user["user_id"])

    # WHEN the list is read two at a time
    pages = list(_pages(sls_stack, 2))

    # THEN it takes more than one page, each within the limit, and every user appears once
    assert len(pages) >= 2
    assert all(page["count"] == len(page["users"]) <= 2 for page in pages), pages
    seen = [u["user_id"] for page in pages for u in page["users"]]
    assert len(seen) == len(set(seen))
    assert mine <= set(seen)


def test_preflight_answers_cors(sls_stack: SlsStack) -> None:
    import urllib.request

    req = urllib.request.Request(f"{sls_stack.api}/users", method="OPTIONS")
    req.add_header("Origin", "http://example.com")
    req.add_header("Access-Control-Request-Method", "POST")
    with urllib.request.urlopen(req, timeout=30) as resp:
        assert resp.status == 200
        assert resp.headers.get("Access-Control-Allow-Origin") == "*"
        assert "POST" in (resp.headers.get("Access-Control-Allow-Methods") or "")


BAD_REQUESTS = [
    ("POST", "/users", b'{"email": "a@example.com", "name": ', "malformed JSON"),
    ("POST", "/users", b"[1, 2, 3]", "not an object"),
    ("POST", "/users", b"", "empty body"),
    ("POST", "/users", b"\xff\xfe{}", "not UTF-8"),
    ("POST", "/users", b'{"email": "not-an-email", "name": "X"}', "bad email"),
    ("POST", "/users", b'{"email": "a@example.com", "name": "X", "admin": true}', "unknown field"),
    ("POST", "/users", b'{"email": "a@example.com", "name": "' + b"x" * 20_000 + b'"}', "large"),
    ("GET", "/users?limit=0", None, "limit too small"),
    ("GET", "/users?limit=abc", None, "limit not a number"),
    ("GET", "/users?next=%%%garbage", None, "token we did not issue"),
    ("GET", "/users/" + "x" * 300, None, "id too long"),
]


@pytest.mark.parametrize(("method", "path", "raw", "why"), BAD_REQUESTS)
def test_bad_input_gets_the_same_4xx_as_sam(
    sls_stack: SlsStack, sam_api: str, method: str, path: str, raw: bytes | None, why: str
) -> None:
    sls_status, sls_body = st.http(method, f"{sls_stack.api}{path}", raw=raw)
    sam_status, sam_body = st.http(method, f"{sam_api}{path}", raw=raw)
    assert 400 <= sls_status < 500, f"{why}: {sls_status} {sls_body}"
    assert (sls_status, sls_body) == (sam_status, sam_body), why
