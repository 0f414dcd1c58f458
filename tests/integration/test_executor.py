"""The local-process executor behaves like AWS Lambda's Python runtime (host mode).

Context, environment, isolation, layers, exec wrapper, interpreters, reuse, concurrency,
hot reload and process cleanup, against a real LocalStack over HTTP.
"""

from __future__ import annotations

import base64
import json
import os
import re
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from executor_helpers import (
    FUNCTIONS_DIR,
    assert_runtime_exited,
    function_processes,
    invoke,
    lambda_sandbox,
    process_alive,
    zip_files,
)

from localstack_hostmode.lambda_runtime.interpreters import RuntimeNotAvailable, find_interpreter

pytestmark = pytest.mark.integration


def test_context_carries_aws_fields_and_client_context(lam, probe):
    # GIVEN a ClientContext as the SDK sends it (base64 JSON)
    client_context = {
        "custom": {"tenant": "acme"},
        "env": {"locale": "en-GB"},
        "client": {"installation_id": "inst-1", "app_title": "shop"},
    }
    encoded = base64.b64encode(json.dumps(client_context).encode()).decode()

    # WHEN the function is invoked with it
    result = invoke(lam, probe, {"action": "info"}, ClientContext=encoded)

    # THEN the handler's context has AWS's fields and the client context
    assert result.function_error is None, result.raw
    ctx = result.payload["context"]
    config = lam.get_function_configuration(FunctionName=probe)
    assert ctx["aws_request_id"] == result.request_id
    assert ctx["function_name"] == probe
    assert ctx["function_version"] == "$LATEST"
    assert ctx["invoked_function_arn"] == config["FunctionArn"]
    assert ctx["memory_limit_in_mb"] == str(config["MemorySize"])
    assert ctx["log_group_name"] == f"/aws/lambda/{probe}"
    assert ctx["log_stream_name"] == result.payload["env"]["AWS_LAMBDA_LOG_STREAM_NAME"]
    assert re.fullmatch(r"\d{4}/\d{2}/\d{2}/\[\$LATEST\][0-9a-f]{32}", ctx["log_stream_name"])
    assert 0 < ctx["remaining_ms"] <= config["Timeout"] * 1000
    assert ctx["identity"] == {"cognito_identity_id": None}
    assert ctx["client_context"] == {
        "custom": {"tenant": "acme"},
        "env": {"locale": "en-GB"},
        "client": {"installation_id": "inst-1", "app_title": "shop"},
    }

    # AND without one, context.client_context is None
    plain = invoke(lam, probe, {"action": "info"})
    assert plain.payload["context"]["client_context"] is None


def test_environment_has_aws_variables_and_nothing_internal(lam, probe, localstack):
    info = invoke(lam, probe, {"action": "info"}).payload
    env = info["env"]

    assert env["MY_SETTING"] == "from-function-config"
    assert env["AWS_EXECUTION_ENV"] == "AWS_Lambda_python3.13"
    assert env["AWS_REGION"] == env["AWS_DEFAULT_REGION"] == "us-east-1"
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == probe
    assert env["AWS_LAMBDA_FUNCTION_VERSION"] == "$LATEST"
    assert env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "128"
    assert env["_HANDLER"] == "probe.dispatch"
    assert env["TZ"] == ":UTC"
    assert env["LANG"] == "en_US.UTF-8"
    assert env["AWS_ACCESS_KEY_ID"] and env["AWS_SECRET_ACCESS_KEY"] and env["AWS_SESSION_TOKEN"]
    if lambda_sandbox() == "bwrap":
        assert env["LAMBDA_RUNTIME_DIR"] == "/var/runtime"
    else:
        assert Path(env["LAMBDA_RUNTIME_DIR"]).is_dir()
    assert os.path.dirname(info["executable"]) == env["PATH"].split(os.pathsep)[0]
    # the code directory is the task root and the working directory: /var/task in the
    # sandbox, the real directory in process mode
    assert env["LAMBDA_TASK_ROOT"] == info["cwd"] == os.path.dirname(info["file"])
    assert (env["LAMBDA_TASK_ROOT"] == "/var/task") == (lambda_sandbox() == "bwrap")
    # the SDK reaches LocalStack by itself
    endpoint = env["AWS_ENDPOINT_URL"]
    assert endpoint.startswith("http://127.0.0.1:") and endpoint.endswith(
        ":" + localstack.rsplit(":", 1)[1]
    )
    # nothing of the executor or of LocalStack's Docker init leaks into the handler
    leaked = [k for k in env if k.startswith(("LOCALSTACK_", "HOSTMODE_")) or k in ("EDGE_PORT",)]
    assert leaked == []
    # PYTHONPATH is the runtime's directory (AWS: /var/runtime), never the caller's
    assert env["PYTHONPATH"] == env["LAMBDA_RUNTIME_DIR"] and "VIRTUAL_ENV" not in env
    assert env["_X_AMZN_TRACE_ID"].startswith("Root=1-")


