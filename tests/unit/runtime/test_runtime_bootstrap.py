"""Pure pieces of the host-mode Lambda runtime (runtime/: bootstrap and its modules; no processes,
no network)."""

from __future__ import annotations

import json
import os
import sys
import time
from decimal import Decimal
from pathlib import Path

import pytest

from localstack_hostmode.runtime import bootstrap, context, errors, frames, logs

RUNTIME_DIR = "/fake/runtime"


def _compile_into(namespace: dict, source: str, filename: str) -> None:
    exec(compile(source, filename, "exec"), namespace)


def _raise_through_runtime() -> BaseException:
    """Raise from 'user code' called by a 'runtime' frame, like bootstrap calling a handler."""
    namespace: dict = {}
    _compile_into(
        namespace,
        "def helper():\n    raise ValueError('bad order')\n\n"
        "def handler(event, context):\n    helper()\n",
        "/var/task/app.py",
    )
    _compile_into(
        namespace,
        "def run(handler):\n"
        "    try:\n"
        "        handler({}, None)\n"
        "    except Exception as e:\n"
        "        return e\n",
        f"{RUNTIME_DIR}/bootstrap.py",
    )
    return namespace["run"](namespace["handler"])


def test_make_error_has_aws_shape_and_defaults():
    assert errors.make_error("boom", "KeyError", ["frame"], "req-1") == {
        "errorMessage": "boom",
        "errorType": "KeyError",
        "requestId": "req-1",
        "stackTrace": ["frame"],
    }
    assert errors.make_error(None, None, None) == {
        "errorMessage": "",
        "errorType": "",
        "requestId": "",
        "stackTrace": [],
    }


def test_exception_error_keeps_only_user_frames():
    error = errors.build_exception_error(_raise_through_runtime(), "req-2", RUNTIME_DIR)

    assert error["errorType"] == "ValueError"
    assert error["errorMessage"] == "bad order"
    assert error["requestId"] == "req-2"
    assert len(error["stackTrace"]) == 2
    assert error["stackTrace"][0].startswith('  File "/var/task/app.py", line 5, in handler')
    assert error["stackTrace"][1].startswith('  File "/var/task/app.py", line 2, in helper')
    assert not any(RUNTIME_DIR in frame for frame in error["stackTrace"])


def test_user_frames_also_drops_leading_import_machinery():
    frames = [
        (f"{RUNTIME_DIR}/bootstrap.py", 1, "main", ""),
        ("/usr/lib/python3.13/importlib/__init__.py", 88, "import_module", ""),
        ("<frozen importlib._bootstrap>", 1387, "_gcd_import", ""),
        ("/var/task/app.py", 3, "<module>", "raise X"),
        (f"{RUNTIME_DIR}/bootstrap.py", 9, "callback", ""),  # a later runtime frame stays
    ]
    kept = errors.user_frames(frames, RUNTIME_DIR)
    assert [f[0] for f in kept] == ["/var/task/app.py", f"{RUNTIME_DIR}/bootstrap.py"]
    assert errors.user_frames(frames[:3], RUNTIME_DIR) == []


def test_error_log_is_one_cr_joined_line_with_nbsp_indentation():
    error = errors.make_error(
        "bad order",
        "ValueError",
        ['  File "/var/task/app.py", line 2, in helper\n    raise ValueError("bad order")\n'],
    )

    text = logs.format_error_log(error)

    assert text == (
        "[ERROR] ValueError: bad order\rTraceback (most recent call last):\r"
        '\u00a0\u00a0File "/var/task/app.py", line 2, in helper\r'
        '\u00a0\u00a0\u00a0\u00a0raise ValueError("bad order")\n'
    )
    assert text.count("\n") == 1  # one CloudWatch event


@pytest.fixture
def code_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    for name in ("hm_ok", "hm_broken", "hm_syntax", "hm_pkg", "hm_pkg.app"):
        sys.modules.pop(name, None)


def test_load_handler_resolves_module_and_function(code_dir: Path):
    (code_dir / "hm_ok.py").write_text("def handler(event, context):\n    return 42\n")
    assert bootstrap.load_handler("hm_ok.handler")({}, None) == 42


def test_load_handler_accepts_path_style_module(code_dir: Path):
    (code_dir / "hm_pkg").mkdir()
    (code_dir / "hm_pkg" / "__init__.py").write_text("")
    (code_dir / "hm_pkg" / "app.py").write_text("def main(event, context):\n    return 'pkg'\n")
    assert bootstrap.load_handler("hm_pkg/app.main")({}, None) == "pkg"


