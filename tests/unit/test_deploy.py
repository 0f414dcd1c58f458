"""Unit tests for scripts/deploy.py, artifacts.py, app_wiring.py, stack.py and polling.py
(no network: moto for S3)."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

import app_wiring
import artifacts
import deploy
import polling
import stack as st

TEMPLATE = """\
AWSTemplateFormatVersion: '2010-09-09'
Transform: AWS::Serverless-2016-10-31
Parameters:
  DependenciesLayerArn: {Type: String}
  UsersTableName: {Type: String, Default: users}
  OrdersQueueUrl: {Type: String}
Globals:
  Function:
    CodeUri: functions/
    Layers: [!Ref DependenciesLayerArn]
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Handler: users.create_user.handler
      Environment:
        Variables:
          TABLE: !Ref UsersTableName
          ARN: !GetAtt Other.Arn
          SUB: !Sub "${AWS::Region}-x"
  Other:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: functions/
      Handler: users.get_user.handler
  Machine:
    Type: AWS::Serverless::StateMachine
    Properties:
      DefinitionUri: statemachines/sm.asl.json
"""


@pytest.fixture(autouse=True)
def parse_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Parsed templates are cached in the test's own directory, not the repo's .build/."""
    cache = tmp_path / "template-parsed"
    monkeypatch.setattr(artifacts, "TEMPLATE_CACHE", cache)
    return cache


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "functions" / "users").mkdir(parents=True)
    (tmp_path / "functions" / "users" / "create_user.py").write_text("def handler(e, c): ...\n")
    (tmp_path / "functions" / "users" / "__pycache__").mkdir()
    (tmp_path / "functions" / "users" / "__pycache__" / "x.cpython-313.pyc").write_bytes(b"junk")
    (tmp_path / "statemachines").mkdir()
    (tmp_path / "statemachines" / "sm.asl.json").write_text('{"StartAt": "A", "States": {}}')
    (tmp_path / "template.yaml").write_text(TEMPLATE)
    return tmp_path


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)  # moto intercepts AWS endpoints only
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setattr(st, "_clients", {})
    monkeypatch.setattr(st, "_session", None)
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        monkeypatch.setattr(
            st, "client", lambda service, **_: boto3.client(service, region_name="us-east-1")
        )
        yield client


def test_load_template_turns_cfn_tags_into_intrinsics(project: Path) -> None:
    tpl = artifacts.load_template(project / "template.yaml")
    env = tpl["Resources"]["Fn"]["Properties"]["Environment"]["Variables"]
    assert env["TABLE"] == {"Ref": "UsersTableName"}
    assert env["ARN"] == {"Fn::GetAtt": ["Other", "Arn"]}
    assert env["SUB"] == {"Fn::Sub": "${AWS::Region}-x"}
    json.dumps(tpl)  # plain data, ready to send as a JSON template


def test_load_template_reads_the_app_template_as_cfn_lint_does() -> None:
    # GIVEN the real template, with every short-form tag it uses
    from cfnlint.decode import cfn_yaml

    path = st.ROOT / "template.yaml"

    # WHEN deploy.py parses it (SAM's parser, no cfn-lint import on the deploy path)
    ours = artifacts.load_template(path)

    # THEN the result is what cfn-lint's loader gives, so the deployed body does not change
    assert ours == json.loads(json.dumps(cfn_yaml.load(str(path))))
    assert ours["Resources"], "template has resources"


def test_load_template_short_forms(tmp_path: Path) -> None:
    path = tmp_path / "t.yaml"
    path.write_text(
        "Conditions:\n"
        "  IsProd: !Equals [!Ref Stage, prod]\n"
        "Resources:\n"
        "  R:\n"
        "    Type: X\n"
        "    Condition: IsProd\n"
        "    Properties:\n"
        "      A: !GetAtt Fn.Outputs.Arn\n"
        "      B: !If [IsProd, !Sub '${AWS::Region}', !Ref 'AWS::NoValue']\n"
        "      C: !Join ['', [!Select [0, !Split [',', 'a,b']], !Base64 x]]\n"
        "      D: !Condition IsProd\n"
    )
    tpl = artifacts.load_template(path)
    assert tpl["Conditions"]["IsProd"] == {"Fn::Equals": [{"Ref": "Stage"}, "prod"]}
    props = tpl["Resources"]["R"]["Properties"]
    assert props["A"] == {"Fn::GetAtt": ["Fn", "Outputs.Arn"]}
    assert props["B"] == {
        "Fn::If": ["IsProd", {"Fn::Sub": "${AWS::Region}"}, {"Ref": "AWS::NoValue"}]
    }
    assert props["C"] == {
        "Fn::Join": ["", [{"Fn::Select": [0, {"Fn::Split": [",", "a,b"]}]}, {"Fn::Base64": "x"}]]
    }
    assert props["D"] == {"Condition": "IsProd"}
    from cfnlint.decode import cfn_yaml

    assert tpl == json.loads(json.dumps(cfn_yaml.load(str(path))))


