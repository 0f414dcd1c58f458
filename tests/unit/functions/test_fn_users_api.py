"""Users REST API: create_user, get_user, list_users."""

from __future__ import annotations

import base64
import json

import pytest
from fnhelpers import api_event, body_of, event


@pytest.fixture
def create(load, context):
    module = load("users.create_user")
    return lambda ev: module.handler(ev, context)


def test_create_user_returns_201_with_stored_item(create, aws):
    # WHEN a valid user is posted from a browser page
    ev = event("api_post_users.json")
    ev["headers"]["Origin"] = "https://app.example.com"
    ev["multiValueHeaders"]["Origin"] = ["https://app.example.com"]
    response = create(ev)
    # THEN it is stored and returned, with CORS headers
    assert response["statusCode"] == 201
    body = body_of(response)
    assert body["email"] == "ada@example.com" and body["name"] == "Ada Lovelace"
    assert (
        aws.users.get_item(Key={"user_id": body["user_id"]})["Item"]["email"] == "ada@example.com"
    )
    assert response["multiValueHeaders"]["Access-Control-Allow-Origin"] == ["*"]
    assert body["created_at"] == body["last_active_at"]


def test_duplicate_email_is_409_and_does_not_overwrite(create, aws):
    first = body_of(create(event("api_post_users.json")))
    # GIVEN the same email in another case, with another name
    dup = api_event("api_post_users.json", body={"email": "ADA@Example.COM", "name": "Impostor"})
    response = create(dup)
    assert response["statusCode"] == 409
    assert body_of(response) == {"message": "a user with this email already exists"}
    assert aws.users.get_item(Key={"user_id": first["user_id"]})["Item"]["name"] == "Ada Lovelace"


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ('{"email": "ada@example.com"}', "name"),
        ('{"name": "Ada"}', "email"),
        ('{"email": "not-an-email", "name": "Ada"}', "email"),
        ('{"email": "a@b", "name": "Ada"}', "email"),
        ('{"email": "ada@example.com", "name": ""}', "name"),
        ('{"email": "ada@example.com", "name": "   "}', "name"),
        ('{"email": "ada@example.com", "name": "' + "x" * 101 + '"}', "name"),
        ('{"email": "ada@example.com", "name": 42}', "name"),
        ('{"email": "ada@example.com", "name": "Ada", "admin": true}', "admin"),
    ],
)
def test_invalid_fields_are_400_naming_the_field(create, aws, raw, field):
    response = create(api_event("api_post_users.json", raw_body=raw))
    assert response["statusCode"] == 400
    body = body_of(response)
    assert body["message"] == "invalid request body"
    assert field in {e["field"] for e in body["errors"]}
    assert aws.users.scan()["Count"] == 0


@pytest.mark.parametrize("raw", ["{not json", "[1, 2]", '"a string"', "", "   ", "null"])
def test_malformed_or_non_object_body_is_400(create, raw):
    response = create(api_event("api_post_users.json", raw_body=raw))
    assert response["statusCode"] == 400
    assert "message" in body_of(response)


def test_malformed_json_message(create):
    response = create(api_event("api_post_users.json", raw_body="{not json"))
    assert body_of(response)["message"] == "malformed JSON body"


def test_body_over_the_limit_is_400(create, load):
    limit = load("common.http").MAX_BODY_BYTES
    raw = json.dumps({"email": "ada@example.com", "name": "x" * limit})
    response = create(api_event("api_post_users.json", raw_body=raw))
    assert response["statusCode"] == 400
    assert str(limit) in body_of(response)["message"]


def test_base64_encoded_body_is_decoded(create):
    raw = json.dumps({"email": "b64@example.com", "name": "Bee"}).encode()
    ev = api_event("api_post_users.json", raw_body=base64.b64encode(raw).decode())
    ev["isBase64Encoded"] = True
    assert create(ev)["statusCode"] == 201


@pytest.mark.parametrize("raw", ["%%%not-base64", base64.b64encode(b"\xff\xfe{}").decode()])
def test_undecodable_base64_body_is_400(create, raw):
    ev = api_event("api_post_users.json", raw_body=raw)
    ev["isBase64Encoded"] = True
    response = create(ev)
    assert response["statusCode"] == 400
    assert body_of(response) == {"message": "request body must be UTF-8 JSON"}


def test_unexpected_failure_is_generic_500(load, context, aws):
    # GIVEN the table does not exist (a broken deployment, not bad input)
    aws.users.delete()
    module = load("users.create_user")
    response = module.handler(event("api_post_users.json"), context)
    assert response["statusCode"] == 500
    assert body_of(response) == {"message": "internal server error"}


def test_get_user_200_and_404(load, context, aws):
    created = body_of(load("users.create_user").handler(event("api_post_users.json"), context))
    get = load("users.get_user")
    ev = event("api_get_user.json")
    ev["path"] = f"/users/{created['user_id']}"
    ev["pathParameters"] = {"user_id": created["user_id"]}
    response = get.handler(ev, context)
    assert response["statusCode"] == 200
    assert body_of(response)["email"] == "ada@example.com"
    missing = get.handler(event("api_get_user.json"), context)
    assert missing["statusCode"] == 404
    assert body_of(missing) == {"message": "user not found"}


def test_get_user_with_overlong_id_is_404(load, context, aws):
    ev = event("api_get_user.json")
    ev["path"] = "/users/" + "x" * 2000
    ev["pathParameters"] = {"user_id": "x" * 2000}
    assert load("users.get_user").handler(ev, context)["statusCode"] == 404


def _list(module, context, **query):
    ev = event("api_list_users.json")
    ev["queryStringParameters"] = query or None
    return module.handler(ev, context)


def test_list_users_pages_through_everything_once(load, context, aws):
    for i in range(5):
        aws.users.put_item(Item={"user_id": f"u{i}", "email": f"u{i}@example.com", "name": "U"})
    module = load("users.list_users")
    seen: list[str] = []
    token = None
    pages = 0
    while True:
        query = {"limit": "2"} | ({"next": token} if token else {})
        response = _list(module, context, **query)
        assert response["statusCode"] == 200
        body = body_of(response)
        assert body["count"] == len(body["users"]) <= 2
        seen += [u["user_id"] for u in body["users"]]
        pages += 1
        token = body["next"]
        if token is None:
            break
        assert pages < 10
    assert sorted(seen) == [f"u{i}" for i in range(5)]


def test_list_users_default_limit(load, context, aws):
    module = load("users.list_users")
    body = body_of(_list(module, context))
    assert body == {"users": [], "count": 0, "next": None}


@pytest.mark.parametrize("limit", ["0", "101", "-1", "abc", "1.5", "", "\u00b2", " 5", "1e1"])
def test_list_users_invalid_limit_is_400(load, context, aws, limit):
    response = _list(load("users.list_users"), context, limit=limit)
    assert response["statusCode"] == 400
    assert "limit" in body_of(response)["message"]


@pytest.mark.parametrize(
    "token",
    [
        "garbage!!",
        "bm90IGpzb24",  # "not json"
        base64.urlsafe_b64encode(b'{"other": "x"}').decode(),
        base64.urlsafe_b64encode(b'{"user_id": 5}').decode(),
        base64.urlsafe_b64encode(b"[1]").decode(),
        base64.urlsafe_b64encode(b"\xff\xfe").decode(),
        "A" * 2000,
    ],
)
def test_list_users_garbage_token_is_400(load, context, aws, token):
    response = _list(load("users.list_users"), context, next=token)
    assert response["statusCode"] == 400
    assert body_of(response) == {"message": "invalid pagination token"}
