"""template.yaml: every function's handler exists, policies name actions, triggers are wired."""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import Any

import pytest

import artifacts

ROOT = Path(__file__).resolve().parents[3]
# deploy.py's parser, which tests/unit/test_deploy.py holds equal to cfn-lint's: importing
# cfn-lint at collection cost every xdist worker ~1 CPU-s
TEMPLATE = artifacts.load_template(ROOT / "template.yaml")
RESOURCES: dict[str, Any] = TEMPLATE["Resources"]
FUNCTIONS = {k: v for k, v in RESOURCES.items() if v["Type"] == "AWS::Serverless::Function"}


@pytest.mark.parametrize("logical_id", sorted(FUNCTIONS))
def test_handler_resolves(load, logical_id):
    module_name, _, attr = FUNCTIONS[logical_id]["Properties"]["Handler"].rpartition(".")
    load("common.settings")
    assert callable(getattr(importlib.import_module(module_name), attr))


def _statements(fn: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for p in fn["Properties"].get("Policies", []) for s in p.get("Statement", [])]


def _actions(statement: dict[str, Any]) -> list[str]:
    actions = statement["Action"]
    return actions if isinstance(actions, list) else [actions]


@pytest.mark.parametrize("logical_id", sorted(FUNCTIONS) + ["OrderStateMachine"])
def test_least_privilege_policies(logical_id):
    statements = _statements(RESOURCES[logical_id])
    assert statements, f"{logical_id} has no explicit policy"
    for statement in statements:
        for action in _actions(statement):
            assert "*" not in action, f"{logical_id}: wildcard action {action}"


def test_every_function_has_a_trigger_or_caller():
    invoked_by_saga = set(RESOURCES["OrderStateMachine"]["Properties"]["DefinitionSubstitutions"])
    for logical_id, fn in FUNCTIONS.items():
        has_event = bool(fn["Properties"].get("Events"))
        is_step = f"{logical_id}Arn" in invoked_by_saga
        is_s3 = logical_id == "ThumbnailFunction"
        assert has_event or is_step or is_s3, logical_id


def test_batch_consumers_report_item_failures():
    for logical_id in ("ProcessOrderQueueFunction", "WelcomeUserFunction", "ArchiveEventsFunction"):
        (trigger,) = FUNCTIONS[logical_id]["Properties"]["Events"].values()
        assert trigger["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]


def test_queue_consumer_timeout_fits_the_queue_visibility_timeout():
    # AWS refuses an SQS trigger whose function may run longer than the queue hides a message;
    # the queue is made by init-aws.sh from the data-layer spec, outside the stack, so the two
    # are checked together here.
    spec = json.loads((ROOT / "functions" / "common" / "data_layer.json").read_text())
    visibility = int(spec["queues"]["orders"]["attributes"]["VisibilityTimeout"])
    consumer = FUNCTIONS["ProcessOrderQueueFunction"]["Properties"]
    timeout = consumer.get("Timeout", TEMPLATE["Globals"]["Function"]["Timeout"])
    assert timeout <= visibility


def test_outputs_the_deploy_script_needs():
    for name in ("ApiUrl", "StateMachineArn", "OrdersQueueUrl", "ThumbnailFunctionArn"):
        assert name in TEMPLATE["Outputs"]
    for logical_id in FUNCTIONS:
        assert f"{logical_id}Name" in TEMPLATE["Outputs"]
    assert "DependenciesLayerArn" in TEMPLATE["Parameters"]
    assert "UsersTableStreamArn" in TEMPLATE["Parameters"]


# What each function's code calls (reviewed against functions/); LocalStack does not enforce
# IAM, so this is what keeps the template deployable to AWS when the code changes.
IDEMPOTENCY = {"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"}
REQUIRED_ACTIONS = {
    "CreateUserFunction": {"dynamodb:PutItem"},
    "GetUserFunction": {"dynamodb:GetItem"},
    "ListUsersFunction": {"dynamodb:Scan"},
    "CleanupInactiveUsersFunction": {"dynamodb:Scan", "dynamodb:DeleteItem"},
    "WelcomeUserFunction": {"ses:SendEmail"} | IDEMPOTENCY,
    "ThumbnailFunction": {"s3:GetObject", "s3:PutObject", "s3:ListBucket"},
    "CreateOrderFunction": {"dynamodb:PutItem", "dynamodb:DeleteItem", "sqs:SendMessage"},
    "GetOrderFunction": {"dynamodb:GetItem"},
    "CheckoutOrderFunction": {"dynamodb:GetItem", "states:StartExecution"},
    "ProcessOrderQueueFunction": {"ses:SendEmail", "sqs:ReceiveMessage", "sqs:DeleteMessage"}
    | IDEMPOTENCY,
    "ValidateOrderFunction": {"dynamodb:GetItem", "dynamodb:UpdateItem"},
    "ProcessPaymentFunction": IDEMPOTENCY,
    "ReserveInventoryFunction": {"dynamodb:UpdateItem", "dynamodb:GetItem"},
    "SendConfirmationFunction": {"dynamodb:UpdateItem", "ses:SendEmail"},
    "RefundPaymentFunction": {"dynamodb:UpdateItem"},
    "RecordFailureFunction": {"dynamodb:UpdateItem"},
    "ArchiveEventsFunction": {"s3:PutObject", "kinesis:GetRecords"},
}


def test_required_actions_are_granted():
    assert set(REQUIRED_ACTIONS) == set(FUNCTIONS)
    for logical_id, required in REQUIRED_ACTIONS.items():
        granted = set()
        for statement in _statements(FUNCTIONS[logical_id]):
            granted |= set(_actions(statement))
        assert required <= granted, f"{logical_id} lacks {sorted(required - granted)}"


SENDER_IDENTITY = (
    "arn:${AWS::Partition}:ses:${AWS::Region}:${AWS::AccountId}:identity/${SenderEmail}"
)
# Actions AWS authorizes only on Resource "*": scoped to an ARN they grant nothing.
STAR_ONLY_ACTIONS = {"kinesis:ListStreams", "sqs:ListQueues", "s3:ListAllMyBuckets"}


def _all_statements() -> list[tuple[str, dict[str, Any]]]:
    return [
        (logical_id, statement)
        for logical_id in sorted(FUNCTIONS) + ["OrderStateMachine"]
        for statement in _statements(RESOURCES[logical_id])
    ]


def test_ses_is_granted_on_the_sender_identity_only():
    senders = [(lid, s) for lid, s in _all_statements() if "ses:SendEmail" in _actions(s)]
    assert {lid for lid, _ in senders} == {
        "WelcomeUserFunction",
        "ProcessOrderQueueFunction",
        "SendConfirmationFunction",
    }
    for logical_id, statement in senders:
        assert statement["Resource"] == {"Fn::Sub": SENDER_IDENTITY}, logical_id


def test_star_only_actions_are_not_scoped_to_an_arn():
    for logical_id, statement in _all_statements():
        for action in STAR_ONLY_ACTIONS.intersection(_actions(statement)):
            assert statement["Resource"] == "*", f"{logical_id}: {action} on an ARN grants nothing"