def test_load_template_parses_each_content_once(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a template parsed once
    path = project / "template.yaml"
    first = artifacts.load_template(path)

    # WHEN it is loaded again unchanged, with the parser broken
    import samtranslator.yaml_helper

    def broken(text: str) -> None:
        raise AssertionError("parsed again")

    monkeypatch.setattr(samtranslator.yaml_helper, "yaml_parse", broken)

    # THEN the cached result is used, equal to the first
    assert artifacts.load_template(path) == first

    # AND an edited template is parsed again
    path.write_text(TEMPLATE.replace("users.get_user", "users.list_users"))
    with pytest.raises(AssertionError, match="parsed again"):
        artifacts.load_template(path)


def test_load_template_of_an_empty_file_is_empty(tmp_path: Path) -> None:
    path = tmp_path / "empty.yaml"
    path.write_text("")
    assert artifacts.load_template(path) == {}


def test_tree_hash_ignores_bytecode_and_tracks_content(project: Path) -> None:
    src = project / "functions"
    first = artifacts.tree_hash(src)
    (src / "users" / "__pycache__" / "y.pyc").write_bytes(b"more junk")
    assert artifacts.tree_hash(src) == first
    (src / "users" / "create_user.py").write_text("def handler(e, c): return 1\n")
    assert artifacts.tree_hash(src) != first


def test_zip_is_deterministic_and_excludes_caches(project: Path) -> None:
    src = project / "functions"
    a = artifacts.zip_tree(src)
    b = artifacts.zip_tree(src)
    assert a == b
    names = zipfile.ZipFile(io.BytesIO(a)).namelist()
    assert names == ["users/create_user.py"]


def test_package_uploads_each_artifact_once_by_content_hash(project: Path, s3) -> None:
    s3.create_bucket(Bucket="arts")
    tpl = artifacts.load_template(project / "template.yaml")
    out = artifacts.package_template(tpl, artifacts.Packager("arts", project, hot_reload=False))

    code = out["Globals"]["Function"]["CodeUri"]
    assert code["Bucket"] == "arts" and code["Key"].startswith("code/functions-")
    assert out["Resources"]["Other"]["Properties"]["CodeUri"] == code
    sm = out["Resources"]["Machine"]["Properties"]["DefinitionUri"]
    assert sm["Key"].startswith("files/sm.asl-") and sm["Key"].endswith(".json")
    keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket="arts")["Contents"])
    assert keys == sorted([code["Key"], sm["Key"]])
    body = s3.get_object(Bucket="arts", Key=code["Key"])["Body"].read()
    assert zipfile.ZipFile(io.BytesIO(body)).namelist() == ["users/create_user.py"]


def test_hot_reload_points_code_at_the_source_directory(project: Path, s3) -> None:
    s3.create_bucket(Bucket="arts")
    tpl = artifacts.load_template(project / "template.yaml")
    out = artifacts.package_template(tpl, artifacts.Packager("arts", project, hot_reload=True))
    assert out["Globals"]["Function"]["CodeUri"] == {
        "Bucket": "hot-reload",
        "Key": str((project / "functions").resolve()),
    }
    # The state machine definition still goes through S3.
    assert out["Resources"]["Machine"]["Properties"]["DefinitionUri"]["Bucket"] == "arts"


