"""The executor under load (host mode): a burst waits for a bounded number of environments, and
cold starts claim spares that preloaded the SDK, only where that changes nothing the handler sees.

The bound and the preload are LocalStack's settings (HOSTMODE_LAMBDA_MAX_ENVIRONMENTS,
HOSTMODE_LAMBDA_PRELOAD); the tests read the same variables from their own environment, which
`make up` and pytest share.
"""

from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from executor_helpers import FUNCTIONS_DIR, invoke, zip_files

from localstack_hostmode.lambda_runtime.admission import limit_from_env, stall_from_env
from localstack_hostmode.lambda_runtime.spares import preload_from_env

pytestmark = pytest.mark.integration

LIMIT_S = 90.0


def _probe_zip(**extra: str) -> bytes:
    return zip_files({"probe.py": (FUNCTIONS_DIR / "probe.py").read_text(), **extra})


def test_burst_beyond_the_bound_waits_for_free_environments(probe, make_function, lam):
    limit = limit_from_env()
    if limit == 0:
        pytest.skip("HOSTMODE_LAMBDA_MAX_ENVIRONMENTS=0: one environment per invocation")
    name = make_function(Timeout=60)
    n = 3 * limit

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=n) as pool:
        results = list(
            pool.map(lambda _: invoke(lam, name, {"action": "sleep", "seconds": 0.3}), range(n))
        )
    wall = time.monotonic() - started

    # every invocation is served (none throttled, none failed) ...
    assert all(r.function_error is None for r in results), [r.raw for r in results]
    pids = {r.payload["pid"] for r in results}
    # ... by at most `limit` environments, plus one per stall (no release for stall_s)
    assert len(pids) <= limit + int(wall / max(stall_from_env(), 0.001)) + 1, (len(pids), wall)
    assert len(pids) < n


def _await_preloaded(lam, name: str) -> dict:
    """Each configuration change makes LocalStack start a new environment: until one of them
    claimed a preloaded spare (the pool refills in the background)."""
    deadline = time.monotonic() + LIMIT_S
    attempt = 0
    while True:
        info = invoke(lam, name, {"action": "info"}).payload
        if info["preloaded"] or time.monotonic() > deadline:
            return info
        attempt += 1
        lam.update_function_configuration(
            FunctionName=name, Environment={"Variables": {"ATTEMPT": str(attempt)}}
        )
        lam.get_waiter("function_updated_v2").wait(
            FunctionName=name, WaiterConfig={"Delay": 0.2, "MaxAttempts": 300}
        )
        time.sleep(0.5)  # let the pool refill: the test is about what a claimed spare holds


def test_cold_start_claims_a_spare_with_the_sdk_preloaded(probe, make_function, lam):
    if "boto3" not in preload_from_env():
        pytest.skip("HOSTMODE_LAMBDA_PRELOAD does not include boto3")
    name = make_function(code={"ZipFile": _probe_zip()})

    info = _await_preloaded(lam, name)

    assert info["preloaded"] == ["boto3"]  # the runtime SDK has no pydantic
    # what the handler sees is what a fresh process has: its own environment, path, directory
    assert info["env"]["AWS_LAMBDA_FUNCTION_NAME"] == name
    assert info["cwd"] == os.path.dirname(info["file"])
    assert info["sys_path"][0] == info["cwd"]
    assert info["importable"]["boto3"].endswith(os.path.join("boto3", "__init__.py"))


@pytest.mark.parametrize(
    "why, env, extra_files",
    [
        ("HOME read by botocore at import", {"HOME": "/tmp"}, {}),
        ("its own urllib3, which botocore imports", {}, {"urllib3/__init__.py": ""}),
    ],
)
def test_no_preloaded_spare_where_the_import_would_differ(
    probe, make_function, lam, why, env, extra_files
):
    name = make_function(
        code={"ZipFile": _probe_zip(**extra_files)}, Environment={"Variables": env}
    )
    for _ in range(3):  # each a new environment, with a spare waiting by now
        info = invoke(lam, name, {"action": "info"}).payload
        assert info["preloaded"] == [], why
        lam.update_function_configuration(
            FunctionName=name, Environment={"Variables": {**env, "N": str(info["counter"])}}
        )
        lam.get_waiter("function_updated_v2").wait(
            FunctionName=name, WaiterConfig={"Delay": 0.2, "MaxAttempts": 300}
        )
