"""Which APIs the partial Lambda update patch calls (no LocalStack: the comparison only)."""

from __future__ import annotations

from localstack_hostmode.patches import registry
from localstack_hostmode.patches.cloudformation_lambda_updates import changed_parts

PREVIOUS = {
    "FunctionName": "app-get-user",
    "Code": {"S3Bucket": "app-artifacts", "S3Key": "code/functions-aaaa.zip"},
    "Handler": "users.get_user.handler",
    "Runtime": "python3.13",
    "Timeout": 15,
    "Environment": {"Variables": {"LOG_LEVEL": "INFO"}},
    "Role": "arn:aws:iam::000000000000:role/app-get-user-role",
}


def with_(**changes: object) -> dict[str, object]:
    return {**PREVIOUS, **changes}


def test_handler_edit_updates_the_code_only() -> None:
    desired = with_(Code={"S3Bucket": "app-artifacts", "S3Key": "code/functions-bbbb.zip"})

    assert changed_parts(PREVIOUS, desired) == {"code"}


def test_configuration_change_updates_the_configuration_only() -> None:
    desired = with_(Environment={"Variables": {"LOG_LEVEL": "DEBUG"}})

    assert changed_parts(PREVIOUS, desired) == {"config"}


def test_removed_configuration_key_is_a_configuration_change() -> None:
    desired = {k: v for k, v in PREVIOUS.items() if k != "Timeout"}

    assert changed_parts(PREVIOUS, desired) == {"config"}


def test_both_changed_and_no_change() -> None:
    desired = with_(Code={"ZipFile": "x"}, MemorySize=512)

    assert changed_parts(PREVIOUS, desired) == {"code", "config"}
    assert changed_parts(PREVIOUS, dict(PREVIOUS)) == set()


def test_rename_or_unknown_previous_state_is_left_to_upstream() -> None:
    assert changed_parts(PREVIOUS, with_(FunctionName="app-get-user-2")) is None
    assert changed_parts({}, PREVIOUS) is None
    assert changed_parts(None, PREVIOUS) is None


def test_partial_updates_apply_before_the_fast_waits_wrap_them() -> None:
    modules = list(registry.PATCH_MODULES)

    assert modules.index("cloudformation_lambda_updates") < modules.index(
        "cloudformation_lambda_waits")