def test_parameters_from_layer_data_layer_env_and_overrides(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tpl = artifacts.load_template(project / "template.yaml")
    monkeypatch.setenv("USERS_TABLE", "users-x")
    monkeypatch.setenv("PARAM_OrdersQueueUrl", "http://q")  # explicit override, no lookup
    params = {
        p["ParameterKey"]: p["ParameterValue"] for p in deploy.stack_parameters(tpl, "arn:l:1")
    }
    assert params == {
        "DependenciesLayerArn": "arn:l:1",
        "UsersTableName": "users-x",
        "OrdersQueueUrl": "http://q",
    }


def test_required_parameter_without_value_is_a_clear_error(project: Path) -> None:
    tpl = artifacts.load_template(project / "template.yaml")
    with pytest.raises(deploy.DeployError, match="OrdersQueueUrl"):
        deploy.stack_parameters(tpl, "arn:l:1")


def test_requirements_hash_changes_with_requirements(tmp_path: Path) -> None:
    req = tmp_path / "r.txt"
    req.write_text("pillow==13.0.0\n")
    first = artifacts.requirements_hash(req)
    assert artifacts.requirements_hash(req) == first
    req.write_text("pillow==12.0.0\n")
    assert artifacts.requirements_hash(req) != first


@pytest.mark.parametrize(
    ("url", "endpoint", "expected"),
    [
        (
            "https://abc123.execute-api.us-east-1.amazonaws.com/Prod",
            "http://127.0.0.1:4566",
            "http://127.0.0.1:4566/restapis/abc123/Prod/_user_request_",
        ),
        (
            "https://abc123.execute-api.us-east-1.amazonaws.com/dev/",
            "http://localhost:4572/",
            "http://localhost:4572/restapis/abc123/dev/_user_request_",
        ),
        (
            "https://abc123.execute-api.us-east-1.amazonaws.com/Prod",
            "https://lambda.us-east-1.amazonaws.com",
            "https://abc123.execute-api.us-east-1.amazonaws.com/Prod",
        ),
    ],
)
def test_api_url_rewrite(url: str, endpoint: str, expected: str) -> None:
    assert st.api_url_for_endpoint(url, endpoint) == expected


def test_wait_until_returns_value_and_reraises_last_assertion() -> None:
    calls = iter([None, 0, "ok"])
    assert polling.wait_until(lambda: next(calls), timeout=5, interval=0) == "ok"

    def never() -> None:
        raise AssertionError("still 3 items")

    with pytest.raises(AssertionError, match="still 3 items"):
        polling.wait_until(never, timeout=0.05, interval=0.01)


def test_thumbnail_notification_replaces_overlaps_keeps_others_and_is_idempotent(
    s3, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(app_wiring, "_s3_may_invoke", lambda fn, bucket: True)
    s3.create_bucket(Bucket="images-bucket")
    old_fn = "arn:aws:lambda:us-east-1:123456789012:function:old-thumbnail"
    other_fn = "arn:aws:lambda:us-east-1:123456789012:function:other"
    new_fn = "arn:aws:lambda:us-east-1:123456789012:function:app-thumbnail"

    def rule(fn: str, id_: str, prefix: str) -> dict:
        return {
            "Id": id_,
            "LambdaFunctionArn": fn,
            "Events": ["s3:ObjectCreated:*"],
            "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": prefix}]}},
        }

    # moto does not check that the functions exist
    s3.put_bucket_notification_configuration(
        Bucket="images-bucket",
        NotificationConfiguration={
            "LambdaFunctionConfigurations": [
                rule(old_fn, "old-stack-thumbnail", "uploads/"),
                rule(other_fn, "keep-me", "docs/"),
            ]
        },
        SkipDestinationValidation=True,
    )
    put_calls = []
    real_put = s3.put_bucket_notification_configuration

    def spy(**kwargs):
        put_calls.append(kwargs)
        return real_put(**kwargs, SkipDestinationValidation=True)

    monkeypatch.setattr(st, "client", lambda service, **_: s3 if service == "s3" else None)
    monkeypatch.setattr(s3, "put_bucket_notification_configuration", spy)

    app_wiring.wire_thumbnail_notification("app", {"ThumbnailFunctionArn": new_fn})
    configs = s3.get_bucket_notification_configuration(Bucket="images-bucket")[
        "LambdaFunctionConfigurations"
    ]
    assert sorted((c["Id"], c["LambdaFunctionArn"]) for c in configs) == [
        ("app-thumbnail", new_fn),
        ("keep-me", other_fn),
    ]
    assert len(put_calls) == 1
    app_wiring.wire_thumbnail_notification("app", {"ThumbnailFunctionArn": new_fn})
    assert len(put_calls) == 1  # already wired: no write


@pytest.fixture
def lam(s3, monkeypatch: pytest.MonkeyPatch):
    """moto Lambda next to the s3 fixture's S3 (st.client serves both)."""
    client = boto3.client("lambda", region_name="us-east-1")
    monkeypatch.setattr(st, "client", lambda service, **_: client if service == "lambda" else s3)
    return client


