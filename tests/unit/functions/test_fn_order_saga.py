"""Order saga steps, and the ASL run in-process against the real step handlers.

`run_saga` is a deliberately small interpreter for the subset of ASL the saga uses (Task with
Catch/ResultPath, Fail), enough to drive every branch with moto; LocalStack's Step Functions
runs the same file in the integration tests.
"""

from __future__ import annotations

import copy
import importlib
import json
from pathlib import Path
from typing import Any

import pytest
from fnhelpers import event, put_order

ASL = json.loads(
    (
        Path(__file__).resolve().parents[3] / "statemachines" / "order_processing.asl.json"
    ).read_text()
)
STEPS = {
    "ValidateOrderFunctionArn": "orders.validate",
    "ProcessPaymentFunctionArn": "orders.payment",
    "ReserveInventoryFunctionArn": "orders.inventory",
    "SendConfirmationFunctionArn": "orders.confirm",
    "RefundPaymentFunctionArn": "orders.refund",
    "RecordFailureFunctionArn": "orders.record_failure",
}


def _stored(aws, order_id: str = "o-1") -> dict[str, Any]:
    return aws.orders.get_item(Key={"order_id": order_id})["Item"]


def _stock(aws, sku: str) -> int:
    return int(aws.inventory.get_item(Key={"sku": sku})["Item"]["stock"])


@pytest.fixture
def steps(load, context):
    load("common.settings")  # fresh import of the app packages, once for all steps
    modules = {arn: importlib.import_module(name) for arn, name in STEPS.items()}
    return {arn: (lambda ev, m=m: m.handler(ev, context)) for arn, m in modules.items()}


def run_saga(
    steps, payload: dict[str, Any], execution_id: str = "arn:exec:1"
) -> tuple[str, list[str], dict[str, Any]]:
    """Run the ASL; returns (SUCCEEDED|FAILED, visited states, final data)."""
    data = payload
    name = ASL["StartAt"]
    visited: list[str] = []
    for _ in range(20):
        state = ASL["States"][name]
        visited.append(name)
        if state["Type"] == "Fail":
            return "FAILED", visited, data
        assert state["Type"] == "Task"
        resource = state["Resource"].removeprefix("${").removesuffix("}")
        try:
            # JSON round trip: what crosses Step Functions must be plain JSON
            task_input = _parameters(state.get("Parameters"), data, execution_id)
            result = json.loads(json.dumps(steps[resource](json.loads(json.dumps(task_input)))))
        except Exception as e:  # noqa: BLE001 - mirrors Lambda turning any error into errorType
            error = type(e).__name__
            catch = next(
                (
                    c
                    for c in state.get("Catch", [])
                    if {error, "States.ALL"} & set(c["ErrorEquals"])
                ),
                None,
            )
            if catch is None:
                raise
            cause = json.dumps({"errorMessage": str(e), "errorType": error, "stackTrace": []})
            data = _put(data, catch.get("ResultPath", "$"), {"Error": error, "Cause": cause})
            name = catch["Next"]
            continue
        data = _put(data, state.get("ResultPath", "$"), result)
        if state.get("End"):
            return "SUCCEEDED", visited, data
        name = state["Next"]
    raise AssertionError("saga did not terminate")


def _parameters(params: dict[str, str] | None, data: dict[str, Any], execution_id: str) -> Any:
    if params is None:
        return data
    out = {}
    for key, path in params.items():
        assert key.endswith(".$"), key
        if path == "$$.Execution.Id":
            out[key[:-2]] = execution_id
        else:
            out[key[:-2]] = data[path.removeprefix("$.")]
    return out