def test_handler_reaches_localstack_with_runtime_boto3(make_function, lam):
    name = make_function(handler="probe.sdk_call")
    result = invoke(lam, name)
    assert result.function_error is None, result.raw
    account = lam.get_function_configuration(FunctionName=name)["FunctionArn"].split(":")[4]
    assert result.payload["account"] == account
    assert "lambda-runtime" in result.payload["boto3"]


def test_isolation_from_localstack_and_the_kit(lam, probe):
    info = invoke(lam, probe, {"action": "info"}).payload
    importable = info["importable"]
    # neither LocalStack's site-packages nor the kit's dev venv are visible
    assert importable["localstack"] is None
    assert importable["pytest"] is None
    assert importable["moto"] is None
    assert importable["localstack_hostmode"] is None
    # boto3 comes from the runtime-bundled library, which is last on sys.path
    runtime_lib = info["sys_path"][-1]
    assert importable["boto3"].startswith(runtime_lib + os.sep)
    assert info["sys_path"][0] == info["env"]["LAMBDA_TASK_ROOT"]
    assert not any("site-packages" in p for p in info["sys_path"]), info["sys_path"]
    assert info["root_handlers"] == 1  # the runtime's log handler, so basicConfig() is a no-op


def test_layers_are_importable_like_opt_python(make_function, lam):
    # GIVEN a layer with a module in python/ and a package in python/lib/pythonX.Y/site-packages
    layer_zip = zip_files(
        {
            "python/layerlib.py": "WHO = 'layerlib from layer'\n",
            "python/lib/python3.13/site-packages/layerpkg/__init__.py": "WHO = 'layerpkg'\n",
        }
    )
    layer = lam.publish_layer_version(
        LayerName=f"exec-layer-{os.urandom(4).hex()}",
        Content={"ZipFile": layer_zip},
        CompatibleRuntimes=["python3.13"],
    )
    try:
        name = make_function(handler="probe.use_layers", Layers=[layer["LayerVersionArn"]])

        result = invoke(lam, name)

        assert result.function_error is None, result.raw
        assert result.payload["layerlib"] == "layerlib from layer"
        assert result.payload["layerpkg"] == "layerpkg"
        layer_paths = [p for p in result.payload["sys_path"][1:3]]
        assert layer_paths[0].endswith(os.path.join("python", "lib", "python3.13", "site-packages"))
        assert layer_paths[1].endswith(os.sep + "python")
    finally:
        lam.delete_layer_version(
            LayerName=layer["LayerArn"].split(":")[-1], VersionNumber=layer["Version"]
        )


def test_pythonpath_from_the_function_environment_is_honoured(make_function, lam):
    # PYTHON* variables take effect at interpreter start: such functions never use a spare
    name = make_function(
        handler="probe.use_pythonpath", Environment={"Variables": {"PYTHONPATH": "pythonpath_dir"}}
    )

    result = invoke(lam, name)

    assert result.function_error is None, result.raw
    assert result.payload["ppmod"] == "ppmod via PYTHONPATH"


def test_exec_wrapper_runs_the_runtime_command(make_function, lam):
    name = make_function(
        Environment={"Variables": {"AWS_LAMBDA_EXEC_WRAPPER": "/var/task/wrapper.sh"}}
    )

    info = invoke(lam, name, {"action": "info"}).payload

    assert info["env"]["WRAPPED_BY"] == "wrapper.sh"
    args = info["env"]["WRAPPER_ARGS"].split()
    assert os.path.basename(args[0]) == "python3.13"
    assert any(a.endswith(os.path.join("runtime", "entrypoint.py")) for a in args)
    assert info["env"]["AWS_LAMBDA_EXEC_WRAPPER"] == "/var/task/wrapper.sh"


def test_missing_exec_wrapper_is_exit_error_127(make_function, lam):
    name = make_function(Environment={"Variables": {"AWS_LAMBDA_EXEC_WRAPPER": "/opt/nope.sh"}})

    result = invoke(lam, name)

    assert_runtime_exited(result, "Runtime exited with error: exit status 127")
    assert "/opt/nope.sh: does not exist" in result.log


@pytest.mark.parametrize("runtime", ["python3.12", "python3.13"])
def test_each_runtime_runs_its_own_interpreter(make_function, lam, runtime):
    name = make_function(runtime=runtime)
    info = invoke(lam, name, {"action": "info"}).payload
    assert info.get("version") == runtime.removeprefix("python"), info
    assert info["env"]["AWS_EXECUTION_ENV"] == f"AWS_Lambda_{runtime}"
    assert os.path.basename(info["executable"]) == runtime


