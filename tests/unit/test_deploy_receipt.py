"""The no-change redeploy (deploy_receipt.py): a receipt answers it only while the inputs, the
LocalStack process and the stack are the ones deployed; anything else gets a real deploy.

A fake LocalStack on 127.0.0.1 answers the check's few requests as LocalStack 4.14 does.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit
from xml.sax.saxutils import escape

import pytest

import cfn_deploy
import deploy
import deploy_receipt
import stack as st

ROOT = Path(__file__).resolve().parents[2]
STACK = "receipt-test"
NS = "http://cloudformation.amazonaws.com/doc/2010-05-15/"
CHANGED = "the stack is gone or changed"


class FakeLocalStack:
    """What the check reads: the process, one stack, a table, a bucket's notifications and the
    event source mappings; a test changes them as LocalStack would change."""

    def __init__(self) -> None:
        self.session = "session-1"
        self.stack: dict[str, Any] | None = {
            "StackId": f"arn:aws:cloudformation:us-east-1:000000000000:stack/{STACK}/1",
            "StackStatus": "CREATE_COMPLETE", "CreationTime": "2026-01-01T00:00:00Z",
            "LastUpdatedTime": "2026-01-01T00:00:00Z", "ChangeSetId": "cs-1",
            "Parameters": {"UsersTableStreamArn": "arn:stream/1", "StageName": "dev"},
            "Outputs": {"ApiUrl": "https://abc.execute-api.us-east-1.amazonaws.com/dev/"},
        }
        self.template = '{"Resources":{}}'
        self.stream = "arn:stream/1"
        self.notification = "<NotificationConfiguration><Id>ours</Id></NotificationConfiguration>"
        self.mapping_state = "Enabled"
        self.requests: list[str] = []

    def describe_stacks(self) -> tuple[int, str]:
        if self.stack is None:
            return 400, "<ErrorResponse><Error><Message>Stack does not exist</Message></Error>"\
                        "</ErrorResponse>"
        s = self.stack
        fields = "".join(f"<{k}>{escape(s[k])}</{k}>" for k in (
            "StackId", "StackStatus", "CreationTime", "LastUpdatedTime", "ChangeSetId"))
        params = "".join(f"<member><ParameterKey>{k}</ParameterKey><ParameterValue>{escape(v)}"
                         "</ParameterValue></member>" for k, v in s["Parameters"].items())
        outputs = "".join(f"<member><OutputKey>{k}</OutputKey><OutputValue>{escape(v)}"
                          "</OutputValue></member>" for k, v in s["Outputs"].items())
        return 200, (f'<DescribeStacksResponse xmlns="{NS}"><DescribeStacksResult><Stacks>'
                     f"<member>{fields}<Parameters>{params}</Parameters><Outputs>{outputs}"
                     "</Outputs></member></Stacks></DescribeStacksResult>"
                     "</DescribeStacksResponse>")

    def answer(self, method: str, path: str, headers: Any, body: bytes) -> tuple[int, str]:
        url = urlsplit(path)
        self.requests.append(f"{method} {url.path}")
        if url.path == "/_localstack/info":
            return 200, json.dumps({"session_id": self.session})
        if url.path == "/2015-03-31/event-source-mappings/":
            arn = f"arn:aws:lambda:us-east-1:000000000000:function:{STACK}-welcome"
            return 200, json.dumps({"EventSourceMappings": [
                {"FunctionArn": arn, "State": self.mapping_state, "UUID": "u"}]})
        if url.path == "/images-bucket" and url.query == "notification":
            return 200, self.notification
        if headers.get("X-Amz-Target") == "DynamoDB_20120810.DescribeTable":
            return 200, json.dumps({"Table": {"LatestStreamArn": self.stream}})
        action = parse_qs(body.decode()).get("Action", [""])[0]
        if action == "DescribeStacks":
            return self.describe_stacks()
        if action == "GetTemplate" and self.stack is not None:
            return 200, (f'<GetTemplateResponse xmlns="{NS}"><GetTemplateResult><TemplateBody>'
                         f"{escape(self.template)}</TemplateBody></GetTemplateResult>"
                         "</GetTemplateResponse>")
        return 400, "<ErrorResponse/>"


@pytest.fixture
def fake_localstack(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeLocalStack]:
    fake = FakeLocalStack()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def handle_one(self, method: str) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            status, text = fake.answer(method, self.path, self.headers, body)
            data = text.encode()
            self.send_response(status)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:  # noqa: N802 (http.server's names)
            self.handle_one("GET")

        def do_POST(self) -> None:  # noqa: N802
            self.handle_one("POST")

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{server.server_address[1]}")
    yield fake
    server.shutdown()
    server.server_close()


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A template and its code directory; receipts in the test's own directory."""
    monkeypatch.setattr(deploy_receipt, "RECEIPTS_DIR", tmp_path / "receipts")
    for name in [k for k in os.environ if k.startswith("PARAM_")]:
        monkeypatch.delenv(name)
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "app.py").write_text("def handler(e, c): return 1\n")
    (tmp_path / "template.yaml").write_text("Resources: {}\n")
    return tmp_path