def _put(data: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    if path == "$":
        return value
    out = copy.deepcopy(data)
    out[path.removeprefix("$.")] = value
    return out


# ------------------------------------------------------------------ branches, end to end


def test_valid_order_completes(steps, aws):
    put_order(aws)
    status, visited, data = run_saga(steps, {"order_id": "o-1"})
    assert status == "SUCCEEDED"
    assert visited == ["ValidateOrder", "ProcessPayment", "ReserveInventory", "SendConfirmation"]
    stored = _stored(aws)
    assert stored["status"] == "COMPLETED" and stored["payment"]["status"] == "CHARGED"
    assert stored["inventory_reserved"] is True
    assert _stock(aws, "SKU-1") == 98
    assert aws.emails_sent() == 1
    assert data["payment"]["payment_id"] == stored["payment"]["payment_id"]


@pytest.mark.parametrize(
    "fields",
    [
        {"items": []},
        {"items": [{"sku": "SKU-1", "quantity": -1, "unit_price_cents": 100}]},
        {
            "items": [{"sku": "SKU-NOPE", "quantity": 1, "unit_price_cents": 100}],
            "amount_cents": 100,
        },
        {"amount_cents": 1},
    ],
)
def test_invalid_order_fails_with_validation_error(steps, aws, fields):
    put_order(aws, **fields)
    status, visited, _ = run_saga(steps, {"order_id": "o-1"})
    assert status == "FAILED"
    assert visited == ["ValidateOrder", "RecordFailure", "OrderFailed"]
    stored = _stored(aws)
    assert stored["status"] == "FAILED" and stored["failure_reason"] == "ValidationError"
    assert "payment" not in stored and _stock(aws, "SKU-1") == 100


def test_unknown_order_fails_without_creating_one(steps, aws):
    status, visited, data = run_saga(steps, {"order_id": "ghost"})
    assert (status, visited) == ("FAILED", ["ValidateOrder", "RecordFailure", "OrderFailed"])
    assert data["failure"] == {"recorded": False, "reason": "ValidationError"}
    assert aws.orders.get_item(Key={"order_id": "ghost"}).get("Item") is None


@pytest.mark.parametrize(
    "fields",
    [
        {"card": "declined"},
        {
            "items": [{"sku": "SKU-1", "quantity": 1000, "unit_price_cents": 101}],
            "amount_cents": 101000,
        },
    ],
)
def test_payment_failure_refunds_and_records(steps, aws, fields):
    put_order(aws, **fields)
    status, visited, data = run_saga(steps, {"order_id": "o-1"})
    assert status == "FAILED"
    assert visited == [
        "ValidateOrder",
        "ProcessPayment",
        "RefundPayment",
        "RecordFailure",
        "OrderFailed",
    ]
    stored = _stored(aws)
    assert stored["status"] == "FAILED" and stored["failure_reason"] == "PaymentError"
    assert "payment" not in stored and data["refund"] == {"refunded": False}
    assert _stock(aws, "SKU-1") == 100


def test_out_of_stock_refunds_the_charge(steps, aws):
    put_order(
        aws,
        items=[
            {"sku": "SKU-1", "quantity": 1, "unit_price_cents": 100},
            {"sku": "SKU-OUT", "quantity": 1, "unit_price_cents": 999},
        ],
        amount_cents=1099,
    )
    status, visited, data = run_saga(steps, {"order_id": "o-1"})
    assert status == "FAILED"
    assert visited == [
        "ValidateOrder",
        "ProcessPayment",
        "ReserveInventory",
        "RefundPayment",
        "RecordFailure",
        "OrderFailed",
    ]
    stored = _stored(aws)
    assert stored["status"] == "FAILED" and stored["failure_reason"] == "InventoryError"
    assert stored["failure_message"] == "insufficient stock for SKU-OUT"
    assert stored["payment"]["status"] == "REFUNDED" and data["refund"] == {"refunded": True}
    # all or nothing: SKU-1 was not taken either
    assert _stock(aws, "SKU-1") == 100 and _stock(aws, "SKU-OUT") == 0
    assert "inventory_reserved" not in stored


def test_second_execution_cannot_take_over_a_claimed_order(steps, aws):
    # GIVEN execution 1 has validated (claimed) the order and is still running
    put_order(aws)
    steps["ValidateOrderFunctionArn"]({"order_id": "o-1", "execution_id": "arn:exec:1"})
    # WHEN a second execution for the same order runs
    status, visited, data = run_saga(steps, {"order_id": "o-1"}, execution_id="arn:exec:2")
    # THEN it fails at validation and leaves the order to its owner
    assert (status, visited) == ("FAILED", ["ValidateOrder", "RecordFailure", "OrderFailed"])
    assert data["failure"]["recorded"] is False
    assert _stored(aws)["status"] == "PENDING"
    # AND the owner still completes it
    assert run_saga(steps, {"order_id": "o-1"}, execution_id="arn:exec:1")[0] == "SUCCEEDED"
    assert _stored(aws)["status"] == "COMPLETED" and _stock(aws, "SKU-1") == 98


def test_repeated_execution_charges_once_and_does_not_reopen(steps, aws):
    put_order(aws)
    assert run_saga(steps, {"order_id": "o-1"})[0] == "SUCCEEDED"
    first_payment = _stored(aws)["payment"]
    # a second execution for the same order is rejected by validation; the outcome stays
    status, visited, _ = run_saga(steps, {"order_id": "o-1"})
    assert (status, visited) == ("FAILED", ["ValidateOrder", "RecordFailure", "OrderFailed"])
    stored = _stored(aws)
    assert stored["status"] == "COMPLETED" and stored["payment"] == first_payment
    assert _stock(aws, "SKU-1") == 98


# ------------------------------------------------------------------ single steps


def test_payment_retry_returns_the_same_charge(steps, aws):
    put_order(aws)
    first = steps["ProcessPaymentFunctionArn"](event("saga_order.json") | {"order_id": "o-1"})
    again = steps["ProcessPaymentFunctionArn"](event("saga_order.json") | {"order_id": "o-1"})
    assert first == again and first["status"] == "CHARGED"
    assert _stored(aws)["payment"]["payment_id"] == first["payment_id"]


def test_payment_charged_earlier_is_not_charged_again(load, aws, context):
    # even past the idempotency window, the charge on the order is the source of truth
    put_order(aws, payment={"payment_id": "pay_old", "amount_cents": 2500, "status": "CHARGED"})
    module = load("orders.payment")
    module.idempotency_config.register_lambda_context(context)
    result = module.charge_order(
        order={"order_id": "o-1", "amount_cents": 2500, "card": "tok_visa"}
    )
    assert result["payment_id"] == "pay_old"


def test_declined_payment_raises_payment_error(steps, aws):
    put_order(aws, card="declined")
    with pytest.raises(Exception) as info:
        steps["ProcessPaymentFunctionArn"](event("saga_order_declined.json") | {"order_id": "o-1"})
    assert type(info.value).__name__ == "PaymentError"
    assert str(info.value) == "card declined"


def test_reserve_inventory_retry_takes_stock_once(steps, aws):
    put_order(aws)
    order = event("saga_order.json") | {"order_id": "o-1"}
    assert steps["ReserveInventoryFunctionArn"](order) == {"reserved": True}
    assert steps["ReserveInventoryFunctionArn"](order) == {"reserved": True}
    assert _stock(aws, "SKU-1") == 98


def test_out_of_stock_raises_inventory_error(steps, aws):
    put_order(aws)
    with pytest.raises(Exception) as info:
        steps["ReserveInventoryFunctionArn"](
            event("saga_order_out_of_stock.json") | {"order_id": "o-1"}
        )
    assert type(info.value).__name__ == "InventoryError"


def test_refund_and_record_failure_from_sample_event(steps, aws):
    put_order(aws, payment={"payment_id": "pay_1", "amount_cents": 999, "status": "CHARGED"})
    failure = event("saga_failure.json") | {"order_id": "o-1"}
    assert steps["RefundPaymentFunctionArn"](failure) == {"refunded": True}
    assert steps["RefundPaymentFunctionArn"](failure) == {"refunded": False}
    assert steps["RecordFailureFunctionArn"](failure) == {
        "recorded": True,
        "reason": "InventoryError",
    }
    assert steps["RecordFailureFunctionArn"](failure) == {
        "recorded": False,
        "reason": "InventoryError",
    }
    stored = _stored(aws)
    assert stored["payment"]["status"] == "REFUNDED"
    assert stored["failure_message"] == "insufficient stock for SKU-OUT"


def test_record_failure_stores_only_our_own_messages_and_ignores_completed(load, aws):
    module = load("orders.record_failure")
    put_order(aws, "o-2")
    put_order(aws, "o-3", status="COMPLETED")
    put_order(aws, "o-4")
    timeout = {"Error": "States.Timeout", "Cause": "task timed out"}
    assert module.record({"order_id": "o-2", "error": timeout}) == {
        "recorded": True,
        "reason": "States.Timeout",
    }
    assert _stored(aws, "o-2")["failure_message"] == module.GENERIC_MESSAGE
    assert module.record({"order_id": "o-3", "error": timeout})["recorded"] is False
    assert _stored(aws, "o-3")["status"] == "COMPLETED"
    # an unexpected exception's text (here botocore's) never reaches GET /orders
    internal = "An error occurred (ResourceNotFoundException) when calling the UpdateItem ..."
    crash = {
        "Error": "ClientError",
        "Cause": json.dumps({"errorMessage": internal, "errorType": "ClientError"}),
    }
    assert module.record({"order_id": "o-4", "error": crash})["recorded"] is True
    stored = _stored(aws, "o-4")
    assert stored["failure_reason"] == "ClientError"
    assert stored["failure_message"] == module.GENERIC_MESSAGE


def test_confirmation_marks_completed_and_emails(steps, aws):
    put_order(aws, status="PROCESSING")
    result = steps["SendConfirmationFunctionArn"](event("saga_order.json") | {"order_id": "o-1"})
    assert result["status"] == "COMPLETED"
    assert _stored(aws)["status"] == "COMPLETED" and aws.emails_sent() == 1


def test_validate_returns_only_what_the_saga_needs(steps, aws):
    put_order(aws)
    out = steps["ValidateOrderFunctionArn"](event("saga_start.json") | {"order_id": "o-1"})
    assert out == {
        "order_id": "o-1",
        "customer_email": "ada@example.com",
        "items": [{"sku": "SKU-1", "quantity": 2, "unit_price_cents": 1250}],
        "card": "tok_visa",
        "amount_cents": 2500,
    }


@pytest.mark.parametrize("payload", [{}, {"order_id": ""}, {"order_id": 5}, {"order_id": "x" * 65}])
def test_validate_rejects_bad_input(steps, aws, payload):
    with pytest.raises(Exception) as info:
        steps["ValidateOrderFunctionArn"](payload)
    assert type(info.value).__name__ == "ValidationError"


def test_asl_routes_the_typed_errors_as_the_seed_does():
    states = ASL["States"]

    def catch_target(state: str, error: str) -> str:
        return next(c["Next"] for c in states[state]["Catch"] if error in c["ErrorEquals"])

    assert catch_target("ValidateOrder", "ValidationError") == "RecordFailure"
    assert catch_target("ProcessPayment", "PaymentError") == "RefundPayment"
    assert catch_target("ReserveInventory", "InventoryError") == "RefundPayment"
    assert states["RefundPayment"]["Next"] == "RecordFailure"
    assert states["RecordFailure"]["Next"] == "OrderFailed"
    assert states["OrderFailed"]["Type"] == "Fail"
    assert states["SendConfirmation"]["End"] is True
    placeholders = {s["Resource"] for s in states.values() if s["Type"] == "Task"}
    assert placeholders == {f"${{{key}}}" for key in STEPS}
