"""What users compare with AWS: stack traces under /var/task and /opt, and the runtime
environment of python3.12 and python3.13 functions against AWS's documented variables.

In the sandbox LAMBDA_TASK_ROOT is /var/task, as on AWS. In process mode (no sandbox) the code
runs from its real directory: LAMBDA_TASK_ROOT is that directory (a documented difference),
while error payloads show /var/task as AWS's do.
"""

from __future__ import annotations

import io
import os
import urllib.request
import zipfile

import pytest
from executor_helpers import invoke, lambda_sandbox, zip_files

from endpoint import without_dns

# AWS's documented runtime variables (reserved and unreserved) for Python; AWS_LAMBDA_RUNTIME_API
# is absent by design (no Runtime API in process mode: documented difference).
AWS_PYTHON_ENV = {
    "_HANDLER", "_X_AMZN_TRACE_ID", "AWS_DEFAULT_REGION", "AWS_REGION", "AWS_EXECUTION_ENV",
    "AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "AWS_LAMBDA_FUNCTION_VERSION",
    "AWS_LAMBDA_INITIALIZATION_TYPE", "AWS_LAMBDA_LOG_GROUP_NAME", "AWS_LAMBDA_LOG_STREAM_NAME",
    "AWS_ACCESS_KEY", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
    "LAMBDA_TASK_ROOT", "LAMBDA_RUNTIME_DIR", "TZ", "LANG", "PATH", "LD_LIBRARY_PATH",
    "PYTHONPATH", "SHLVL", "PWD", "AWS_XRAY_CONTEXT_MISSING", "AWS_XRAY_DAEMON_ADDRESS",
    "_AWS_XRAY_DAEMON_ADDRESS", "_AWS_XRAY_DAEMON_PORT",
}

LAYER_CODE = "def explode(message):\n    raise RuntimeError(message)\n"
HANDLER_CODE = (
    "import layered\n"
    "\n"
    "def handler(event, context):\n"
    "    layered.explode('from the layer')\n"
)


@pytest.mark.parametrize("runtime", ["python3.12", "python3.13"])
def test_environment_has_awss_documented_variables(make_function, lam, runtime):
    name = make_function(runtime=runtime)
    result = invoke(lam, name, {"action": "info"})
    assert result.function_error is None, result.raw
    env = result.payload["env"]
    assert sorted(AWS_PYTHON_ENV - set(env)) == []
    assert env["PYTHONPATH"] == env["LAMBDA_RUNTIME_DIR"]
    assert env["SHLVL"] == "0"
    assert env["AWS_ACCESS_KEY"] == env["AWS_ACCESS_KEY_ID"]
    assert env["AWS_EXECUTION_ENV"] == f"AWS_Lambda_{runtime}"
    # PYTHONPATH does not put the runtime's directory on the handler's sys.path
    sys_path = [os.path.abspath(p) for p in result.payload["sys_path"]]
    assert os.path.abspath(env["LAMBDA_RUNTIME_DIR"]) not in sys_path
    assert sys_path[0] == env["LAMBDA_TASK_ROOT"]


def test_handler_error_trace_shows_var_task(make_function, lam):
    name = make_function(Timeout=10)
    result = invoke(lam, name, {"action": "fail", "message": "no stock"})
    assert result.function_error == "Unhandled"
    trace = result.payload["stackTrace"]
    assert trace and all(frame.startswith('  File "/var/task/probe.py", line') for frame in trace)
    task_root = invoke(lam, name, {"action": "info"}).payload["env"]["LAMBDA_TASK_ROOT"]
    if lambda_sandbox() == "bwrap":
        assert task_root == "/var/task"  # the code really is there
    else:
        assert task_root != "/var/task"  # LAMBDA_TASK_ROOT stays the real directory
        assert task_root not in result.raw.decode()
    # the function's log shows the same payload
    assert '"/var/task/probe.py"' in result.log or "/var/task/probe.py" in result.log


def test_init_error_trace_shows_var_task(make_function, lam):
    name = make_function(handler="raise_at_import.handler")
    result = invoke(lam, name)
    assert result.function_error == "Unhandled"
    assert result.payload["stackTrace"][0].startswith(
        '  File "/var/task/raise_at_import.py", line 1, in <module>'
    )


def test_syntax_error_trace_shows_var_task(make_function, lam):
    code = {"ZipFile": zip_files({"bad.py": "def handler(event, context)\n    return 1\n"})}
    name = make_function(handler="bad.handler", code=code)
    result = invoke(lam, name)
    assert result.payload["errorType"] == "Runtime.UserCodeSyntaxError"
    assert result.payload["stackTrace"][0].startswith('  File "/var/task/bad.py" Line 1')


def test_layer_frames_show_opt_python(make_function, lam):
    layer = lam.publish_layer_version(
        LayerName=f"fidelity-{os.urandom(4).hex()}",
        Content={"ZipFile": zip_files({"python/layered.py": LAYER_CODE})},
        CompatibleRuntimes=["python3.13"],
    )
    try:
        name = make_function(
            handler="app.handler", code={"ZipFile": zip_files({"app.py": HANDLER_CODE})},
            Layers=[layer["LayerVersionArn"]],
        )
        result = invoke(lam, name)
        trace = result.payload["stackTrace"]
        assert trace[0].startswith('  File "/var/task/app.py", line 4, in handler'), trace
        assert trace[-1].startswith('  File "/opt/python/layered.py", line 2, in explode'), trace
    finally:
        lam.delete_layer_version(
            LayerName=layer["LayerArn"].split(":")[-1], VersionNumber=layer["Version"]
        )


PROVISIONED_FAILS_CODE = (
    "import os\n"
    "\n"
    "if os.environ['AWS_LAMBDA_INITIALIZATION_TYPE'] == 'provisioned-concurrency':\n"
    "    raise RuntimeError('provisioned init fails')\n"
    "\n"
    "def handler(event, context):\n"
    "    return {'init_type': os.environ['AWS_LAMBDA_INITIALIZATION_TYPE']}\n"
)


def test_failed_provisioned_init_falls_back_to_on_demand(make_function, lam, wait_until):
    # GIVEN a published version whose init fails only in a provisioned environment
    code = {"ZipFile": zip_files({"app.py": PROVISIONED_FAILS_CODE})}
    name = make_function(handler="app.handler", code=code, Publish=True)
    version = lam.list_versions_by_function(FunctionName=name)["Versions"][-1]["Version"]
    lam.put_provisioned_concurrency_config(
        FunctionName=name, Qualifier=version, ProvisionedConcurrentExecutions=1
    )
    wait_until(lambda: lam.get_provisioned_concurrency_config(
        FunctionName=name, Qualifier=version)["Status"] == "READY", timeout=30)
    try:
        # WHEN it is invoked THEN an on-demand environment serves it, not the init error
        result = invoke(lam, name, Qualifier=version)
        assert result.function_error is None, result.raw
        assert result.payload == {"init_type": "on-demand"}
    finally:
        lam.delete_provisioned_concurrency_config(FunctionName=name, Qualifier=version)


def test_get_function_code_location_downloads_the_deployed_zip(make_function, lam):
    name = make_function()
    for _ in range(2):  # the second URL is signed by the kept client (lambda_code_url_client)
        code = lam.get_function(FunctionName=name)["Code"]
        assert code["RepositoryType"] == "S3"
        url, headers = without_dns(code["Location"])  # localhost.localstack.cloud
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers),
                                    timeout=30) as response:
            archive = zipfile.ZipFile(io.BytesIO(response.read()))
        assert "probe.py" in archive.namelist()