def record(project: Path) -> None:
    """What deploy.run keeps after a successful deploy of `project`."""
    src = project / "src"
    deploy_receipt.record(
        STACK, deploy_receipt.inputs(project / "template.yaml", False),
        {str(src): deploy_receipt.artifact_digest(src)}, {"UsersTableStreamArn": "users"},
        [f"{STACK}-welcome"], {"ApiUrl": "http://127.0.0.1/restapis/abc/dev/_user_request_"},
        "s3://images-bucket/uploads/* -> thumbnail")


def check(project: Path) -> dict[str, Any] | str:
    return deploy_receipt.check(project / "template.yaml", STACK, False)


def test_a_receipt_answers_an_unchanged_redeploy(fake_localstack: FakeLocalStack,
                                                 project: Path) -> None:
    # GIVEN a deploy's receipt WHEN nothing changed THEN the check returns it
    record(project)
    receipt = check(project)
    assert isinstance(receipt, dict), receipt
    assert receipt["outputs"]["ApiUrl"].endswith("/_user_request_")
    assert receipt["wired"] == "s3://images-bucket/uploads/* -> thumbnail"


@pytest.mark.parametrize(
    ("change", "why"),
    [
        (lambda f: setattr(f, "session", "session-2"), "LocalStack restarted"),
        (lambda f: setattr(f, "stack", None), "the stack is gone"),
        # UpdateStack in LocalStack 4.14 keeps LastUpdatedTime and ChangeSetId: the template
        (lambda f: setattr(f, "template", '{"Resources":{"X":{}}}'), CHANGED),
        (lambda f: f.stack.update(StackStatus="UPDATE_IN_PROGRESS"), CHANGED),
        (lambda f: f.stack["Parameters"].update(StageName="prod"), CHANGED),
        (lambda f: setattr(f, "stream", "arn:stream/2"), "table users has a new stream"),
        (lambda f: setattr(f, "notification", "<NotificationConfiguration/>"),
         "the notifications of images-bucket changed"),
        (lambda f: setattr(f, "mapping_state", "Creating"), "event source mappings not settled"),
    ],
    ids=["restarted", "stack-deleted", "updated-elsewhere", "in-progress", "parameters",
         "table-recreated", "rewired", "mapping-starting"],
)
def test_localstack_or_the_stack_changed_gets_a_real_deploy(
        fake_localstack: FakeLocalStack, project: Path, change: Any, why: str) -> None:
    # GIVEN a deploy's receipt
    record(project)
    # WHEN LocalStack or the stack is no longer what the deploy left
    change(fake_localstack)
    # THEN the check says why a deploy is due
    reason = check(project)
    assert isinstance(reason, str) and reason.startswith(why), reason


@pytest.mark.parametrize(
    ("change", "why"),
    [
        (lambda p, env: (p / "src" / "app.py").write_text("def handler(e, c): return 2\n"),
         "changed"),
        (lambda p, env: (p / "src" / "new.py").write_text("x = 1\n"), "changed"),
        (lambda p, env: (p / "template.yaml").write_text("Resources: {X: {}}\n"), "the template"),
        (lambda p, env: env.setenv("PARAM_StageName", "prod"), "the template"),
        (lambda p, env: env.setenv("USERS_TABLE", "other-users"), "the template"),
        (lambda p, env: env.setenv("HOT_RELOAD", "1") or setattr(
            deploy_receipt, "hot_reload_from_env", lambda: True), "the template"),
    ],
    ids=["code-edit", "code-added", "template", "param-override", "data-layer-name",
         "hot-reload"],
)
def test_changed_inputs_get_a_real_deploy_without_asking_localstack(
        fake_localstack: FakeLocalStack, project: Path, monkeypatch: pytest.MonkeyPatch,
        change: Any, why: str) -> None:
    # GIVEN a deploy's receipt
    record(project)
    fake_localstack.requests.clear()
    # WHEN an input of the deploy changed
    monkeypatch.setattr(deploy_receipt, "hot_reload_from_env", deploy_receipt.hot_reload_from_env)
    change(project, monkeypatch)
    # THEN a deploy is due, and LocalStack was not even asked
    reason = deploy_receipt.check(project / "template.yaml", STACK,
                                  deploy_receipt.hot_reload_from_env())
    assert isinstance(reason, str) and why in reason, reason
    assert fake_localstack.requests == []


def test_bytecode_next_to_the_code_is_no_change(fake_localstack: FakeLocalStack,
                                                project: Path) -> None:
    record(project)
    (project / "src" / "__pycache__").mkdir()
    (project / "src" / "__pycache__" / "app.cpython-313.pyc").write_bytes(b"compiled")
    assert isinstance(check(project), dict)


def test_against_aws_there_is_no_receipt(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "https://cloudformation.us-east-1.amazonaws.com")
    record(project)  # no request is sent (the network guard would fail the test)
    assert not (project / "receipts").exists()
    assert check(project) == "not a LocalStack"