def _runtime_without_interpreter() -> str:
    for runtime in ("python3.14", "python3.11", "python3.10", "python3.9"):
        try:
            find_interpreter(runtime)
        except RuntimeNotAvailable:
            return runtime
    pytest.skip("every Python runtime LocalStack accepts has an interpreter on this machine")


def settled_configuration(lam, name, wait_until):
    """The function's configuration once its State has left Pending."""
    return wait_until(
        lambda: (
            (c := lam.get_function_configuration(FunctionName=name))["State"] != "Pending" and c
        ),
        timeout=30,
        message="function state to settle",
    )


def test_missing_interpreter_fails_the_function_with_a_reason(make_function, lam, wait_until):
    runtime = _runtime_without_interpreter()
    name = make_function(runtime=runtime, wait=False)

    config = settled_configuration(lam, name, wait_until)

    assert config["State"] == "Failed"
    assert f"no {runtime} interpreter found" in config["StateReason"]
    with pytest.raises(lam.exceptions.ResourceConflictException):
        lam.invoke(FunctionName=name, Payload=b"{}")


def test_non_python_runtime_fails_the_function_with_a_reason(make_function, lam, wait_until):
    name = make_function(
        runtime="nodejs20.x",
        handler="index.handler",
        code={"ZipFile": zip_files({"index.js": "exports.handler = async () => 1;"})},
        wait=False,
    )

    config = settled_configuration(lam, name, wait_until)

    assert config["State"] == "Failed"
    assert "only Python runtimes" in config["StateReason"]


def test_warm_environment_is_reused(make_function, lam):
    name = make_function()

    results = [invoke(lam, name, {"action": "info"}).payload for _ in range(3)]

    assert [r["counter"] for r in results] == [1, 2, 3]
    assert len({r["process"] for r in results}) == 1


def test_concurrent_invocations_run_in_parallel_processes(make_function, lam):
    name = make_function(Timeout=30)
    n, seconds = 4, 1.5

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=n) as pool:
        results = list(
            pool.map(lambda _: invoke(lam, name, {"action": "sleep", "seconds": seconds}), range(n))
        )
    wall = time.monotonic() - started

    assert all(r.function_error is None for r in results), [r.raw for r in results]
    payloads = [r.payload for r in results]
    assert len({p["process"] for p in payloads}) == n
    # every sleep overlaps every other one
    assert max(p["started"] for p in payloads) < min(p["ended"] for p in payloads)
    assert wall < n * seconds * 0.6, wall


def test_hot_reload_picks_up_saved_changes(make_function, lam, tmp_path):
    # GIVEN hot-reload code deployed from a local folder
    module = tmp_path / "value.py"
    module.write_text((FUNCTIONS_DIR / "value.py").read_text())
    name = make_function(
        handler="value.handler", code={"S3Bucket": "hot-reload", "S3Key": str(tmp_path)}
    )
    assert invoke(lam, name).payload == "v1"

    # WHEN the file is saved with a same-size change (same second, same size: no stale .pyc)
    module.write_text(module.read_text().replace('"v1"', '"v2"'))

    # THEN the very next invocation runs the new code
    assert invoke(lam, name).payload == "v2"

    # AND a new module added to the folder is importable at once
    (tmp_path / "helper.py").write_text("WORD = 'from helper'\n")
    module.write_text("import helper\n\n\ndef handler(event, context):\n    return helper.WORD\n")
    assert invoke(lam, name).payload == "from helper"
    # AND without a change the warm process is kept (init output only once)
    assert "Init Duration" not in invoke(lam, name).log


def test_stopping_the_environment_kills_the_process_group(make_function, lam, wait_until):
    # GIVEN a handler that left a background process running
    name = make_function(handler="probe.spawn_grandchild")
    pids = invoke(lam, name).payload
    # sandboxed, the pids the handler sees are its namespace's: found by their environment
    watched = (function_processes(name) if lambda_sandbox() == "bwrap"
               else [pids["pid"], pids["grandchild"]])
    assert len(watched) >= 2 and all(process_alive(pid) for pid in watched)

    # WHEN LocalStack stops the function's environments
    lam.delete_function(FunctionName=name)

    # THEN the runtime process and what it spawned are gone
    wait_until(
        lambda: not any(process_alive(pid) for pid in watched),
        timeout=15,
        message="runtime process group to exit",
    )


def test_decimal_results_are_numbers_like_aws(lam, probe):
    result = invoke(lam, probe, {"action": "decimal"})
    assert result.function_error is None
    assert result.payload == {"int": 3, "float": 1.5}