def test_layer_with_the_same_requirements_is_shared_across_stacks(
    tmp_path: Path, s3, lam, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN another stack's layer version built from the same requirements
    reqs = tmp_path / "functions.txt"
    reqs.write_text("pydantic==2.12.5\n")
    tag = f"requirements sha256:{artifacts.requirements_hash(reqs)[:16]}"
    other = lam.publish_layer_version(
        LayerName="other-dependencies", Description=tag,
        Content={"ZipFile": b"PK\x05\x06" + bytes(18)},  # an empty zip
        CompatibleRuntimes=[artifacts.LAYER_RUNTIME])

    def no_build(requirements: Path) -> None:
        raise AssertionError("built the layer again")

    monkeypatch.setattr(artifacts, "build_layer", no_build)

    # WHEN a new stack needs the layer
    arn = artifacts.publish_layer("new-stack", "new-stack-artifacts", reqs)

    # THEN it uses that version; nothing is built or published
    assert arn == other["LayerVersionArn"]
    assert lam.list_layer_versions(LayerName="new-stack-dependencies")["LayerVersions"] == []

    # AND other requirements are not matched by it
    reqs.write_text("pydantic==2.12.4\n")
    with pytest.raises(AssertionError, match="built the layer again"):
        artifacts.publish_layer("new-stack", "new-stack-artifacts", reqs)

    # AND the stack's own layer, once it has a matching version, is preferred
    reqs.write_text("pydantic==2.12.5\n")
    own = lam.publish_layer_version(
        LayerName="new-stack-dependencies", Description=tag,
        Content={"ZipFile": b"PK\x05\x06" + bytes(18)},
        CompatibleRuntimes=[artifacts.LAYER_RUNTIME])
    arn = artifacts.publish_layer("new-stack", "new-stack-artifacts", reqs)
    assert arn == own["LayerVersionArn"]


def test_a_layer_list_localstack_cannot_answer_falls_back_to_the_stacks_own_layer(
    tmp_path: Path, s3, lam, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN the stack's own layer version, and a LocalStack whose ListLayers fails (4.14, once
    # a layer lost its last version)
    monkeypatch.setattr(artifacts, "is_local", lambda: True)
    reqs = tmp_path / "functions.txt"
    reqs.write_text("pydantic==2.12.5\n")
    tag = f"requirements sha256:{artifacts.requirements_hash(reqs)[:16]}"
    own = lam.publish_layer_version(
        LayerName="s-dependencies", Description=tag,
        Content={"ZipFile": b"PK\x05\x06" + bytes(18)},
        CompatibleRuntimes=[artifacts.LAYER_RUNTIME])

    class Failing:
        def paginate(self, **kwargs: object) -> None:
            raise ClientError({"Error": {"Code": "InternalError",
                                         "Message": "list index out of range"}}, "ListLayers")

    monkeypatch.setattr(lam, "get_paginator", lambda name: Failing())
    monkeypatch.setattr(artifacts, "build_layer", lambda requirements: pytest.fail("built"))

    # WHEN the stack deploys THEN its own version is found by name, nothing is built
    assert artifacts.publish_layer("s", "s-artifacts", reqs) == own["LayerVersionArn"]


def test_services_to_warm_follow_the_template(project: Path) -> None:
    body = json.dumps(artifacts.load_template(project / "template.yaml"), separators=(",", ":"))

    assert deploy.services_to_warm(body) == ["lambda", "cloudformation", "iam", "sts", "states"]
    assert deploy.services_to_warm("{}") == []
    app = artifacts.load_template(st.ROOT / "template.yaml")
    assert deploy.services_to_warm(json.dumps(app, separators=(",", ":"))) == [
        "lambda", "cloudformation", "iam", "sts", "states", "apigateway", "events"]


def test_warming_asks_only_services_localstack_has_not_loaded(
    monkeypatch: pytest.MonkeyPatch, warm_requests: list
) -> None:
    # GIVEN a LocalStack that runs IAM already
    sent = warm_requests
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:4999")
    monkeypatch.setattr(deploy, "localstack_health",
                        lambda: {"services": {"iam": "running", "sts": "available"}})

    # WHEN the deploy warms the services of the app's template
    deploy._warm_all(["iam", "sts", "states", "apigateway"])

    # THEN one request each, for the services not running, routed by signing name or target
    assert [url for url, _, _ in sent] == ["http://127.0.0.1:4999/"] * 2 + [
        "http://127.0.0.1:4999/restapis"]
    sts, states, api = (headers for _, headers, _ in sent)
    assert "/sts/aws4_request" in sts["authorization"] and sent[0][2].startswith(b"Action=")
    assert states["x-amz-target"] == "AWSStepFunctions.ValidateStateMachineDefinition"
    assert states["content-type"] == "application/x-amz-json-1.0"
    assert "/apigateway/aws4_request" in api["authorization"] and sent[2][2] is None