def test_a_localstack_that_does_not_answer_the_record_leaves_no_receipt(
        project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # nothing listens there
    record(project)  # the deploy itself succeeded: no error
    assert check(project) == "no receipt of a previous deploy"


def test_a_failed_or_running_deploy_leaves_no_receipt(fake_localstack: FakeLocalStack,
                                                      project: Path) -> None:
    record(project)
    deploy_receipt.forget(STACK)  # what deploy.run does before it deploys
    assert check(project) == "no receipt of a previous deploy"


def test_run_answers_from_the_receipt_and_deploys_when_it_does_not_hold(
        fake_localstack: FakeLocalStack, project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(st, "write_outputs", lambda name, outputs: written.append(outputs))
    written: list[dict[str, str]] = []
    record(project)

    # WHEN nothing changed THEN run answers without building anything
    def full_path(*args: Any) -> None:
        raise AssertionError("the full deploy ran")

    monkeypatch.setattr(deploy, "load_template", full_path)
    result = deploy.run(project / "template.yaml", STACK, hot_reload=False)
    assert result.status == "unchanged" and written == [result.outputs]

    # WHEN LocalStack restarted THEN run deploys, and forgets the receipt first
    fake_localstack.session = "session-2"
    with pytest.raises(AssertionError, match="the full deploy ran"):
        deploy.run(project / "template.yaml", STACK, hot_reload=False)
    assert not deploy_receipt.receipt_path(STACK).exists()


def test_consumers_are_checked_only_when_the_stack_changes(monkeypatch: pytest.MonkeyPatch
                                                           ) -> None:
    deployed = ('{"Resources":{}}', [{"ParameterKey": "A", "ParameterValue": "1"}])
    monkeypatch.setattr(cfn_deploy, "_settled_status", lambda name: "UPDATE_COMPLETE")
    monkeypatch.setattr(cfn_deploy, "deployed_template", lambda name: deployed)
    checked: list[str] = []

    def refuse() -> None:
        checked.append("checked")
        raise st.DeployError("a second consumer")

    # WHEN the template and parameters are the deployed ones THEN nothing is checked
    assert cfn_deploy.deploy_stack("s", deployed[0], deployed[1], "b", refuse) == "unchanged"
    assert checked == []
    # WHEN they differ THEN the check runs before any change set, and may refuse
    with pytest.raises(st.DeployError, match="a second consumer"):
        cfn_deploy.deploy_stack("s", '{"Resources":{"X":{}}}', deployed[1], "b", refuse)
    assert checked == ["checked"]


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        ([], (st.ROOT / "template.yaml", None, None)),
        (["--template", "t.yaml", "--stack-name=s", "--hot-reload"], (Path("t.yaml"), "s", True)),
        (["--help"], None),
        (["--template"], None),
        (["--stack", "s"], None),
    ],
)
def test_the_early_exit_reads_the_options_deploy_main_takes(argv: list[str], expected: Any
                                                            ) -> None:
    assert deploy_receipt.simple_args(argv) == expected
    if expected is not None:  # deploy.main's parser reads them the same way
        args = deploy_receipt.cli_parser("d").parse_args(argv)
        assert (args.template, args.stack_name, args.hot_reload) == expected


def test_an_unchanged_deploy_exits_before_boto3_is_imported(
        fake_localstack: FakeLocalStack, project: Path, tmp_path: Path) -> None:
    # GIVEN a receipt in the repo's own .build/ (the script runs in a process of its own)
    stack_name = f"{STACK}-{os.getpid()}"
    env = {**os.environ, "STACK_OUTPUTS_FILE": str(tmp_path / "outputs.json"),
           "STACK_NAME": stack_name}
    src = project / "src"
    code = f"""
import json, runpy, sys
sys.path[:0] = [{str(ROOT / 'scripts')!r}, {str(ROOT / 'plugins')!r}]
import deploy_receipt
deploy_receipt.RECEIPTS_DIR = __import__('pathlib').Path({str(project / 'receipts')!r})
deploy_receipt.record({stack_name!r}, deploy_receipt.inputs(
    __import__('pathlib').Path({str(project / 'template.yaml')!r}), False),
    {{{str(src)!r}: deploy_receipt.artifact_digest(__import__('pathlib').Path({str(src)!r}))}},
    {{"UsersTableStreamArn": "users"}}, [], {{"Out": "v"}}, None)
sys.argv = ["deploy.py", "--template", {str(project / 'template.yaml')!r}]
try:
    runpy.run_path({str(ROOT / 'scripts' / 'deploy.py')!r}, run_name="__main__")
except SystemExit as e:
    print("exit", e.code, "boto3" in sys.modules, "botocore" in sys.modules)
"""
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                          text=True, timeout=60)
    # THEN it printed the outputs as a deploy does and exited without boto3
    assert proc.stdout.strip().endswith("exit 0 False False"), proc.stdout + proc.stderr
    assert f"stack {stack_name}: unchanged" in proc.stdout
    assert json.loads((tmp_path / "outputs.json").read_text())["Out"] == "v"
