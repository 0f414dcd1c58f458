"""The order saga (Step Functions): ValidateOrder -> ProcessPayment -> ReserveInventory ->
SendConfirmation, with Catch -> RefundPayment -> RecordFailure -> OrderFailed.

All executions start together in one module fixture (they run concurrently in LocalStack);
each test then waits for its own and checks the outcome recorded on the order.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pytest

from polling import wait_until
from stack import mails_to

from .helpers import App, unique

pytestmark = pytest.mark.integration

SAGA_TIMEOUT_S = 60


@dataclass
class Saga:
    order_id: str
    email: str
    executions: list[str] = field(default_factory=list)


@pytest.fixture(scope="module")
def skus(app: App):
    """Inventory items of our own (stock 10 each), so stock changes can be asserted exactly.

    One per branch that reserves stock: concurrent transactions on one item are not what these
    tests are about.
    """
    ddb, table = app.client("dynamodb"), app.name("INVENTORY_TABLE")
    made = {}
    for branch in ("success", "payment", "repeated"):
        sku = unique("SKU").upper()
        ddb.put_item(
            TableName=table,
            Item={"sku": {"S": sku}, "stock": {"N": "10"}, "name": {"S": "test item"}},
        )
        made[branch] = sku
    yield made
    for sku in made.values():
        ddb.delete_item(TableName=table, Key={"sku": {"S": sku}})


@pytest.fixture(scope="module")
def sagas(app: App, skus: dict[str, str]):
    """Create one order per branch through POST /orders and start its execution(s)."""
    sfn = app.client("stepfunctions")
    branches = {
        "success": dict(sku=skus["success"], quantity=2, card="tok_visa"),
        "validation": dict(sku=unique("SKU-UNKNOWN"), quantity=1, card="tok_visa"),
        "payment": dict(sku=skus["payment"], quantity=1, card="declined"),
        "out_of_stock": dict(sku="SKU-OUT", quantity=1, card="tok_visa"),
        # started twice at once: the charge and the stock must be taken once
        "repeated": dict(sku=skus["repeated"], quantity=3, card="tok_visa"),
    }
    runs: dict[str, Saga] = {}
    for branch, spec in branches.items():
        email = f"{unique(branch.replace('_', '-'))}@example.com"
        status, order = app.http(
            "POST",
            "/orders",
            {
                "customer_email": email,
                "items": [
                    {"sku": spec["sku"], "quantity": spec["quantity"], "unit_price_cents": 500}
                ],
                "card": spec["card"],
            },
        )
        assert status == 201, order
        runs[branch] = Saga(order["order_id"], email)
    for branch, saga in runs.items():
        for n in range(2 if branch == "repeated" else 1):
            resp = sfn.start_execution(
                stateMachineArn=app.outputs["StateMachineArn"],
                name=f"{saga.order_id}-{n}",
                input=json.dumps({"order_id": saga.order_id}),
            )
            saga.executions.append(resp["executionArn"])
    yield runs
    ddb = app.client("dynamodb")
    for saga in runs.values():
        ddb.delete_item(TableName=app.name("ORDERS_TABLE"), Key={"order_id": {"S": saga.order_id}})


def finished(app: App, execution_arn: str) -> dict[str, Any]:
    sfn = app.client("stepfunctions")

    def done():
        desc = sfn.describe_execution(executionArn=execution_arn)
        assert desc["status"] != "RUNNING", f"{execution_arn} still RUNNING"
        return desc

    return wait_until(done, timeout=SAGA_TIMEOUT_S, interval=0.3, what="execution end")


def failed_states(app: App, execution_arn: str) -> list[str]:
    """Names of the task states whose Lambda failed, in order."""
    history = app.client("stepfunctions").get_execution_history(
        executionArn=execution_arn, maxResults=1000
    )["events"]
    names, current = [], None
    for ev in history:
        if ev["type"] == "TaskStateEntered":
            current = ev["stateEnteredEventDetails"]["name"]
        elif ev["type"] in ("LambdaFunctionFailed", "TaskFailed"):
            names.append(current)
    return names


def order(app: App, order_id: str) -> dict[str, Any]:
    status, body = app.http("GET", f"/orders/{order_id}")
    assert status == 200, body
    return body


def stock(app: App, sku: str) -> int:
    item = app.client("dynamodb").get_item(
        TableName=app.name("INVENTORY_TABLE"), Key={"sku": {"S": sku}}, ConsistentRead=True
    )["Item"]
    return int(item["stock"]["N"])


def test_success_completes_charges_and_confirms(app: App, sagas, skus) -> None:
    saga = sagas["success"]
    desc = finished(app, saga.executions[0])
    assert desc["status"] == "SUCCEEDED", desc
    output = json.loads(desc["output"])
    got = order(app, saga.order_id)
    assert got["status"] == "COMPLETED"
    assert got["payment"]["status"] == "CHARGED"
    assert got["payment"]["amount_cents"] == 1000
    assert output["payment"]["payment_id"] == got["payment"]["payment_id"]
    assert got["inventory_reserved"] is True
    assert stock(app, skus["success"]) == 10 - 2
    # a confirmation mail (subject "... confirmed") besides the queue consumer's "received" one
    wait_until(
        lambda: [m for m in mails_to(saga.email) if "confirmed" in m["Subject"]],
        timeout=10,
        what="confirmation mail",
    )


def test_validation_failure_records_failed_without_charge(app: App, sagas) -> None:
    saga = sagas["validation"]
    desc = finished(app, saga.executions[0])
    assert desc["status"] == "FAILED"
    assert desc.get("error") == "OrderProcessingFailed"
    assert failed_states(app, saga.executions[0]) == ["ValidateOrder"]
    got = order(app, saga.order_id)
    assert got["status"] == "FAILED"
    assert got["failure_reason"] == "ValidationError"
    assert "unknown sku" in got["failure_message"]
    assert "payment" not in got


def test_payment_failure_refund_step_runs_nothing_charged(app: App, sagas, skus) -> None:
    saga = sagas["payment"]
    desc = finished(app, saga.executions[0])
    assert desc["status"] == "FAILED"
    assert failed_states(app, saga.executions[0]) == ["ProcessPayment"]
    got = order(app, saga.order_id)
    assert got["status"] == "FAILED"
    assert got["failure_reason"] == "PaymentError"
    assert "payment" not in got
    assert not got.get("inventory_reserved")
    assert stock(app, skus["payment"]) == 10


def test_out_of_stock_refunds_the_charge(app: App, sagas) -> None:
    saga = sagas["out_of_stock"]
    stock_before = stock(app, "SKU-OUT")
    desc = finished(app, saga.executions[0])
    assert desc["status"] == "FAILED"
    assert failed_states(app, saga.executions[0]) == ["ReserveInventory"]
    got = order(app, saga.order_id)
    assert got["status"] == "FAILED"
    assert got["failure_reason"] == "InventoryError"
    assert got["payment"]["status"] == "REFUNDED"
    assert got["payment"].get("refunded_at")
    assert stock(app, "SKU-OUT") == stock_before == 0


def test_repeated_execution_charges_and_reserves_once(app: App, sagas, skus) -> None:
    saga = sagas["repeated"]
    results = [finished(app, arn) for arn in saga.executions]
    got = order(app, saga.order_id)
    # THEN the order completed once, with one payment ...
    assert got["status"] == "COMPLETED", got
    assert got["payment"]["status"] == "CHARGED"
    payment_ids = {
        json.loads(r["output"])["payment"]["payment_id"]
        for r in results
        if r["status"] == "SUCCEEDED"
    }
    assert payment_ids == {got["payment"]["payment_id"]}
    # ... and a second run that got past validation saw the same charge (idempotent payment);
    # one that started after completion was refused by ValidateOrder and changed nothing.
    for r in results:
        if r["status"] == "FAILED":
            assert failed_states(app, r["executionArn"]) == ["ValidateOrder"]
    # AND the stock was taken once
    assert stock(app, skus["repeated"]) == 10 - 3


def test_checkout_route_starts_saga_once(app: App, sagas) -> None:
    # GIVEN an order whose saga already completed (under another execution name)
    done = sagas["success"]
    finished(app, done.executions[0])
    charged = order(app, done.order_id)["payment"]
    # WHEN it is checked out through the API (the execution is named after the order)
    status, body = app.http("POST", f"/orders/{done.order_id}/checkout")
    assert status == 202, body
    # THEN ValidateOrder refuses the COMPLETED order: the run fails and charges nothing
    desc = finished(app, body["execution_arn"])
    assert desc["status"] == "FAILED"
    assert failed_states(app, body["execution_arn"]) == ["ValidateOrder"]
    after = order(app, done.order_id)
    assert after["status"] == "COMPLETED"
    assert after["payment"] == charged
    # AND a second checkout of the same order is a 409, an unknown order a 404
    status, body = app.http("POST", f"/orders/{done.order_id}/checkout")
    assert status == 409, body
    status, body = app.http("POST", f"/orders/{unique('nope')}/checkout")
    assert status == 404, body
