"""Every route with a path parameter: an unknown or malformed id is a JSON 404, never a 500.

API Gateway implementations differ in how they pass a path parameter: AWS and direct invokes
pass it decoded ("✓"), LocalStack percent-encoded ("%E2%9C%93"). Ids our route patterns do not
match (a non-word character such as "✓", "/", a control character) used to reach the resolver's
catch-all and answer 500.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fnhelpers import body_of, event

import artifacts

TEMPLATE = Path(__file__).resolve().parents[3] / "template.yaml"

# Decoded and encoded non-ASCII, ids that do and do not match the route pattern, over-long ids.
BAD_IDS = [
    "\u2713",
    "%E2%9C%93",
    "\u00e9\u00e9\u00e9",
    "\U0001f4a5",
    "a b",
    "\x00",
    "\ud800",
    "../x",
    "a/b",
    "%",
    "x" * 65,
    "\u00e9" * 65,
    "3f1e1e9b-8a6a-5c1f-9d7e-2b1c0a9f8e7d",  # well-formed, unknown
]

# Handler module -> (sample event, path with {} for the id, path parameter name)
ROUTES = {
    "users.get_user": ("api_get_user.json", "/users/{}", "user_id"),
    "orders.get_order": ("api_get_order.json", "/orders/{}", "order_id"),
    "orders.checkout": ("api_checkout_order.json", "/orders/{}/checkout", "order_id"),
}


def _answers(load: Any, context: Any, module_name: str) -> dict[str, tuple[int, Any, Any]]:
    """(status, body keys, CORS header) for each bad id, asked for from a browser page."""
    module = load(module_name)
    name, path, param = ROUTES[module_name]
    answers = {}
    for bad_id in BAD_IDS:
        ev = event(name)
        ev["path"] = path.format(bad_id)
        ev["pathParameters"] = {param: bad_id}
        ev["headers"]["Origin"] = "https://app.example.com"
        ev["multiValueHeaders"]["Origin"] = ["https://app.example.com"]
        response = module.handler(ev, context)
        cors = response["multiValueHeaders"].get("Access-Control-Allow-Origin")
        answers[bad_id] = (response["statusCode"], sorted(body_of(response)), cors)
    return answers


def _expected() -> dict[str, tuple[int, Any, Any]]:
    return {bad_id: (404, ["message"], ["*"]) for bad_id in BAD_IDS}


def test_get_user_bad_id_is_404(load, context, aws):
    assert _answers(load, context, "users.get_user") == _expected()


def test_get_order_bad_id_is_404(load, context, aws):
    assert _answers(load, context, "orders.get_order") == _expected()


def test_checkout_bad_id_is_404(load, context, aws):
    assert _answers(load, context, "orders.checkout") == _expected()
    assert aws.orders.scan()["Count"] == 0


@pytest.mark.parametrize("raw_id", ["\u2713", "a/b"])
def test_unmatched_path_says_not_found(load, context, aws, raw_id):
    ev = event("api_get_user.json")
    ev["path"] = f"/users/{raw_id}"
    ev["pathParameters"] = {"user_id": raw_id}
    response = load("users.get_user").handler(ev, context)
    assert body_of(response) == {"message": "not found"}


def test_every_route_with_a_path_parameter_is_covered():
    # deploy.py's parser (held equal to cfn-lint's by tests/unit/test_deploy.py)
    resources = artifacts.load_template(TEMPLATE)["Resources"]
    with_params = {
        fn["Properties"]["Handler"].rpartition(".")[0]
        for fn in resources.values()
        if fn["Type"] == "AWS::Serverless::Function"
        for trigger in fn["Properties"].get("Events", {}).values()
        if trigger["Type"] == "Api" and "{" in trigger["Properties"]["Path"]
    }
    assert with_params == set(ROUTES)
