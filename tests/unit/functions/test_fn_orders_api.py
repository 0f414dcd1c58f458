"""Orders API: create_order, get_order, checkout."""

from __future__ import annotations

import json

import pytest
from fnhelpers import api_event, body_of, event, put_order

VALID = {
    "customer_email": "ada@example.com",
    "items": [{"sku": "SKU-1", "quantity": 2, "unit_price_cents": 1250}],
}


def test_create_order_stores_pending_and_queues_it(load, context, aws):
    response = load("orders.create_order").handler(event("api_post_orders.json"), context)
    assert response["statusCode"] == 201
    body = body_of(response)
    assert body["status"] == "PENDING" and body["amount_cents"] == 2500
    assert "card" not in body
    stored = aws.orders.get_item(Key={"order_id": body["order_id"]})["Item"]
    assert stored["status"] == "PENDING" and stored["card"] == "tok_visa"
    assert aws.queue_messages() == [
        {"order_id": body["order_id"], "customer_email": "ada@example.com"}
    ]


@pytest.mark.parametrize(
    "change",
    [
        {"items": []},
        {"items": [{"sku": "SKU-1", "quantity": -1, "unit_price_cents": 100}]},
        {"items": [{"sku": "SKU-1", "quantity": 0, "unit_price_cents": 100}]},
        {"items": [{"sku": "SKU-1", "quantity": 1001, "unit_price_cents": 100}]},
        {"items": [{"sku": "SKU-1", "quantity": "2", "unit_price_cents": 100}]},
        {"items": [{"sku": "SKU-1", "quantity": 1.5, "unit_price_cents": 100}]},
        {"items": [{"sku": "SKU-1", "quantity": True, "unit_price_cents": 100}]},
        {"items": [{"sku": "SKU-1", "quantity": 1, "unit_price_cents": 0}]},
        {"items": [{"sku": "bad sku!", "quantity": 1, "unit_price_cents": 100}]},
        {"items": [{"sku": "SKU-1", "quantity": 1, "unit_price_cents": 1}] * 2},
        {"items": [{"sku": f"S{i}", "quantity": 1, "unit_price_cents": 1} for i in range(51)]},
        {"customer_email": "nope"},
        {"card": ""},
        {"extra": 1},
    ],
)
def test_invalid_order_is_400_and_nothing_is_stored(load, context, aws, change):
    ev = api_event("api_post_orders.json", body={**VALID, **change})
    response = load("orders.create_order").handler(ev, context)
    assert response["statusCode"] == 400, response
    assert body_of(response)["errors"]
    assert aws.orders.scan()["Count"] == 0
    assert aws.queue_messages() == []


def test_queue_failure_is_503_and_leaves_no_pending_order(load, context, aws, monkeypatch):
    monkeypatch.setenv("ORDERS_QUEUE_URL", aws.queue_url.replace("orders-queue", "no-such-queue"))
    response = load("orders.create_order").handler(event("api_post_orders.json"), context)
    assert response["statusCode"] == 503
    assert body_of(response) == {"message": "order could not be queued; please retry"}
    assert aws.orders.scan()["Count"] == 0


def _path_event(name: str, order_id: str, path: str) -> dict:
    ev = event(name)
    ev["path"] = path.format(order_id)
    ev["pathParameters"] = {"order_id": order_id}
    return ev


def test_get_order(load, context, aws):
    put_order(aws)
    module = load("orders.get_order")
    response = module.handler(_path_event("api_get_order.json", "o-1", "/orders/{}"), context)
    assert response["statusCode"] == 200
    body = body_of(response)
    assert body["status"] == "PENDING" and body["items"][0]["quantity"] == 2
    assert "card" not in body
    missing = module.handler(_path_event("api_get_order.json", "o-2", "/orders/{}"), context)
    assert missing["statusCode"] == 404


@pytest.fixture
def state_machine(aws, monkeypatch):
    arn = aws.sfn.create_state_machine(
        name="orders",
        definition=json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}),
        roleArn="arn:aws:iam::123456789012:role/sfn",
    )["stateMachineArn"]
    monkeypatch.setenv("STATE_MACHINE_ARN", arn)
    return arn


def test_checkout_starts_one_execution_named_after_the_order(load, context, aws, state_machine):
    put_order(aws)
    module = load("orders.checkout")
    ev = _path_event("api_checkout_order.json", "o-1", "/orders/{}/checkout")
    response = module.handler(ev, context)
    assert response["statusCode"] == 202
    body = body_of(response)
    assert body["order_id"] == "o-1" and body["execution_arn"].endswith(":o-1")
    described = aws.sfn.describe_execution(executionArn=body["execution_arn"])
    assert json.loads(described["input"]) == {"order_id": "o-1"}
    executions = aws.sfn.list_executions(stateMachineArn=state_machine)["executions"]
    assert [e["name"] for e in executions] == ["o-1"]


def test_checkout_twice_after_completion_is_409(load, context, aws, state_machine, monkeypatch):
    put_order(aws)
    module = load("orders.checkout")
    ev = _path_event("api_checkout_order.json", "o-1", "/orders/{}/checkout")
    assert module.handler(ev, context)["statusCode"] == 202

    # moto only raises ExecutionAlreadyExists for a *running* duplicate; AWS raises it for a
    # finished one, which is the case this maps to 409.
    from botocore.exceptions import ClientError

    def already_exists(**_: object) -> dict:
        raise ClientError({"Error": {"Code": "ExecutionAlreadyExists"}}, "StartExecution")

    monkeypatch.setattr(module.sfn, "start_execution", already_exists)
    response = module.handler(ev, context)
    assert response["statusCode"] == 409
    assert body_of(response) == {"message": "checkout has already run for this order"}


def test_checkout_unknown_order_is_404(load, context, aws, state_machine):
    module = load("orders.checkout")
    ev = _path_event("api_checkout_order.json", "nope", "/orders/{}/checkout")
    assert module.handler(ev, context)["statusCode"] == 404
    assert aws.sfn.list_executions(stateMachineArn=state_machine)["executions"] == []
