"""The data-layer spec (functions/common/data_layer.json) is the one source of its names and
shapes: what cannot read it directly (template.yaml's defaults) is checked against it here, and
scripts/data_layer.py's apply is run against moto (no network)."""

from __future__ import annotations

import json
import re
from typing import Any

import boto3
import pytest
from moto import mock_aws

import artifacts
import data_layer
import deploy
import stack as st
from common.settings import Settings

SPEC = data_layer.load_spec()
NAMES = data_layer.names(SPEC, environ={})
TEMPLATE = artifacts.load_template(st.ROOT / "template.yaml")


def test_template_parameter_defaults_are_the_spec_names() -> None:
    params = TEMPLATE["Parameters"]
    for parameter, (var, kind) in data_layer.template_parameters(SPEC).items():
        assert parameter in params, f"the spec names {parameter}: not in template.yaml"
        if kind == "name":
            assert params[parameter].get("Default") == NAMES[var], (
                f"template.yaml {parameter} Default differs from the spec's {var}={NAMES[var]}"
            )
        else:  # a stream ARN exists only once the table does: the deploy looks it up
            assert "Default" not in params[parameter]


def test_every_parameter_naming_the_data_layer_gets_its_value_from_the_spec(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for var in NAMES:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("ORDERS_TABLE", "orders-x")
    for parameter, (var, kind) in data_layer.template_parameters(SPEC).items():
        if kind == "name":
            expected = "orders-x" if var == "ORDERS_TABLE" else NAMES[var]
            assert deploy.resolve_parameter(parameter, None) == expected


def test_settings_defaults_are_the_spec_names(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in (*NAMES, "SENDER_EMAIL"):
        monkeypatch.delenv(var, raising=False)
    settings = Settings.from_env()
    assert (settings.users_table, settings.orders_table, settings.inventory_table,
            settings.idempotency_table, settings.archive_bucket, settings.sender_email) == (
        NAMES["USERS_TABLE"], NAMES["ORDERS_TABLE"], NAMES["INVENTORY_TABLE"],
        NAMES["IDEMPOTENCY_TABLE"], NAMES["ARCHIVE_BUCKET"], NAMES["SES_SENDER"])


def test_init_aws_sets_no_names_itself() -> None:
    init = (st.ROOT / "init-aws.sh").read_text()
    for var, name in NAMES.items():
        assert not re.search(rf"\b{var}=|\${{{var}:-|[\"']{re.escape(name)}[\"']", init), (
            f"init-aws.sh sets {var} itself: the spec is the one source")


def test_names_are_overridden_by_their_env_vars() -> None:
    got = data_layer.names(SPEC, environ={"USERS_TABLE": "u2", "SES_SENDER": ""})
    assert got["USERS_TABLE"] == "u2"
    assert got["SES_SENDER"] == "orders@example.com"  # empty means unset, as in the shell


@pytest.fixture
def moto_clients(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)  # moto intercepts AWS endpoints only
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        clients: dict[str, Any] = {}

        def client(service: str) -> Any:
            return clients.setdefault(service, boto3.client(service, region_name="us-east-1"))

        yield client


def test_apply_creates_the_spec_and_a_second_run_keeps_live_data(
    moto_clients, capsys: pytest.CaptureFixture[str]
) -> None:
    # WHEN the data layer is applied
    assert data_layer.Applier(SPEC, moto_clients, environ={}).apply() == 0
    ddb, sqs = moto_clients("dynamodb"), moto_clients("sqs")
    users = ddb.describe_table(TableName="users")["Table"]
    # THEN the tables have the spec's keys, index and stream
    assert users["KeySchema"] == [{"AttributeName": "user_id", "KeyType": "HASH"}]
    assert [i["IndexName"] for i in users["GlobalSecondaryIndexes"]] == ["email-index"]
    assert users["StreamSpecification"]["StreamViewType"] == "NEW_AND_OLD_IMAGES"
    ttl = ddb.describe_time_to_live(TableName="idempotency")["TimeToLiveDescription"]
    assert ttl == {"TimeToLiveStatus": "ENABLED", "AttributeName": "expiration"}
    queue = sqs.get_queue_url(QueueName="orders-queue")["QueueUrl"]
    attrs = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["All"])["Attributes"]
    assert attrs["VisibilityTimeout"] == "10"
    redrive = json.loads(attrs["RedrivePolicy"])
    assert redrive["deadLetterTargetArn"] == "arn:aws:sqs:us-east-1:123456789012:orders-dlq"
    assert int(redrive["maxReceiveCount"]) == 3
    # GIVEN live stock WHEN it runs again THEN everything exists and the stock is kept
    ddb.update_item(TableName="inventory", Key={"sku": {"S": "SKU-1"}},
                    UpdateExpression="SET stock = :s", ExpressionAttributeValues={":s": {"N": "7"}})
    ddb.delete_item(TableName="inventory", Key={"sku": {"S": "SKU-2"}})
    capsys.readouterr()
    assert data_layer.Applier(SPEC, moto_clients, environ={}).apply() == 0
    err = capsys.readouterr().err
    assert "table users: exists" in err and "stream events-stream: exists" in err
    stock = {sku: ddb.get_item(TableName="inventory", Key={"sku": {"S": sku}})["Item"]["stock"]["N"]
             for sku in ("SKU-1", "SKU-2", "SKU-OUT")}
    assert stock == {"SKU-1": "7", "SKU-2": "25", "SKU-OUT": "0"}


def test_apply_reports_each_failure_and_carries_on(moto_clients, capsys) -> None:
    names = {"ORDERS_DLQ": "not a valid queue name!"}
    failed = data_layer.Applier(SPEC, moto_clients, environ=names).apply()
    err = capsys.readouterr().err
    # the DLQ fails, so does the queue that redrives to it; the rest is created
    assert failed == 2
    assert "FAILED: ORDERS_DLQ=not a valid queue name!" in err
    assert "bucket images-bucket: created" in err


def test_apply_has_localstack_load_the_spec_services_kinesis_first(
    warm_requests: list,
) -> None:
    # GIVEN the spec, and a LocalStack that answers anything
    sent = warm_requests

    # WHEN apply warms the services before it imports boto3
    data_layer.warm_services(data_layer.load_spec(), "http://127.0.0.1:4999/").join(10)

    # THEN one request per section, routed by signing name (and target), Kinesis first
    services = [re.search(r"/(\w+)/aws4_request", h["authorization"]).group(1)
                for _, h, _ in sent]
    assert services == ["kinesis", "dynamodb", "s3", "sqs", "ses"]
    assert sent[0][1]["x-amz-target"] == "Kinesis_20131202.ListStreams"
    assert sent[2][0] == "http://127.0.0.1:4999/" and sent[2][2] is None  # S3: GET /
    assert sent[4][2].startswith(b"Action=ListIdentities")