@pytest.mark.parametrize(
    ("files", "handler", "error_type", "message"),
    [
        (
            {"hm_broken.py": "import hm_missing_dependency\n"},
            "hm_broken.handler",
            "Runtime.ImportModuleError",
            "Unable to import module 'hm_broken': No module named 'hm_missing_dependency'",
        ),
        (
            {},
            "hm_absent.handler",
            "Runtime.ImportModuleError",
            "Unable to import module 'hm_absent': No module named 'hm_absent'",
        ),
        (
            {"hm_ok.py": "def handler(event, context):\n    return 1\n"},
            "hm_ok.nope",
            "Runtime.HandlerNotFound",
            "Handler 'nope' missing on module 'hm_ok'",
        ),
        (
            {},
            "nodots",
            "Runtime.MalformedHandlerName",
            "Bad handler 'nodots': not enough values to unpack (expected 2, got 1)",
        ),
        (
            {},
            "sys.handler",
            "Runtime.BuiltInModuleConflict",
            "Cannot use built-in module sys as a handler module",
        ),
    ],
)
def test_load_handler_faults_match_aws(code_dir, files, handler, error_type, message):
    for name, text in files.items():
        (code_dir / name).write_text(text)

    with pytest.raises(errors.FaultException) as exc:
        bootstrap.load_handler(handler)

    assert exc.value.exception_type == error_type
    assert exc.value.msg == message


def test_load_handler_syntax_error(code_dir: Path):
    (code_dir / "hm_syntax.py").write_text("def handler(:\n")
    with pytest.raises(errors.FaultException) as exc:
        bootstrap.load_handler("hm_syntax.handler")
    assert exc.value.exception_type == "Runtime.UserCodeSyntaxError"
    assert exc.value.msg.startswith("Syntax error in module 'hm_syntax': ")
    assert "hm_syntax.py" in exc.value.trace[0]


def test_marshal_response():
    assert bootstrap.marshal_response({"ü": 1}) == '{"ü": 1}'.encode()  # ensure_ascii=False
    assert bootstrap.marshal_response(b"\x00raw") == b"\x00raw"
    assert bootstrap.marshal_response(None) == b"null"
    assert json.loads(bootstrap.marshal_response({"n": Decimal("3"), "f": Decimal("1.25")})) == {
        "n": 3,
        "f": 1.25,
    }
    with pytest.raises(errors.FaultException) as exc:
        bootstrap.marshal_response({"s": {1}})
    assert exc.value.exception_type == "Runtime.MarshalError"
    assert (
        exc.value.msg == "Unable to marshal response: Object of type set is not JSON serializable"
    )


def test_unmarshal_request():
    assert bootstrap.unmarshal_request(b'{"a": [1]}') == {"a": [1]}
    with pytest.raises(errors.FaultException) as exc:
        bootstrap.unmarshal_request(b"{not json")
    assert exc.value.exception_type == "Runtime.UnmarshalError"
    assert exc.value.msg.startswith("Unable to unmarshal input: ")


def test_sys_path_order_code_layers_interpreter_runtime_lib():
    path = bootstrap.build_sys_path(
        initial_path=["/fake/runtime", "/user/pythonpath", "/py/lib/python3.13"],
        task_root="/code",
        layers=["/layers/first", "/layers/second"],
        runtime_lib="/runtime-lib",
        version="3.13",
        runtime_dir="/fake/runtime",
    )
    assert path == [
        "/code",
        "/layers/second/python/lib/python3.13/site-packages",
        "/layers/second/python",
        "/layers/first/python/lib/python3.13/site-packages",
        "/layers/first/python",
        "/user/pythonpath",
        "/py/lib/python3.13",
        "/runtime-lib",
    ]


def test_lambda_context_like_awslambdaric(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "fn")
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
    monkeypatch.setenv("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/fn")
    monkeypatch.setenv("AWS_LAMBDA_LOG_STREAM_NAME", "stream")
    client_context = context.parse_client_context(
        json.dumps({"custom": {"k": "v"}, "env": {"e": 1}, "client": {"app_title": "app"}})
    )
    deadline = int(time.time() * 1000) + 3000

    ctx = context.LambdaContext("req", client_context, None, deadline, "arn:fn")

    assert (ctx.aws_request_id, ctx.function_name, ctx.memory_limit_in_mb) == ("req", "fn", "256")
    assert (ctx.function_version, ctx.invoked_function_arn) == ("$LATEST", "arn:fn")
    assert (ctx.log_group_name, ctx.log_stream_name) == ("/aws/lambda/fn", "stream")
    assert ctx.client_context.custom == {"k": "v"}
    assert ctx.client_context.env == {"e": 1}
    assert ctx.client_context.client.app_title == "app"
    assert ctx.client_context.client.installation_id is None
    assert ctx.identity.cognito_identity_id is None
    assert 0 < ctx.get_remaining_time_in_millis() <= 3000
    assert context.LambdaContext("r", None, None, 0).get_remaining_time_in_millis() == 0
    assert context.LambdaContext("r", None, None, 0).client_context is None


def test_bad_client_context_is_a_context_unmarshal_fault():
    assert context.parse_client_context(None) is None
    with pytest.raises(errors.FaultException) as exc:
        context.parse_client_context("{nope")
    assert exc.value.exception_type == "Runtime.LambdaContextUnmarshalError"


