"""Shared helpers: email validation, pagination tokens, DynamoDB number conversion."""

from __future__ import annotations

from decimal import Decimal

import pytest
from pydantic import TypeAdapter
from pydantic import ValidationError as PydanticValidationError


@pytest.fixture
def email(load):
    return TypeAdapter(load("common.validation").Email)


@pytest.mark.parametrize(
    ("raw", "stored"),
    [
        ("Ada@Example.COM", "ada@example.com"),
        ("  first.last+tag@sub.example.co.uk ", "first.last+tag@sub.example.co.uk"),
        ("o'brien@example.ie", "o'brien@example.ie"),
    ],
)
def test_valid_emails_are_normalised(email, raw, stored):
    assert email.validate_python(raw) == stored


@pytest.mark.parametrize(
    "raw",
    [
        "plain",
        "a@b",
        "a@@example.com",
        "a b@example.com",
        "a..b@example.com",
        "a@-example.com",
        "a@example..com",
        "x" * 65 + "@example.com",
        "a@" + "b" * 250 + ".com",
        "",
    ],
)
def test_invalid_emails_are_rejected(email, raw):
    with pytest.raises(PydanticValidationError):
        email.validate_python(raw)


def test_pagination_token_round_trip(load):
    pagination = load("common.pagination")
    key = {"user_id": "3f1e1e9b-8a6a-5c1f-9d7e-2b1c0a9f8e7d"}
    token = pagination.encode_token(key)
    assert token and "=" not in token
    assert pagination.decode_token(token, ("user_id",)) == key
    assert pagination.encode_token(None) is None
    assert pagination.decode_token(None, ("user_id",)) is None


def test_plain_converts_dynamodb_numbers(load):
    plain = load("common.dynamo").plain
    value = {"a": Decimal("2"), "b": [Decimal("1.50")], "c": {"d": Decimal("0")}, "e": "x"}
    assert plain(value) == {"a": 2, "b": ["1.50"], "c": {"d": 0}, "e": "x"}


def test_settings_read_from_environment(load, monkeypatch):
    monkeypatch.setenv("PAYMENT_LIMIT_CENTS", "123")
    monkeypatch.setenv("USERS_TABLE", "users-x")
    settings = load("common.settings").SETTINGS
    assert settings.payment_limit_cents == 123 and settings.users_table == "users-x"