def test_frames_round_trip_through_a_pipe():
    read_fd, write_fd = os.pipe()
    try:
        frames.write_frame(write_fd, frames.KIND_OK, b"\x00" * 8, b"payload")
        with os.fdopen(os.dup(read_fd), "rb") as reader:
            header = frames.read_exact(reader, frames.FRAME_HEADER_SIZE)
            assert header[:1] == frames.KIND_OK
            body = frames.read_exact(reader, int.from_bytes(header[1:], "big"))
        assert body == b"\x00" * 8 + b"payload"
    finally:
        os.close(read_fd)
        os.close(write_fd)


def _header(**extra) -> dict:
    return {"id": "req-9", "arn": "arn:fn", "deadline": int(time.time() * 1000) + 1000, **extra}


def test_handle_invocation_ok_error_and_too_large(capsys: pytest.CaptureFixture[str]):
    def handler(event, context):
        if event.get("fail"):
            raise KeyError("missing")
        return {"echo": event, "rid": context.aws_request_id}

    kind, body = bootstrap.handle_invocation(handler, _header(), b'{"a": 1}')
    assert (kind, json.loads(body)) == (
        frames.KIND_OK,
        {"echo": {"a": 1}, "rid": "req-9"},
    )

    kind, body = bootstrap.handle_invocation(handler, _header(), b'{"fail": true}')
    error = json.loads(body)
    assert kind == frames.KIND_ERROR
    assert (error["errorType"], error["errorMessage"], error["requestId"]) == (
        "KeyError",
        "'missing'",
        "req-9",
    )
    assert "[ERROR] KeyError: 'missing'\r" in capsys.readouterr().out

    kind, body = bootstrap.handle_invocation(handler, _header(), b'{"a": 1}', response_limit=10)
    assert kind == frames.KIND_TOO_LARGE
    assert int.from_bytes(body, "big") > 10


def test_handle_invocation_sets_and_clears_the_trace_id(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("_X_AMZN_TRACE_ID", raising=False)
    seen = []

    def handler(event, context):
        seen.append(os.environ.get("_X_AMZN_TRACE_ID"))

    bootstrap.handle_invocation(handler, _header(trace="Root=1-abc"), b"{}")
    bootstrap.handle_invocation(handler, _header(), b"{}")
    assert seen == ["Root=1-abc", None]


def test_claimed_spare_takes_the_functions_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    # GIVEN a spare process's environment (with the interpreter's coerced LC_CTYPE)
    monkeypatch.setattr(os, "environ", {"PATH": "/bin", "LC_CTYPE": "C.UTF-8", "SPARE": "1"})
    monkeypatch.chdir(tmp_path)
    code = tmp_path / "code"
    code.mkdir()
    claim = json.dumps(
        {"env": {"MY_VAR": "v", "TZ": ":UTC"}, "cwd": str(code), "config": {"layers": ["/l"]}}
    ).encode()
    read_fd, write_fd = os.pipe()
    try:
        frames.write_frame(write_fd, frames.KIND_CLAIM, claim)
        with os.fdopen(os.dup(read_fd), "rb") as reader:
            # WHEN it is claimed
            config = bootstrap.claim_spare(reader)
    finally:
        os.close(read_fd)
        os.close(write_fd)

    # THEN it runs in the function's environment and directory, with the function's config
    assert config == {"layers": ["/l"]}
    assert os.environ == {"MY_VAR": "v", "TZ": ":UTC", "LC_CTYPE": "C.UTF-8"}
    assert Path.cwd() == code


def test_json_log_record_has_aws_fields_extras_and_exception(monkeypatch) -> None:
    import logging

    logger = logging.getLogger("orders")
    try:
        raise KeyError("sku")
    except KeyError:
        record = logger.makeRecord("orders", logging.WARNING, "/var/task/app.py", 7,
                                   "stock for %s", ("SKU-1",), sys.exc_info(), func="reserve",
                                   extra={"order_id": "o-1", "aws_request_id": "rid-9"})

    result = json.loads(logs.json_log_record(record))

    assert result["level"] == "WARNING"
    assert result["message"] == "stock for SKU-1"
    assert result["logger"] == "orders"
    assert result["requestId"] == "rid-9"
    assert result["order_id"] == "o-1"
    assert result["errorType"] == "KeyError" and result["errorMessage"] == "'sku'"
    assert result["location"] == "/var/task/app.py:reserve:7"
    assert result["stackTrace"]
    assert result["timestamp"].endswith("Z") and len(result["timestamp"]) == 24
    assert "msg" not in result and "args" not in result and "exc_info" not in result


def test_error_log_is_one_json_record_in_json_format(monkeypatch) -> None:
    monkeypatch.setattr(logs, "_JSON_LOGS", True)
    error = errors.make_error("card declined", "OrderRejected", ["  File x"], "rid-1")

    record = json.loads(logs.format_error_log(error))

    assert record["level"] == "ERROR" and record["errorType"] == "OrderRejected"
    assert record["requestId"] == "rid-1" and record["stackTrace"] == ["  File x"]
